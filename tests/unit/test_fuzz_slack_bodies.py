"""Fuzzing the check of signed Slack bodies: any body is either refused with one 400 naming
what is wrong, or it is one that Bolt can read and route to the app's listeners without an
exception. DISPUTE_DESK_FUZZ_EXAMPLES sets the number of examples (200 by default)."""

from __future__ import annotations

import json
import logging
from typing import Any
from unittest.mock import MagicMock
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_utils import build_async_required_kwargs
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from starlette.datastructures import Headers

from bot.app import build_bolt_app
from bot.dedupe import RecentKeys, request_key
from bot.http import Refused, SlackShape, slack_body
from tests.support.fuzz import FUZZ

API = "http://127.0.0.1:4390/api/"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = ["application/json", FORM, "text/plain", "application/json; charset=utf-8", ""]
KEYS = [
    "type", "event", "user", "team", "channel", "enterprise", "actions", "view", "state",
    "values", "response_url", "response_urls", "command", "user_id", "trigger_id",
    "authorizations", "message", "previous_message", "container", "private_metadata",
    "callback_id", "action_id", "block_id", "value", "files", "is_enterprise_install",
    "is_ext_shared_channel", "event_id", "text", "thread_ts", "item", "function_data",
    "workflow_step", "id", "subtype", "channel_type", "selected_option", "challenge",
    "team_id", "enterprise_id", "payload", "ssl_check", "user_team", "bot_access_token",
]  # fmt: skip
TYPES = [
    "event_callback", "block_actions", "view_submission", "view_closed", "url_verification",
    "shortcut", "message_action", "interactive_message", "block_suggestion", "message",
    "workflow_step_edit", "dialog_submission", "app_home_opened", "modal", "workflow_step",
    "function_executed", "review.start", "evidence.modal", "review.propose", "/dispute",
]  # fmt: skip
ARGS = ["body", "payload", "event", "message", "command", "action", "view", "options"]
ARGS += ["shortcut", "step", "respond", "say", "ack", "context", "client", "logger"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(TYPES),
    st.sampled_from(["https://hooks.slack.com/x", API + "../r", '{"dispute":1}', "U1", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


def command() -> dict[str, Any]:
    return {
        "command": "/dispute",
        "text": "show D-1",
        "user_id": "U1",
        "channel_id": "C1",
        "response_url": "https://hooks.slack.com/commands/x",
        "trigger_id": "1.2",
    }


def block_actions() -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "trigger_id": "1.2",
        "channel": {"id": "C1"},
        "message": {"type": "message", "ts": "1.1", "text": "x"},
        "container": {"type": "message", "channel_id": "C1"},
        "response_url": "https://hooks.slack.com/actions/x",
        "actions": [{"action_id": "review.start", "type": "button", "value": '{"dispute":1}'}],
    }


def view_submission() -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": "U1"},
        "trigger_id": "1.2",
        "response_urls": [],
        "view": {
            "type": "modal",
            "callback_id": "review.propose",
            "private_metadata": '{"dispute":1}',
            "state": {"values": {"kind": {"kind": {"selected_option": {"value": "REFUND"}}}}},
        },
    }


def event() -> dict[str, Any]:
    return {
        "type": "event_callback",
        "event_id": "Ev1",
        "authorizations": [{"team_id": "T1", "is_enterprise_install": False}],
        "is_ext_shared_channel": True,
        "event": {
            "type": "message",
            "channel": "C1",
            "user": "U1",
            "thread_ts": "1.1",
            "files": [{"id": "F1"}],
            "message": {"user": "U1"},
        },
    }


BASES = [command, block_actions, view_submission, event]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body of each kind with a few of its fields, at any depth, replaced or removed."""
    body = draw(st.sampled_from(BASES))()
    for _ in range(draw(st.integers(1, 3))):
        target = body
        while True:
            keys = [k for k, v in target.items() if isinstance(v, dict | list)]
            if not keys or draw(st.booleans()):
                break
            inner = target[draw(st.sampled_from(keys))]
            if isinstance(inner, list):
                if not inner or not isinstance(inner[0], dict):
                    break
                inner = inner[0]
            target = inner
        key = draw(st.sampled_from(sorted(target) + KEYS))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(values)
    return body


def encodings(body: dict[str, Any]) -> list[tuple[bytes, str]]:
    """The ways Slack could put `body` on the wire, and some it never would."""
    payload = json.dumps(body)
    flat = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return [
        (payload.encode(), "application/json"),
        (urlencode({"payload": payload}).encode(), FORM),
        (urlencode(flat).encode(), FORM),
    ]


APP: AsyncApp = build_bolt_app(
    client=AsyncWebClient(token="xoxb-fuzz", base_url=API),
    signing_secret="fuzz",
    deps=MagicMock(),
    recent=RecentKeys(),
)


async def admitted_or_400(body: bytes, content_type: str) -> None:
    """The check refuses `body` with 400, or Bolt reads and routes it without an error."""
    headers = Headers({"content-type": content_type} if content_type else {})
    try:
        raw, _ = slack_body(body, headers)
        SlackShape(API).check(_)
    except Refused as refused:
        assert refused.status == 400 and refused.reason
        return
    request = AsyncBoltRequest(body=raw, headers=dict(headers))
    response = BoltResponse(status=200)
    request_key(request)
    for listener in APP._async_listeners:
        await listener.async_matches(req=request, resp=response)
    build_async_required_kwargs(
        logger=logging.getLogger("fuzz"),
        required_arg_names=ARGS,
        request=request,
        response=response,
        next_keys_required=False,
    )


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(CONTENT_TYPES))
async def test_any_bytes(body: bytes, content_type: str) -> None:
    await admitted_or_400(body, content_type)


@FUZZ
@given(objects)
async def test_any_object_in_any_encoding(body: dict[str, Any]) -> None:
    for raw, content_type in encodings(body):
        await admitted_or_400(raw, content_type)


skeletons = st.one_of(
    st.builds(
        lambda kind, extra: {"type": kind, "user": {"id": "U1"}, "trigger_id": "1.2", **extra},
        st.sampled_from(TYPES),
        objects,
    ),
    st.builds(
        lambda kind, extra, inner: {
            "type": "event_callback",
            "event_id": "Ev1",
            **extra,
            "event": {"type": kind, **inner},
        },
        st.sampled_from(TYPES),
        objects,
        objects,
    ),
)


@FUZZ
@given(skeletons)
async def test_each_kind_of_request_with_any_fields(body: dict[str, Any]) -> None:
    for raw, content_type in encodings(body):
        await admitted_or_400(raw, content_type)


@FUZZ
@given(mutated())
async def test_what_slack_sends_with_fields_replaced_or_removed(body: dict[str, Any]) -> None:
    for raw, content_type in encodings(body):
        await admitted_or_400(raw, content_type)


def test_the_bases_are_admitted() -> None:
    for base in BASES:
        raw, content_type = encodings(base())[0 if base is event else 1]
        if base is command:
            raw, content_type = urlencode(base()).encode(), FORM
        _, parsed = slack_body(raw, Headers({"content-type": content_type}))
        SlackShape(API).check(parsed)
