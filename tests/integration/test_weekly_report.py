"""The weekly insights report against the Slack emulator over real HTTP, on SQLite and
PostgreSQL: one chart a week in the supervisors' channel, uploaded through the files API with
its comment; once across ticks, replicas and the next week's start; a refused upload stays
pending and goes at the next tick; an upload whose answer was lost is not sent again; nothing
it does raises into the scheduler, and the SLA scan never posts it as a digest."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.reporting import WeeklyReporting
from disputes.insight_report import Insights, Period, TrendPoint
from disputes.sla_scan import SlaScan
from disputes.weekly_reports import WeeklyReports
from disputes.weekly_schedule import WeeklyAt, week_due
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from storage.db import Database
from storage.tables import AlertDigestRow, AlertPostRow
from tests.integration.test_sla_scan import sla_policy
from tests.support.emulator import TOKEN
from tests.support.insights import busy_month, weeks

CHANNEL = "C0SUPERVISORS"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MONDAY_NINE = WeeklyAt(0, time(9, 0))
# Monday 2 March 2026 is in ISO week 10.
DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class StubInsights:
    """Hand-made numbers (the computation is tested on its own); remembers what was asked."""

    def __init__(self) -> None:
        self.periods: list[Period] = []
        self.trends: list[tuple[datetime, int]] = []
        self.broken = False

    async def report(self, period: Period) -> Insights:
        if self.broken:
            raise RuntimeError("the report could not be read")
        self.periods.append(period)
        return busy_month().model_copy(update={"period": period})

    async def trend(self, end: datetime, **named: int) -> list[TrendPoint]:
        count = named.get("weeks", 8)
        self.trends.append((end, count))
        return weeks(count, end=end)


class LosesTheAnswer(AsyncWebClient):
    """Completes the upload at Slack, then loses Slack's answer (a timeout, once)."""

    lose = True

    async def files_completeUploadExternal(self, **kwargs: Any) -> Any:
        answer = await super().files_completeUploadExternal(**kwargs)
        if self.lose:
            self.lose = False
            raise TimeoutError("the answer did not arrive")
        return answer


def reporting(
    db: Database,
    client: AsyncWebClient,
    insights: StubInsights,
    *,
    holder: str = "one",
    zone: str = "UTC",
) -> WeeklyReporting:
    return WeeklyReporting(
        WeeklyReports(db, holder=holder),
        insights,  # type: ignore[arg-type]
        client,
        CHANNEL,
        schedule=MONDAY_NINE,
        zone=ZoneInfo(zone),
        every=timedelta(seconds=60),
    )


def charts(ws: Workspace) -> list[Any]:
    """The messages in the supervisors' channel that carry a file."""
    return [m for m in ws.history(CHANNEL) if m.files]


async def posts(db: Database) -> list[AlertPostRow]:
    async with db.reading() as session:
        return list(await session.scalars(select(AlertPostRow).order_by(AlertPostRow.id)))


async def test_the_chart_goes_to_the_supervisors_once_a_week(
    db: Database, ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    ws.join(CHANNEL, ws.bot_user_id)
    insights = StubInsights()
    weekly = reporting(db, client, insights)

    assert await weekly.tick(DUE - timedelta(minutes=1)) == 0  # Monday 08:59: not yet
    assert await weekly.tick(DUE + timedelta(hours=1)) == 1
    [message] = charts(ws)
    [file_id] = message.files
    chart = ws.files[file_id]
    assert chart.content.startswith(PNG_MAGIC) and len(chart.content) > 5_000
    assert (chart.name, chart.title, chart.user) == (
        "insights-2026-W10.png",
        "Insights, week 2026-W10",
        ws.bot_user_id,
    )
    assert message.text.startswith("*Weekly insights*")
    assert "120 disputes opened, 98 resolved" in message.text
    # The seven days before the week's moment (not the tick's), and eight weeks of chart.
    assert [(p.start, p.end) for p in insights.periods] == [(DUE - timedelta(days=7), DUE)]
    assert insights.trends == [(DUE, 8)]

    # Again that week, later that day, or on Sunday night: nothing more.
    for later in (timedelta(hours=1, seconds=1), timedelta(hours=5), timedelta(days=6, hours=14)):
        assert await weekly.tick(DUE + later) == 0
    assert len(charts(ws)) == 1
    [post] = await posts(db)
    assert post.posted_at is not None and post.channel_id == CHANNEL and post.attempts == 1

    # The next Monday at nine: the next week's report.
    assert await weekly.tick(DUE + timedelta(weeks=1)) == 1
    assert [ws.files[m.files[0]].name for m in charts(ws)] == [
        "insights-2026-W10.png",
        "insights-2026-W11.png",
    ]


async def test_the_moment_is_in_the_sla_files_timezone(
    db: Database, ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    ws.join(CHANNEL, ws.bot_user_id)
    weekly = reporting(db, client, StubInsights(), zone="America/New_York")
    # 09:00 in New York on 2 March 2026 is 14:00 UTC.
    assert await weekly.tick(datetime(2026, 3, 2, 13, 59, tzinfo=UTC)) == 0
    assert await weekly.tick(datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == 1


async def test_two_replicas_send_one_report(
    db: Database, ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    ws.join(CHANNEL, ws.bot_user_id)
    one = reporting(db, client, StubInsights(), holder="one")
    two = reporting(db, client, StubInsights(), holder="two")
    for minutes in range(3):
        moment = DUE + timedelta(minutes=minutes)
        assert await two.tick(moment) + await one.tick(moment) == (1 if minutes == 0 else 0)
    assert len(charts(ws)) == 1
    # The holder stops (its lease released): the other delivers the next week's.
    await two.stop()
    assert await one.tick(DUE + timedelta(weeks=1)) == 1
    assert len(charts(ws)) == 2


async def test_a_refused_upload_waits_for_the_next_tick(
    db: Database, ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    ws.join(CHANNEL, ws.bot_user_id)
    insights = StubInsights()
    weekly = reporting(db, client, insights)
    ws.arm_ratelimit("files.getUploadURLExternal", times=1)
    assert await weekly.tick(DUE) == 0  # Slack said 429: logged, not raised
    [post] = await posts(db)
    assert (post.posted_at, post.attempts, post.last_error) == (None, 1, "ratelimited")
    assert charts(ws) == []

    insights.broken = True  # the numbers cannot be read: pending too
    assert await weekly.tick(DUE + timedelta(minutes=1)) == 0
    [post] = await posts(db)
    assert post.posted_at is None and post.attempts == 2
    assert "could not be read" in (post.last_error or "")

    insights.broken = False
    assert await weekly.tick(DUE + timedelta(minutes=2)) == 1
    [post] = await posts(db)
    assert post.posted_at is not None and post.attempts == 3 and post.last_error is None
    assert len(charts(ws)) == 1


async def test_an_upload_whose_answer_was_lost_is_not_sent_again(
    db: Database, ws: Workspace, server: EmulatorServer
) -> None:
    ws.join(CHANNEL, ws.bot_user_id)
    client = LosesTheAnswer(token=TOKEN, base_url=server.api_url)
    weekly = reporting(db, client, StubInsights())
    assert await weekly.tick(DUE) == 0  # shared at Slack, but the app does not know it
    assert len(charts(ws)) == 1
    assert await weekly.tick(DUE + timedelta(minutes=1)) == 1  # files.info says it is there
    assert len(charts(ws)) == 1
    assert await weekly.tick(DUE + timedelta(minutes=2)) == 0


async def test_a_report_nobody_could_deliver_for_a_week_is_given_up(
    db: Database, ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    weekly = reporting(db, client, StubInsights())  # the bot is not in the channel
    assert await weekly.tick(DUE) == 0
    [post] = await posts(db)
    assert post.last_error == "not_in_channel"
    ws.join(CHANNEL, ws.bot_user_id)
    # Next week: that week's report goes, the one before it no more.
    assert await weekly.tick(DUE + timedelta(weeks=1, minutes=1)) == 1
    assert [ws.files[m.files[0]].name for m in charts(ws)] == ["insights-2026-W11.png"]


async def test_the_sla_scan_never_posts_the_weekly_report_as_a_digest(
    db: Database, tmp_path: Any
) -> None:
    reports = WeeklyReports(db, holder="one")
    assert await reports.prepare(DUE, week_due(DUE, MONDAY_NINE, UTC)) is not None
    async with db.reading() as session:
        kinds = list(await session.scalars(select(AlertDigestRow.kind)))
    assert kinds == ["weekly"]
    scan = SlaScan(db, sla_policy(tmp_path), destinations=["supervisors"])
    assert await scan.pending_posts() == []
