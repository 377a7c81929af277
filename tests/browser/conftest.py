"""Browser tests: the workspace page in Debian's Chromium, driven by Playwright for Python.

The emulator runs in a thread, the app as a real `dispute-desk serve` process; the page reaches
the app through a SlackDriver handed to the emulator. Without Chromium or Playwright these tests
skip, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.app_process import ROOT, AppProcess, app_process
from tests.support.outside import unavailable

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
ROLES = """
roles:
  supervisor: {users: [U0SUPER], groups: [], approval_limit: null}
  manager: {users: [], groups: [S0MANAGERS], approval_limit: "200.00"}
  agent: {users: [U0AGENT], groups: [], approval_limit: "0"}
two_person_rule_above: "100.00"
"""


# Module scope, not session: sync_playwright keeps an event loop running on the main thread,
# and pytest-asyncio tests collected after this folder (one pytest run over several tiers)
# cannot start theirs while it lives.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(Workspace.default()).start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def app(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("browser-app")
    roles = tmp / "roles.yml"
    roles.write_text(ROLES)
    with app_process(
        tmp, emulator.api_url, ROLES_FILE=str(roles), SUPERVISORS_CHANNEL="#dispute-supervisors"
    ) as running:
        # The driver is only used from the emulator's event loop, by the page's endpoints.
        emulator.attach_driver(
            SlackDriver(running.url, running.secret, emulator.workspace, emulator.base_url)
        )
        yield running
        emulator.attach_driver(None)


@pytest.fixture
def page(chromium: Any, app: AppProcess, emulator: EmulatorServer) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(emulator.base_url + "/?user=U0MANAGER1")
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "last-page.png"))  # for a failing run's post-mortem
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
