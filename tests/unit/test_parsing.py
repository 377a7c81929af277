"""`/dispute` text: good commands, bad ones, odd whitespace, unicode and very long text."""

from __future__ import annotations

import pytest

from disputes.reasons import Reason, reason_from_word, split_reason
from handlers.parsing import (
    MAX_CLAIM_CHARS,
    CommandError,
    HelpCommand,
    OpenCommand,
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
        ("open ORD\u200b1", "is not an order id"),
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
        ("crushed", None),
        ("", None),
    ],
)
def test_reason_words(word: str, reason: Reason | None) -> None:
    assert reason_from_word(word) == reason


def test_split_reason_prefers_the_longest_reason() -> None:
    assert split_reason("size too large by a mile") == (Reason.SIZE_TOO_LARGE, "by a mile")
