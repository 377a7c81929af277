"""`/dispute` text: good commands, bad ones, odd whitespace, unicode and very long text."""

from __future__ import annotations

import pytest

from domain.reasons import ALIASES, MAX_REASON_WORDS, Reason, reason_from_word, split_reason
from handlers.parsing import (
    MAX_CLAIM_CHARS,
    CommandError,
    HelpCommand,
    InsightsCommand,
    OpenCommand,
    PolicyCommand,
    QueueCommand,
    ShowCommand,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "open ORD-1001 damaged the box was crushed",
            OpenCommand("ORD-1001", Reason.DAMAGED, "the box was crushed"),
        ),
        ("open ORD-1001", OpenCommand("ORD-1001", None, "")),
        ("OPEN ord-77 WRONG_ITEM", OpenCommand("ord-77", Reason.WRONG_ITEM, "")),
        (
            "open ORD-1 wrong-item blue not red",
            OpenCommand("ORD-1", Reason.WRONG_ITEM, "blue not red"),
        ),
        ("open ORD-1 wrong item blue", OpenCommand("ORD-1", Reason.WRONG_ITEM, "blue")),
        (
            "open ORD-1 Not As Described at all",
            OpenCommand("ORD-1", Reason.NOT_AS_DESCRIBED, "at all"),
        ),
        ("open ORD-1 broken glass", OpenCommand("ORD-1", Reason.DAMAGED, "glass")),
        ("open ORD-1 size_too_small", OpenCommand("ORD-1", Reason.SIZE_TOO_SMALL, "")),
        ("open ORD-1 it never arrived", OpenCommand("ORD-1", None, "it never arrived")),
        (
            "open ORD-1017 refund not received it has been three weeks",
            OpenCommand("ORD-1017", Reason.REFUND_NOT_RECEIVED, "it has been three weeks"),
        ),
        (
            "open ORD-1017 Refund-Never-Arrived paypal shows nothing",
            OpenCommand("ORD-1017", Reason.REFUND_NOT_RECEIVED, "paypal shows nothing"),
        ),
        (
            "open ORD-1 never delivered, tracking stopped",
            OpenCommand("ORD-1", None, "never delivered, tracking stopped"),
        ),
        ("open ORD-1 not what I ordered", OpenCommand("ORD-1", None, "not what I ordered")),
        ("open ORD-1 no box inside", OpenCommand("ORD-1", None, "no box inside")),
        ("open ORD-1 wrongitem x", OpenCommand("ORD-1", None, "wrongitem x")),
        (
            "  open\tORD-1001 \u00a0 defective   stops after a day ",
            OpenCommand("ORD-1001", Reason.DEFECTIVE, "stops after a day"),
        ),
        ("open #1001 unwanted", OpenCommand("#1001", Reason.UNWANTED, "")),
        ("open ＯＲＤ－１００１ damaged", OpenCommand("ORD-1001", Reason.DAMAGED, "")),
        (
            "open ORD-1 damaged café ☕ crushed 箱",
            OpenCommand("ORD-1", Reason.DAMAGED, "café ☕ crushed 箱"),
        ),
        (
            "open ORD-1 damaged 5 &lt; 6 &amp; more",
            OpenCommand("ORD-1", Reason.DAMAGED, "5 < 6 & more"),
        ),
        (
            "policy refund not received",
            PolicyCommand("refund not received", Reason.REFUND_NOT_RECEIVED),
        ),
        ("policy no refund", PolicyCommand("no refund", Reason.REFUND_NOT_RECEIVED)),
        ("show D-12", ShowCommand(12)),
        ("show d-3", ShowCommand(3)),
        ("show D3", ShowCommand(3)),
        ("show 3", ShowCommand(3)),
        ("Show  D-4  ", ShowCommand(4)),
        ("help", HelpCommand()),
        ("", HelpCommand()),
        ("   ", HelpCommand()),
    ],
)
def test_good_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate ORD-1", "is not a `/dispute` command"),
        ("opne ORD-1", "is not a `/dispute` command"),
        ("open", "Which order?"),
        ("open    ", "Which order?"),
        ("open <ORD-1>", "is not an order id"),
        ("open ORD-1;DROP", "is not an order id"),
        ("open -ORD", "is not an order id"),
        ("open " + "A" * 65, "is not an order id"),
        ("open ORD\u20101", "is not an order id"),  # a hyphen that is not an ASCII one
        ("show", "Which dispute?"),
        ("show D-", "is not a dispute number"),
        ("show D-0", "is not a dispute number"),
        ("show ORD-1001", "is not a dispute number"),
        ("show D-1 D-2", "is not a dispute number"),
        ("show D-99999999999", "is not a dispute number"),
    ],
)
def test_bad_commands_say_what_was_wrong_and_how_to_write_it(text: str, says: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(text)
    message = str(refused.value)
    assert says in message
    assert "/dispute" in message


@pytest.mark.parametrize(
    ("text", "view"),
    [
        ("queue", "mine"),
        ("queue   ", "mine"),
        ("queue mine", "mine"),
        ("QUEUE Unassigned", "unassigned"),
        ("queue stuck", "stuck"),
        ("queue ｔｅａｍ", "team"),
    ],
)
def test_queue_commands(text: str, view: str) -> None:
    assert parse_command(text) == QueueCommand(view)


@pytest.mark.parametrize("text", ["queue all", "queue mine please", "queue `x`"])
def test_a_queue_that_does_not_exist_lists_the_ones_that_do(text: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(text)
    message = str(refused.value)
    assert "is not a queue" in message
    assert "`mine`, `unassigned`, `stuck`, `team`" in message
    assert "/dispute queue [mine|unassigned|stuck|team]" in message


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("insights", "30d"),
        ("insights   ", "30d"),
        ("insights 7d", "7d"),
        ("INSIGHTS 90D", "90d"),
        ("insights ３０ｄ", "30d"),
    ],
)
def test_insights_commands(text: str, period: str) -> None:
    assert parse_command(text) == InsightsCommand(period)


@pytest.mark.parametrize(
    "text", ["insights 14d", "insights week", "insights 7d 30d", "insights 2026-01-01..2026-01-31"]
)
def test_a_period_insights_cannot_show_says_which_it_can(text: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(text)
    message = str(refused.value)
    assert "is not a period" in message
    assert "`7d`, `30d`, `90d`" in message
    assert "`30d` when left out" in message
    assert "/dispute insights [7d|30d|90d]" in message


def test_very_long_claim_is_refused_with_the_limit() -> None:
    with pytest.raises(CommandError) as refused:
        parse_command("open ORD-1 damaged " + "x" * (MAX_CLAIM_CHARS + 1))
    assert str(MAX_CLAIM_CHARS) in str(refused.value)


def test_claim_at_the_limit_is_kept_whole() -> None:
    parsed = parse_command("open ORD-1 damaged " + "y" * MAX_CLAIM_CHARS)
    assert isinstance(parsed, OpenCommand)
    assert len(parsed.claim) == MAX_CLAIM_CHARS


def test_error_quotes_are_clipped_and_cannot_break_code_spans() -> None:
    with pytest.raises(CommandError) as refused:
        parse_command("zz`" + "q" * 500)
    message = str(refused.value)
    assert "`zz'" in message
    assert len(message) < 400


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("damaged", Reason.DAMAGED),
        ("WRONG_ITEM", Reason.WRONG_ITEM),
        ("wrong-item", Reason.WRONG_ITEM),
        ("wrong item", Reason.WRONG_ITEM),
        ("Not-As_Described", Reason.NOT_AS_DESCRIBED),
        ("broken", Reason.DAMAGED),
        ("other", Reason.OTHER),
        ("refund-not-received", Reason.REFUND_NOT_RECEIVED),
        ("REFUND_NOT_RECEIVED", Reason.REFUND_NOT_RECEIVED),
        ("refund missing", Reason.REFUND_NOT_RECEIVED),
        ("Missing-Refund", Reason.REFUND_NOT_RECEIVED),
        ("no_refund", Reason.REFUND_NOT_RECEIVED),
        ("NOT REFUNDED", Reason.REFUND_NOT_RECEIVED),
        ("never refunded", Reason.REFUND_NOT_RECEIVED),
        ("refund never arrived", Reason.REFUND_NOT_RECEIVED),
        ("refund not arrived", Reason.REFUND_NOT_RECEIVED),
        ("refund never received", Reason.REFUND_NOT_RECEIVED),
        ("too big", Reason.SIZE_TOO_LARGE),
        ("not wanted", Reason.UNWANTED),
        ("crushed", None),
        ("", None),
        ("no", None),
        ("not", None),
        ("never", None),
        ("refund", None),
        ("missing", None),
        ("refunded", None),
        ("never delivered", None),
        ("never arrived", None),
        ("not received", None),
    ],
)
def test_reason_words(word: str, reason: Reason | None) -> None:
    assert reason_from_word(word) == reason


def test_split_reason_prefers_the_longest_reason() -> None:
    assert split_reason("size too large by a mile") == (Reason.SIZE_TOO_LARGE, "by a mile")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "refund not received it has been three weeks",
            (Reason.REFUND_NOT_RECEIVED, "it has been three weeks"),
        ),
        ("no refund yet", (Reason.REFUND_NOT_RECEIVED, "yet")),
        ("refund   missing  since Nov 3", (Reason.REFUND_NOT_RECEIVED, "since Nov 3")),
        ("not refunded", (Reason.REFUND_NOT_RECEIVED, "")),
        ("not as described at all", (Reason.NOT_AS_DESCRIBED, "at all")),
        ("not wanted any more", (Reason.UNWANTED, "any more")),
        ("never delivered, tracking stopped", (None, "never delivered, tracking stopped")),
        ("never delivered", (None, "never delivered")),
        ("not received", (None, "not received")),
        ("no it broke", (None, "no it broke")),
        ("not the colour shown", (None, "not the colour shown")),
    ],
)
def test_split_reason_refund_words_and_ordinary_words(
    text: str, expected: tuple[Reason | None, str]
) -> None:
    assert split_reason(text) == expected


def test_every_alias_is_found_at_the_start_of_a_claim() -> None:
    for word in ALIASES:
        assert len(word.split("_")) <= MAX_REASON_WORDS, word
        assert split_reason(word.replace("_", " ") + " and more") == (ALIASES[word], "and more")


def test_refund_not_received_has_a_label() -> None:
    assert Reason.REFUND_NOT_RECEIVED.label == "Refund not received"


def test_invisible_and_control_characters_never_reach_an_order_id_or_a_claim() -> None:
    parsed = parse_command("open ORD\u200b-1\u202e damaged bo\x00x crushed")
    assert isinstance(parsed, OpenCommand)
    assert (parsed.order_id, parsed.claim) == ("ORD-1", "box crushed")
