"""Slack's Socket Mode, played locally: a WebSocket endpoint the app connects to, and a driver
that sends it the same commands, actions and events as the HTTP driver.

The app asks `apps.connections.open` (with its app-level `xapp-` token) for a one-time URL, and
connects. The server greets it with `hello`, sends envelopes (`slash_commands`, `interactive`,
`events_api`) and waits for the app's acknowledgement, which carries the response payload
(a view submission's `response_action`, say) as Slack relays it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import WSMsgType, web

from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import APP_ID, Workspace

CONNECT_TIMEOUT = 30.0
ACK_TIMEOUT = 10.0  # Slack waits 3 s and then retries; tests get more room on a slow machine


class SocketModeServer:
    """The Socket Mode endpoint on 127.0.0.1, in the current event loop."""

    def __init__(self, workspace: Workspace, host: str = "127.0.0.1") -> None:
        self.workspace = workspace
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the Socket Mode server is not running")
        return f"ws://{self.host}:{self.port}/link/"

    @property
    def connections(self) -> int:
        """How many connections the app holds open."""
        return len(self._sockets)

    async def start(self) -> SocketModeServer:
        app = web.Application()
        app.router.add_get("/link/", self._connection)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.workspace.socket_mode_url = self.url
        return self

    async def stop(self) -> None:
        self.workspace.socket_mode_url = None
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SocketModeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def connected(self) -> None:
        """Wait (at most CONNECT_TIMEOUT seconds) until the app holds a connection."""
        await asyncio.wait_for(self._connected.wait(), CONNECT_TIMEOUT)

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every connection to go away, as Slack does every few hours."""
        self._connected.clear()  # before the app can come back, so `connected()` sees it
        for ws in list(self._sockets):
            await ws.send_json({"type": "disconnect", "reason": reason})

    async def request(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> dict[str, Any] | None:
        """Send one envelope to the newest connection and return the payload of its ack
        (None when the ack carried none)."""
        await self.connected()
        envelope_id = secrets.token_hex(16)
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        answer = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = answer
        try:
            await self._sockets[-1].send_json(envelope)
            ack = await asyncio.wait_for(answer, ACK_TIMEOUT)
        finally:
            self._waiting.pop(envelope_id, None)
        return ack.get("payload")

    async def _connection(self, request: web.Request) -> web.WebSocketResponse:
        if not self.workspace.take_socket_ticket(request.query.get("ticket", "")):
            raise web.HTTPUnauthorized(text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": APP_ID},
                "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
            }
        )
        self._connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._acknowledged(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._connected.clear()
        return ws

    def _acknowledged(self, ack: Any) -> None:
        if not isinstance(ack, dict):
            return
        waiting = self._waiting.get(str(ack.get("envelope_id")))
        if waiting is not None and not waiting.done():
            waiting.set_result(ack)


class SocketModeDriver(SlackDriver):
    """SlackDriver over Socket Mode: the same payloads, sent as envelopes instead of signed
    HTTP requests; the ack's payload comes back as the response body."""

    def __init__(self, server: SocketModeServer, workspace: Workspace, emulator_url: str) -> None:
        super().__init__("http://socket-mode.invalid", "", workspace, emulator_url)
        self.server = server

    async def send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        kind, payload = envelope_of(body, content_type)
        retry = int((headers or {}).get("X-Slack-Retry-Num", "0"))
        reason = (headers or {}).get("X-Slack-Retry-Reason", "") if retry else ""
        answer = await self.server.request(kind, payload, retry_attempt=retry, retry_reason=reason)
        content = json.dumps(answer).encode() if answer else b""
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})


def envelope_of(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The Socket Mode envelope type and payload for what the HTTP driver would have POSTed."""
    if content_type.startswith("application/json"):
        return "events_api", json.loads(body)
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    return "slash_commands", fields
