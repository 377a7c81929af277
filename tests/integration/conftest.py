"""Fixtures for the emulator's tests: a workspace on a fake clock, served over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.emulator import SECRET, TOKEN, FakeClock, Receiver


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ws(clock: FakeClock) -> Workspace:
    return Workspace.default(clock=clock)


@pytest.fixture
async def server(ws: Workspace) -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(ws) as srv:
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=server.api_url)


@pytest.fixture
async def http(server: EmulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url) as c:
        yield c


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def driver(
    ws: Workspace, receiver: Receiver, server: EmulatorServer
) -> AsyncIterator[SlackDriver]:
    """A driver whose requests reach `receiver` (in process) instead of an app."""
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport) as c:
        yield SlackDriver("http://app.test", SECRET, ws, server.base_url, client=c)


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    """The emulator on the real clock, the app's bot in the disputes channel (C0DISPUTES)."""
    workspace = Workspace.default()
    workspace.join("C0DISPUTES", "U0BOT")
    async with EmulatorServer(workspace) as server:
        yield server
