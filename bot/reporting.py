"""The weekly insights report (APScheduler): every replica looks every few minutes whether this
week's report is due (INSIGHTS_REPORT_AT, in the SLA file's timezone); the one holding the
`weekly_report` lease makes it once and uploads its chart to the supervisors' channel through
the files API. A failed upload stays pending for the next look; nothing here stops the
scheduler."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta, tzinfo

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.charts import weekly_chart
from blocks.insights import weekly_comment
from disputes.insight_report import Period
from disputes.insights import InsightsService
from disputes.leases import LostLease
from disputes.weekly_reports import PendingReport, WeeklyReports
from disputes.weekly_schedule import WeeklyAt, week_due
from handlers.errors import slack_error

log = logging.getLogger(__name__)

WEEKS = 8  # on the chart
UPLOAD_TIMEOUT = 30.0  # seconds for the chart's bytes to reach Slack's upload URL


class UploadError(Exception):
    """Slack's upload URL did not take the chart's bytes."""


class WeeklyReporting:
    def __init__(
        self,
        reports: WeeklyReports,
        insights: InsightsService,
        client: AsyncWebClient,
        channel: str,
        *,
        schedule: WeeklyAt,
        zone: tzinfo,
        every: timedelta,
    ) -> None:
        self.reports = reports
        self.insights = insights
        self.client = client
        # The supervisors' channel id (the destination the record names).
        self.channel = channel
        self.schedule = schedule
        self.zone = zone
        self.every = every
        self.scheduler: AsyncIOScheduler | None = None
        self._one_at_a_time = asyncio.Lock()

    async def tick(self, now: datetime | None = None) -> int:
        """Make this week's report if it is due, and deliver what waits; how many went out.
        Never raises: what failed is logged and tried again at the next tick."""
        async with self._one_at_a_time:
            try:
                return await self._tick(now or datetime.now(UTC))
            except LostLease:
                log.warning("the weekly report's lease passed to another replica")
            except Exception:
                log.exception("the weekly insights report failed; the next look tries again")
            return 0

    async def _tick(self, now: datetime) -> int:
        week = week_due(now, self.schedule, self.zone)
        if not await self.reports.has_work(now, week):
            return 0
        fence = await self.reports.prepare(now, week)
        if fence is None:
            return 0  # another replica holds the lease
        delivered = 0
        for pending in await self.reports.pending(now):
            delivered += await self._deliver(pending, fence)
        return delivered

    async def _deliver(self, pending: PendingReport, fence: int) -> int:
        try:
            if pending.file_id and await self._shared(pending.file_id):
                # An earlier attempt's upload went through but its answer was lost.
                log.info("weekly report %s was delivered by an earlier attempt", pending.key)
            else:
                await self._upload(pending, fence)
        except LostLease:
            raise
        except (SlackApiError, UploadError, httpx.HTTPError) as exc:
            error = slack_error(exc) if isinstance(exc, SlackApiError) else str(exc) or repr(exc)
            log.warning("weekly report %s not uploaded: %s (tried again later)", pending.key, error)
            await self.reports.failed(pending.post_id, fence, error)
            return 0
        except Exception as exc:
            log.exception("weekly report %s not made (tried again later)", pending.key)
            await self.reports.failed(pending.post_id, fence, repr(exc))
            return 0
        await self.reports.delivered(pending.post_id, fence, self.channel)
        log.info("weekly report %s uploaded to %s", pending.key, self.channel)
        return 1

    async def _upload(self, pending: PendingReport, fence: int) -> None:
        """The report of the seven days before the week's moment, and its chart: reserved at
        Slack (recorded), the bytes sent, then shared in the channel with the comment."""
        report = await self.insights.report(Period.parse("7d", now=pending.due))
        trend = await self.insights.trend(pending.due, weeks=WEEKS)
        png = await asyncio.to_thread(weekly_chart, trend)
        week = pending.key.removeprefix("weekly:")
        name = f"insights-{week}.png"
        reserved = await self.client.files_getUploadURLExternal(filename=name, length=len(png))
        file_id, url = str(reserved["file_id"]), str(reserved["upload_url"])
        await self.reports.reserved(pending.post_id, fence, file_id)
        async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT) as http:
            sent = await http.post(
                url, content=png, headers={"Content-Type": "application/octet-stream"}
            )
        if sent.status_code != 200:
            raise UploadError(f"the upload URL answered HTTP {sent.status_code}")
        await self.client.files_completeUploadExternal(
            files=[{"id": file_id, "title": f"Insights, week {week}"}],
            channel_id=self.channel,
            initial_comment=weekly_comment(report),
        )

    async def _shared(self, file_id: str) -> bool:
        """Whether the file is already shared in the channel (files.info)."""
        try:
            found = (await self.client.files_info(file=file_id))["file"]
        except SlackApiError as exc:
            if slack_error(exc) == "file_not_found":
                return False
            raise
        shares = found.get("shares") or {}
        places = [
            *(found.get("channels") or []),
            *(found.get("groups") or []),
            *(found.get("ims") or []),
            *(shares.get("public") or {}),
            *(shares.get("private") or {}),
        ]
        return self.channel in places

    def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.every.total_seconds()),
            id="weekly_report",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        """No more looks; the one running (if any) ends first, before the database closes."""
        if self.scheduler is not None:
            self.scheduler.pause()
            async with self._one_at_a_time:
                self.scheduler.shutdown(wait=False)
            self.scheduler = None
        try:
            await self.reports.release()
        except Exception:
            log.exception("the weekly report's lease was not released; it lapses by itself")
