"""End-to-end fixtures: the emulator in a thread, the app as a real process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from connectors.orders.factory import default_fixtures_path
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.app_process import AppProcess, app_process
from tests.support.localstripe import create_payment, localstripe_server, require_localstripe

T = TypeVar("T")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(Workspace.default()).start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def workspace(emulator: EmulatorServer) -> Workspace:
    return emulator.workspace


@pytest.fixture(scope="module")
def app(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with app_process(tmp_path_factory.mktemp("app"), emulator.api_url) as running:
        yield running


@pytest.fixture
async def slack(app: AppProcess, emulator: EmulatorServer) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(app.url, app.secret, emulator.workspace, emulator.base_url) as driver:
        yield driver


@pytest.fixture(scope="module")
def stripe() -> Iterator[str]:
    require_localstripe()
    with localstripe_server() as base:
        yield base


@pytest.fixture(scope="module")
def paid_orders(stripe: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo orders, each paid by a real payment intent in localstripe."""
    folder = tmp_path_factory.mktemp("orders")
    for order_id in (*(f"ORD-100{n}" for n in range(1, 7)), "ORD-1023"):
        source = default_fixtures_path() / f"{order_id}.json"
        data = json.loads(source.read_text())
        minor = int(data["total"].replace(".", ""))
        data["payment"]["reference"] = asyncio.run(create_payment(stripe, minor, "usd"))
        (folder / source.name).write_text(json.dumps(data))
    return folder
