"""Stopping `dispute-desk serve`: SIGTERM lets acknowledged work finish, then exits cleanly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from connectors.orders.factory import default_fixtures_path
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from sandbox.world.order_service import OrderServiceServer, create_order_service
from tests.support.app_process import app_process

pytestmark = pytest.mark.e2e


async def test_sigterm_after_an_ack_still_posts_the_thread_and_exits_0(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    # The order system takes a second: SIGTERM arrives while the job is waiting on it.
    orders = create_order_service(default_fixtures_path(), latency=1.0)
    async with OrderServiceServer(orders) as base:
        context = app_process(tmp_path, emulator.api_url, ORDER_SOURCE=f"http:{base}")
        app = await asyncio.to_thread(context.__enter__)
        try:
            async with SlackDriver(
                app.url, app.secret, emulator.workspace, emulator.base_url
            ) as slack:
                ack = await slack.command("open ORD-1017 damaged the handle snapped")
            assert ack.status_code == 200
            await eventually(lambda: orders.state.requests >= 1)
            app.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(app.process.wait, 20)
        finally:
            await asyncio.to_thread(context.__exit__, None, None, None)
    assert code == 0, app.output()
    history = emulator.workspace.history("C0DISPUTES")
    assert any("ORD-1017" in m.text for m in history), app.output()
    assert "Traceback" not in app.output()
