"""Socket Mode: `dispute-desk serve` with SLACK_APP_TOKEN connects to the sandbox's Socket Mode
endpoint and takes commands, interactions and events as envelopes, acknowledging each one."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sandbox.slack.records import APP_TOKEN
from sandbox.slack.server import EmulatorServer
from sandbox.slack.socket_mode import SocketModeDriver, SocketModeServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

pytestmark = pytest.mark.e2e


@contextmanager
def socket_mode_app(tmp: Path, emulator: EmulatorServer, **env: str) -> Iterator[AppProcess]:
    env = {"SLACK_APP_TOKEN": APP_TOKEN, **env}
    with app_process(tmp, emulator.api_url, **env) as running:
        yield running


@pytest.fixture
async def socket(emulator: EmulatorServer) -> AsyncIterator[SocketModeServer]:
    async with SocketModeServer(emulator.workspace) as server:
        yield server


@pytest.fixture
async def app(
    socket: SocketModeServer, emulator: EmulatorServer, tmp_path: Path
) -> AsyncIterator[AppProcess]:
    # The app connects to a server in this test's event loop: start and stop it off the loop.
    context = socket_mode_app(tmp_path, emulator)
    running = await asyncio.to_thread(context.__enter__)
    try:
        yield running
    finally:
        await asyncio.to_thread(context.__exit__, None, None, None)


@pytest.fixture
def slack(socket: SocketModeServer, emulator: EmulatorServer) -> SocketModeDriver:
    return SocketModeDriver(socket, emulator.workspace, emulator.base_url)


async def test_a_dispute_is_opened_reviewed_and_evidenced_over_socket_mode(
    app: AppProcess, slack: SocketModeDriver, socket: SocketModeServer, workspace: Workspace
) -> None:
    async with httpx.AsyncClient() as http:
        # Health checks still answer over HTTP; Slack's HTTP endpoint is not served.
        assert (await http.get(app.url + "/healthz")).json()["ok"] is True
        assert (await http.post(app.url + "/slack/events", content=b"{}")).status_code == 404

    # The driver returns once the app has acknowledged the envelope (or fails after 10 s).
    await slack.command("open ORD-1016 damaged the screen is cracked")
    parent = await eventually(
        lambda: next((m for m in workspace.history("C0DISPUTES") if "ORD-1016" in m.text), None)
    )
    await eventually(lambda: len(workspace.thread("C0DISPUTES", parent.ts)) >= 3)

    # A modal's field errors travel back in the envelope's acknowledgement.
    await slack.block_action("evidence.add")
    view = await eventually(lambda: workspace.top_view("U0MANAGER1"))
    answer = await slack.view_submission({"note": {"note": ""}}, view_id=view.id)
    assert answer.json()["response_action"] == "errors"
    assert set(answer.json()["errors"]) == {"kind", "note"}

    # An event, and Slack's retry of it, make one Home tab publication.
    home = {"type": "app_home_opened", "user": "U0SUPER", "channel": "D0SUPER", "tab": "home"}
    before = len(workspace.calls_to("views.publish"))
    await slack.event(home, event_id="Ev0SOCKET1")
    await slack.event(home, event_id="Ev0SOCKET1", retry_num=1)
    await eventually(lambda: len(workspace.calls_to("views.publish")) > before)
    await asyncio.sleep(0.5)
    assert len(workspace.calls_to("views.publish")) == before + 1
    assert "ORD-1016" in json.dumps(workspace.home_views["U0SUPER"].view)

    # Slack asks the app to reconnect from time to time; it does, and carries on.
    await socket.disconnect_all()
    await socket.connected()
    answers = len(workspace.ephemerals_for("U0MANAGER1"))
    await slack.command("show D-1")
    shown = await eventually(lambda: workspace.ephemerals_for("U0MANAGER1")[answers:])
    assert "ORD-1016" in shown[0].text


async def test_sigterm_closes_the_connection_and_ends_the_process(
    app: AppProcess, socket: SocketModeServer
) -> None:
    await socket.connected()
    app.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(app.process.wait, 15)
    assert code == 0, app.output()
    await eventually(lambda: socket.connections == 0)


async def test_a_refused_app_token_stops_start_up_with_one_line(
    emulator: EmulatorServer, socket: SocketModeServer, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError) as failed:
        context = socket_mode_app(tmp_path, emulator, SLACK_APP_TOKEN="xapp-1-A0-1-revoked")
        await asyncio.to_thread(context.__enter__)
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in str(failed.value)
    assert "Traceback" not in str(failed.value)
    assert "Unclosed" not in str(failed.value)  # nothing of the Socket Mode client left open
