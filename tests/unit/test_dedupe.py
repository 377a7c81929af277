"""Request keys and the in-memory first line of duplicate detection."""

from __future__ import annotations

import json

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.dedupe import RecentKeys, request_key


def bolt_request(body: str, **headers: str) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})


def test_events_are_keyed_by_event_id_whatever_the_signature() -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "x"}})
    first = request_key(bolt_request(body, **{"x-slack-signature": "v0=a"}))
    retry = request_key(bolt_request(body, **{"x-slack-signature": "v0=b"}))
    assert first == retry and first.key == "event:Ev1" and first.kind == "event"


def test_commands_and_interactions_are_keyed_by_signature() -> None:
    command = request_key(
        bolt_request("command=%2Fdispute&text=help", **{"x-slack-signature": "v0=c"})
    )
    assert (command.key, command.kind) == ("sig:v0=c", "command")
    payload = "payload=" + json.dumps({"type": "block_actions"})
    action = request_key(bolt_request(payload, **{"x-slack-signature": "v0=d"}))
    assert action.kind == "block_actions"


def test_socket_mode_requests_are_keyed_by_their_payload() -> None:
    # Bolt builds Socket Mode requests from the envelope's payload: no raw body, no signature.
    def socket_request(payload: dict[str, object]) -> AsyncBoltRequest:
        return AsyncBoltRequest(body=payload, mode="socket_mode")

    command = {"command": "/dispute", "text": "help", "trigger_id": "1"}
    one = request_key(socket_request(command))
    resent = request_key(socket_request(dict(reversed(command.items()))))
    two = request_key(socket_request({**command, "trigger_id": "2"}))
    action = request_key(socket_request({"type": "block_actions", "trigger_id": "3"}))
    assert one.key.startswith("body:") and one.kind == "command"
    assert one == resent  # Slack's retry of the same envelope
    assert len({one.key, two.key, action.key}) == 3
    assert action.kind == "block_actions"


def test_recent_keys_forget_after_ttl_and_stay_bounded() -> None:
    recent = RecentKeys(ttl=10, capacity=3)
    assert recent.first_time("a", now=0)
    assert not recent.first_time("a", now=5)
    assert recent.first_time("a", now=11)  # forgotten after the ttl
    for key in "bcd":
        assert recent.first_time(key, now=12)
    assert recent.first_time("a", now=12)  # pushed out by capacity
