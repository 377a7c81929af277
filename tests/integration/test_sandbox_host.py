"""The sandbox answers only to loopback names: a site that points its own name at 127.0.0.1
(DNS rebinding) gets nothing from it, not even the page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sandbox.page.guard import LoopbackHostOnly, loopback_host
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace

COMMAND = {"channel": "C0DISPUTES", "text": "/dispute help"}


def _port(server: EmulatorServer) -> int:
    assert server.port is not None
    return server.port


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "localhost.evil"],
)
async def test_a_foreign_host_gets_a_400_on_every_path(
    http: httpx.AsyncClient, server: EmulatorServer, ws: Workspace, host: str
) -> None:
    host = host.format(port=_port(server))
    origin = f"http://{host}"
    # What a rebound page sends: its own name as Host and Origin, same-origin as far as the
    # browser can tell.
    rebound = {"Host": host, "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    version = ws.version
    for method, path, body in (
        ("GET", "/", None),
        ("GET", "/_sandbox/plain", None),
        ("GET", "/archives/C0DISPUTES/p1700000000000001", None),
        ("POST", "/_sandbox/ui/message", {"channel": "C0DISPUTES", "text": "hi"}),
        ("GET", "/_sandbox/state", None),
        ("POST", "/api/auth.test", None),
        ("POST", "/_sandbox/ui/command", COMMAND),
        ("POST", "/customer/reply", None),
    ):
        refused = await http.request(method, path, json=body, headers=rebound)
        assert refused.status_code == 400, (method, path)
        assert refused.json()["error"] == "bad_host"
    assert ws.version == version and ws.calls == []


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LocalHost", "127.0.0.1"]
)
async def test_loopback_names_are_answered(
    http: httpx.AsyncClient, server: EmulatorServer, host: str
) -> None:
    answered = await http.get("/_sandbox/state", headers={"Host": host.format(port=_port(server))})
    assert answered.status_code == 200


async def test_a_request_without_a_host_is_refused(server: EmulatorServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
    writer.write(b"GET /_sandbox/state HTTP/1.0\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] == b"400"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("127.0.0.1:3000", True),
        ("[::1]:65535", True),
        (None, False),
        ("", False),
        ("127.0.0.2", False),
        ("localhost:", False),
        ("localhost:80:80", False),
        ("[::1]x", False),
        ("0.0.0.0:3000", False),
        ("evil.example", False),
    ],
)
def test_loopback_host(host: str | None, allowed: bool) -> None:
    assert loopback_host(host) is allowed


async def test_a_websocket_under_a_foreign_host_is_closed_before_it_opens() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    guard = LoopbackHostOnly(app)
    scope = {"type": "websocket", "path": "/", "headers": [(b"host", b"evil.example:8080")]}
    await guard(scope, receive, send)
    assert reached == [] and sent[0]["type"] == "websocket.close"
    await guard({**scope, "headers": [(b"host", b"127.0.0.1:8080")]}, receive, send)
    assert reached == ["websocket"]
