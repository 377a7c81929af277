"""Insights through the real app and the Slack emulator: `/dispute insights 7d` answers a
manager with the report's blocks, refuses an agent in one sentence, and says which periods it
knows; the weekly report uploads its chart (a PNG) to the supervisors' channel once, however
often the app looks and across a restart."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.slack.blockkit import validate_message
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.e2e.test_queues import answer
from tests.support.app_process import app_process

MANAGER, AGENT, SUPERVISOR = "U0MANAGER1", "U0AGENT", "U0SUPER"
SUPERVISORS = "C0SUPERVISORS"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def test_a_manager_sees_the_last_seven_days(slack: SlackDriver, workspace: Workspace) -> None:
    opened = await answer(slack, workspace, "open ORD-1003 damaged the lid was cracked", MANAGER)
    assert opened.text.startswith("Opened D-")

    seen = len(workspace.ephemerals_for(MANAGER))
    acked = await slack.command("insights 7d", user=MANAGER)
    assert acked.json() == {"response_type": "ephemeral", "text": "Counting the last 7 days…"}
    report = (await eventually(lambda: workspace.ephemerals_for(MANAGER)[seen:]))[0]
    assert validate_message(report.text, report.blocks) == []
    assert report.text == "Insights for the last 7 days: 1 dispute opened, 0 resolved"
    text = shown(report.blocks)
    assert "Insights: the last 7 days" in text
    assert "1 opened · 0 resolved" in text
    assert "median — · mean — · p90 —" in text  # nothing resolved yet: no data, not 0
    assert "Damaged: 1, new" in text
    assert "Upstream problems to look at" in text

    # The default period is 30 days; a supervisor may see it too.
    thirty = await answer(slack, workspace, "insights", SUPERVISOR)
    assert "Insights: the last 30 days" in shown(thirty.blocks)


async def test_an_agent_is_refused_and_a_bad_period_is_named(
    slack: SlackDriver, workspace: Workspace
) -> None:
    refused = await answer(slack, workspace, "insights 30d", AGENT)
    assert refused.text == (
        "You cannot see insights: that needs the role of manager or supervisor "
        "(roles are set in ROLES_FILE)."
    )
    assert refused.blocks == []

    seen = len(workspace.ephemerals_for(MANAGER))
    bad = await slack.command("insights 14d", user=MANAGER)
    body = bad.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("`14d` is not a period: use `7d`, `30d`, `90d`")
    assert "/dispute insights [7d|30d|90d]" in body["text"]
    await asyncio.sleep(1)
    assert workspace.ephemerals_for(MANAGER)[seen:] == []  # nothing counted after the ack


def now_in_new_york() -> str:
    """INSIGHTS_REPORT_AT for today at midnight in the default SLA file's timezone: due now."""
    today = datetime.now(ZoneInfo("America/New_York")).weekday()
    return f"{DAYS[today]} 00:00"


def charts(workspace: Workspace) -> list[Any]:
    return [m for m in workspace.history(SUPERVISORS) if m.files]


async def test_the_weekly_chart_reaches_the_supervisors_once(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    workspace = emulator.workspace
    env = {
        "SUPERVISORS_CHANNEL": "#dispute-supervisors",
        "ALERT_SCAN_EVERY": "1",
        "ALERT_SUMMARY_AT": "",
        "INSIGHTS_REPORT_AT": now_in_new_york(),
    }
    before = len(charts(workspace))
    with app_process(tmp_path, emulator.api_url, **env) as app:
        async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
            await slack.command("open ORD-1004 damaged crushed", user=MANAGER)
        message = (await eventually(lambda: charts(workspace)[before:], 30))[0]
        await asyncio.sleep(3)  # three more looks
        assert len(charts(workspace)) == before + 1
    [file_id] = message.files
    chart = workspace.files[file_id]
    assert chart.content.startswith(PNG_MAGIC) and len(chart.content) > 5_000
    assert chart.name.startswith("insights-") and chart.name.endswith(".png")
    assert chart.mimetype == "image/png"
    assert message.text.startswith("*Weekly insights*")
    assert "`/dispute insights 7d`" in message.text
    assert "Traceback" not in app.output()

    # Started again on the same database: the week's report is not sent twice.
    with app_process(tmp_path, emulator.api_url, **env) as again:
        await asyncio.sleep(3)
        assert "Traceback" not in again.output()
    assert len(charts(workspace)) == before + 1
