"""The scheduled scan (APScheduler): every ALERT_SCAN_EVERY seconds, in every replica; the
lease in `disputes.sla_scan` lets one of them work at a time."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.metrics import record_scan
from disputes.sla_scan import ScanReport, SlaScan
from handlers.digests import DigestPublisher
from handlers.threads import ThreadPublisher

log = logging.getLogger(__name__)

# Parent messages refreshed after one scan at most; the rest show their clock on their next
# change (and in `/dispute queue` at once).
MOST_REFRESHED = 50


class Alerting:
    def __init__(
        self,
        scan: SlaScan,
        publisher: DigestPublisher,
        threads: ThreadPublisher | None,
        *,
        every: timedelta,
    ) -> None:
        self.scan = scan
        self.publisher = publisher
        self.threads = threads
        self.every = every
        self.scheduler: AsyncIOScheduler | None = None
        self._one_at_a_time = asyncio.Lock()

    async def tick(self) -> ScanReport | None:
        """One scan, then the digests it made (and any left from before) posted; a tick asked
        for while one runs waits for it."""
        async with self._one_at_a_time:
            return await self._tick()

    async def _tick(self) -> ScanReport | None:
        try:
            report = await self.scan.run_once()
        except Exception:
            log.exception("the SLA scan failed; the next one tries again")
            return None
        if report.failed:
            log.warning("SLA scan: %d disputes could not be clocked", report.failed)
        posted = 0
        if report.held_lease and not report.quiet and self.scan.fence is not None:
            try:
                posted = await self.publisher.post_pending(self.scan, self.scan.fence)
            except Exception:
                log.exception("digests not posted; the next scan tries again")
        record_scan(report, posted)
        await self._refresh(report.changed[:MOST_REFRESHED])
        return report

    async def _refresh(self, numbers: list[int]) -> None:
        if self.threads is None:
            return
        for number in numbers:
            try:
                await self.threads.refresh_status(number)
            except Exception:
                log.exception("the parent message of D-%s was not refreshed", number)

    def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.every.total_seconds()),
            id="sla_scan",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        """No more scans; the one running (if any) ends first, before the database closes (the
        scheduler's shutdown would cancel it halfway)."""
        if self.scheduler is not None:
            self.scheduler.pause()
            async with self._one_at_a_time:
                self.scheduler.shutdown(wait=False)
            self.scheduler = None
        try:
            await self.scan.release()
        except Exception:
            log.exception("the SLA scan's lease was not released; it lapses by itself")
