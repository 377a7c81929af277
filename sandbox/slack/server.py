"""Runs the emulator (Web API, sandbox endpoints and page) with uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from sandbox.page.guard import LoopbackHostOnly, SameOriginPosts
from sandbox.page.routes import web_routes
from sandbox.slack.api import create_app
from sandbox.slack.workspace import Workspace
from sandbox.world.inbox import inbox_routes

if TYPE_CHECKING:
    from sandbox.slack.driver import SlackDriver
    from sandbox.world.mailbox import Mailbox


def create_emulator_app(workspace: Workspace) -> Starlette:
    """The full emulator: Web API, /_sandbox endpoints, the browser page and the customer's
    inbox."""
    app = create_app(workspace, extra_routes=[*web_routes(), *inbox_routes()])
    app.add_middleware(SameOriginPosts)
    app.add_middleware(LoopbackHostOnly)  # added last: runs first
    app.state.driver = None
    app.state.mailbox = None
    app.state.inbound = None
    app.state.closing = False
    return app


class _Done:
    """An awaitable that is already finished, so a threaded stop() may be awaited or not."""

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


class _Server(uvicorn.Server):
    # Signal handlers belong to whoever owns the process (pytest, the CLI), not the emulator.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmulatorServer:
    """The emulator on 127.0.0.1 in the current loop (`await start()`) or a thread."""

    def __init__(self, workspace: Workspace, host: str = "127.0.0.1", port: int = 0) -> None:
        self.workspace = workspace
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.app = create_emulator_app(workspace)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        if self.port is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The SLACK_API_URL for the app, with the trailing slash slack_sdk needs."""
        return self.base_url + "/api/"

    def attach_driver(self, driver: SlackDriver | None) -> None:
        """Let the page's clicks, commands and submissions reach the app through `driver`
        (it is used from the emulator's event loop)."""
        self.app.state.driver = driver

    def attach_mailbox(self, mailbox: Mailbox | None) -> None:
        """The customer's inbox (the demo's SMTP sink), for a page to show."""
        self.app.state.mailbox = mailbox

    def attach_inbound(self, app_url: str | None, secret: str | None = None) -> None:
        """Where the customer inbox sends replies: the app's signed inbound path."""
        self.app.state.inbound = (app_url, secret) if app_url and secret else None

    def _make_server(self) -> _Server:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self._requested_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        return _Server(config)

    def _read_port(self, server: _Server) -> int:
        return int(server.servers[0].sockets[0].getsockname()[1])

    def _bound(self, port: int) -> None:
        self.port = port
        # File objects carry absolute URLs, as Slack's do, so the workspace learns its address.
        self.workspace.base_url = self.base_url

    async def start(self) -> EmulatorServer:
        """Serve in the running loop; returns once the port is bound."""
        self.app.state.closing = False
        self._server = self._make_server()
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # surfaces a bind error
                raise RuntimeError("the emulator stopped during start-up")
            await asyncio.sleep(0.01)
        self._bound(self._read_port(self._server))
        return self

    def stop(self) -> Awaitable[None]:
        """`await stop()` after start(); plain `stop()` after start_in_thread() (blocks)."""
        if self._thread is not None:
            self.stop_thread()
            return _Done()
        return self._stop_in_loop()

    async def _stop_in_loop(self) -> None:
        self.app.state.closing = True  # ends the page's event streams
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        self.port = None

    async def __aenter__(self) -> EmulatorServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> EmulatorServer:
        """Serve from a daemon thread with its own loop, for sync callers."""
        self.app.state.closing = False
        server = self._server = self._make_server()
        self._thread = threading.Thread(target=server.run, name="slack-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        self._bound(self._read_port(server))
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop the threaded server and wait for it."""
        self.app.state.closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server, self._thread, self.port = None, None, None
