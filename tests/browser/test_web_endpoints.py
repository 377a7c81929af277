"""The page's JSON and event-stream endpoints, without a browser (fast)."""

from __future__ import annotations

import time

import httpx

from sandbox.page.routes import ui_state
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace


def test_a_channel_of_2000_messages_is_served_in_pages_of_200() -> None:
    ws = Workspace.default()
    for n in range(2000):
        ws.post_message("C0DISPUTES", text=f"message {n}")
    started = time.perf_counter()
    state = ui_state(ws, "U0MANAGER1", "C0DISPUTES")
    assert time.perf_counter() - started < 0.5
    assert [m["text"] for m in state["messages"]][-1] == "message 1999"
    assert len(state["messages"]) == 200 and state["has_more"] and state["total"] == 2000
    assert len(ui_state(ws, "U0MANAGER1", "C0DISPUTES", limit=400)["messages"]) == 400


def test_ephemeral_messages_and_modals_belong_to_their_user() -> None:
    ws = Workspace.default()
    ws.post_ephemeral("C0DISPUTES", "U0AGENT", text="only Ana")
    view = ws.open_view(ws.mint_trigger("U0AGENT"), {"type": "modal", "blocks": []})
    ws.set_view_errors(view.id, {"amount": "not a number"})
    ana, max_ = ui_state(ws, "U0AGENT"), ui_state(ws, "U0MANAGER1")
    assert [m["text"] for m in ana["messages"]] == ["only Ana"]
    assert ana["messages"][0]["ephemeral"] is True
    assert ana["view"]["errors"] == {"amount": "not a number"}
    assert max_["messages"] == [] and max_["view"] is None


def test_the_event_stream_announces_a_new_message_within_a_second() -> None:
    server = EmulatorServer(Workspace.default()).start_in_thread()
    try:
        with (
            httpx.Client(base_url=server.base_url, timeout=5) as http,
            http.stream("GET", "/_sandbox/events") as stream,
        ):
            lines = stream.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            server.workspace.post_message("C0DISPUTES", text="hello")
            started = time.monotonic()
            second = next(line for line in lines if line.startswith("data:"))
            assert time.monotonic() - started < 1.0
            assert int(second[5:]) > int(first[5:])
        assert "hello" in httpx.get(server.base_url + "/", timeout=5).text
        state = httpx.get(server.base_url + "/_sandbox/state?user=U0AGENT", timeout=5).json()
        assert state["me"] == "U0AGENT" and state["messages"][0]["text"] == "hello"
        with (
            httpx.Client(timeout=5) as http,
            http.stream("GET", server.base_url + "/_sandbox/events"),
        ):
            started = time.monotonic()
            server.stop_thread()  # with an event stream still open
            assert time.monotonic() - started < 5
    finally:
        server.stop_thread()
