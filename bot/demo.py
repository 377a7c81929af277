"""`dispute-desk demo`: the app on SQLite and the demo orders, against the local Slack sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import tempfile
from pathlib import Path

from bot.serve import http_server, start_runtime
from bot.settings import load_settings
from sandbox.driver import SlackDriver
from sandbox.server import EmulatorServer
from sandbox.transcript import render_transcript
from sandbox.workspace import Workspace

DEMO_COMMANDS = (
    ("U0MANAGER1", "open ORD-1001 damaged the box was crushed"),
    ("U0MANAGER2", "open ORD-1017 the refund never arrived on my card"),
    ("U0AGENT", "open ORD-1022 unwanted asked to return the coat after the window"),
    ("U0MANAGER1", "open ORD-1009 never delivered, tracking stopped"),
    ("U0MANAGER1", "show D-1"),
)


def _say(text: str) -> None:
    print(text, flush=True)


def _data_folder(data: str | None) -> Path:
    folder = Path(data).expanduser().resolve() if data else Path(tempfile.mkdtemp(prefix="dd-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def run_demo(*, port: int = 0, data: str | None = None, wait: bool = True) -> int:
    folder = _data_folder(data)
    workspace = Workspace.default()
    emulator = await EmulatorServer(workspace, port=port).start()
    _say(f"Dispute Desk sandbox: {emulator.base_url}/")
    secret = secrets.token_hex(16)
    settings = load_settings(
        slack_bot_token=workspace.bot_token,
        slack_signing_secret=secret,
        slack_app_token=None,
        slack_api_url=emulator.api_url,
        database_url=f"sqlite+aiosqlite:///{folder / 'dispute-desk.db'}",
        disputes_channel="#disputes",
        host="127.0.0.1",
        port=0,
    )
    runtime = await start_runtime(settings)
    server = http_server(runtime, "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        app_port = server.servers[0].sockets[0].getsockname()[1]
        app_url = f"http://127.0.0.1:{app_port}"
        _say(f"App (HTTP mode): {app_url}/slack/events · database {folder / 'dispute-desk.db'}")
        async with SlackDriver(app_url, secret, workspace, emulator.base_url) as driver:
            for user, text in DEMO_COMMANDS:
                await driver.command(text, user=user)
                await runtime.queue.join()
            _say("\n" + render_transcript(workspace))
            if wait:
                # The page's composer, buttons and modals reach the app through this driver.
                emulator.attach_driver(driver)
                _say(f"\nOpen {emulator.base_url}/ to use the workspace. Ctrl-C stops the demo.")
                await _until_interrupted()
                emulator.attach_driver(None)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        await runtime.aclose()
        await emulator.stop()
    return 0


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
