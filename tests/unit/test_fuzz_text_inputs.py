"""Fuzzing what people and relays send as text: a customer reply's body (raw bytes and JSON)
and the text of `/dispute`. Each either gives a clean result or one clear error, never any
other exception. DISPUTE_DESK_FUZZ_EXAMPLES sets the number of examples (200 by default)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.inbound import parse_json
from disputes.customer import MAX_BODY, CustomerReply, InvalidReply, check_reply
from domain.text import clean_text
from handlers.parsing import (
    MAX_CLAIM_CHARS,
    MAX_QUERY_CHARS,
    ORDER_ID,
    CommandError,
    HelpCommand,
    OpenCommand,
    PolicyCommand,
    ShowCommand,
    parse_command,
)
from tests.support.fuzz import FUZZ

tricky = st.sampled_from(
    ["\x00", "\r\n", "\u202e", "\u200b", "\u2066", "\ufeff", "\x1b[31m", "&lt;", "&amp;", "@"]
)
texts = st.lists(st.text(max_size=12) | tricky, max_size=8).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "dispute": st.sampled_from(["D-1", "d7", " D-12 ", "D-0", "D-١٢"]) | json_values,
        "from": st.sampled_from(["maya@example.com", "a@b.c\u202e"]) | json_values,
        "body": texts | json_values,
    },
)


def assert_clean(reply: CustomerReply) -> None:
    for value in (reply.dispute, reply.sender, reply.body):
        assert value == clean_text(value).strip()
    assert reply.body and len(reply.body) <= MAX_BODY


@FUZZ
@given(st.one_of(fields, json_values))
def test_a_reply_object_is_clean_or_refused_naming_a_field(raw: object) -> None:
    try:
        reply = check_reply(raw)
    except InvalidReply as exc:
        assert str(exc).startswith(("dispute:", "from:", "body:", "expected a JSON object"))
        return
    assert_clean(reply)


@FUZZ
@given(st.binary(max_size=200) | fields.map(lambda f: json.dumps(f).encode()))
def test_a_reply_body_in_any_bytes_is_clean_or_refused(body: bytes) -> None:
    try:
        reply = check_reply(parse_json(body))
    except InvalidReply:
        return
    assert_clean(reply)


commands = st.tuples(
    st.sampled_from(["", "open", "OPEN", "show", "policy", "help", "ｏｐｅｎ", "nope"]),
    st.sampled_from(["", " ", "\t", "\u3000", "\n"]),
    texts | st.sampled_from(["ORD-1001 damaged", "D-1", "#A.B:C/1", "D-00", "x" * 2100]),
).map("".join)


@FUZZ
@given(commands | texts)
def test_command_text_parses_or_says_what_is_wrong(text: str) -> None:
    try:
        parsed = parse_command(text)
    except CommandError as exc:
        assert str(exc)
        return
    assert isinstance(parsed, HelpCommand | OpenCommand | ShowCommand | PolicyCommand)
    if isinstance(parsed, OpenCommand):
        assert ORDER_ID.fullmatch(parsed.order_id)
        assert len(parsed.claim) <= MAX_CLAIM_CHARS
    if isinstance(parsed, ShowCommand):
        assert parsed.number >= 1
    if isinstance(parsed, PolicyCommand):
        assert 0 < len(parsed.words) <= MAX_QUERY_CHARS
