"""The weekly insights report in the browser: on a database holding two months of disputes
(the shared benchmark dataset), the chart the app uploads shows in the supervisors' channel,
under its comment, loaded as an image."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, select, update

from bench.dataset import DatasetSpec, fill
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow
from tests.browser.conftest import ARTIFACTS, ROLES
from tests.browser.test_journeys import as_person
from tests.e2e.test_insights import now_in_new_york
from tests.support.app_process import AppProcess, app_process


async def seed(database: Path) -> None:
    """Two months of disputes, resolved ones with the moment they were resolved."""
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        await migrate(db)
        await fill(db, DatasetSpec(600, open_share=0.15, history_days=60, seed=5))
        # The dataset records every state's time; insights read the resolution's own column.
        table = cast(Table, DisputeRow.__table__)
        async with db.transaction() as session:
            rows = await session.execute(
                select(table.c.id, table.c.state_times).where(
                    table.c.status == "resolved", table.c.resolved_at.is_(None)
                )
            )
            for row_id, times in rows.all():
                resolved = datetime.fromisoformat(times["resolved"])
                await session.execute(
                    update(table).where(table.c.id == row_id).values(resolved_at=resolved)
                )
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def app(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("insights-app")
    (tmp / "roles.yml").write_text(ROLES)
    # Its own thread: Playwright keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as seeding:
        seeding.submit(asyncio.run, seed(tmp / "app.db")).result()
    with app_process(
        tmp,
        emulator.api_url,
        ROLES_FILE=str(tmp / "roles.yml"),
        SUPERVISORS_CHANNEL="#dispute-supervisors",
        ALERT_SCAN_EVERY="1",
        ALERT_SUMMARY_AT="",
        INSIGHTS_REPORT_AT=now_in_new_york(),
    ) as running:
        emulator.attach_driver(
            SlackDriver(running.url, running.secret, emulator.workspace, emulator.base_url)
        )
        yield running
        emulator.attach_driver(None)


def test_the_weekly_chart_shows_in_the_supervisors_channel(
    page: Any, emulator: EmulatorServer
) -> None:
    as_person(page, emulator, "U0SUPER", "C0SUPERVISORS")
    report = page.locator("#messages .msg", has_text="Weekly insights").last
    report.wait_for(timeout=60_000)
    chart = report.locator(".file-preview img")
    chart.wait_for()
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=chart.element_handle())
    assert chart.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [990, 495]
    assert "insights-" in report.locator(".file-chip").inner_text()
    assert "/dispute insights 7d" in report.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "weekly-insights.png"))
