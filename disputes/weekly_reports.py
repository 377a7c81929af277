"""The record that makes the weekly insights report go out once (when it is due:
`disputes.weekly_schedule`).

Each ISO week has one report, keyed `weekly:<YYYY-Www>` in `alert_digests` (kind `weekly`), with
its delivery to the supervisors' channel in `alert_posts`. The report is made under its own
fenced lease (`disputes.leases`), so one replica of the cluster makes it; a delivery Slack
refused stays pending and is tried again at the next tick, and one recorded as delivered is
never sent again. The file an attempt reserved at Slack is recorded before the upload is
completed, so an attempt whose answer was lost can be recognised as delivered by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.leases import Lease
from disputes.weekly_schedule import Week
from storage.db import Database
from storage.tables import AlertDigestRow, AlertPostRow

KIND = "weekly"
LEASE = "weekly_report"
DESTINATION = "supervisors"
# A report not delivered within this long of being made is given up: the next week's report
# takes its place.
GIVE_UP_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PendingReport:
    """A week's report waiting to be delivered to `destination`."""

    post_id: int
    key: str
    due: datetime
    destination: str
    attempts: int
    file_id: str | None  # the file an earlier attempt reserved at Slack, if any


class WeeklyReports:
    """The record of the weekly reports, written under the `weekly_report` lease."""

    def __init__(
        self,
        db: Database,
        *,
        holder: str | None = None,
        lease_for: timedelta = timedelta(minutes=5),
    ) -> None:
        self.db = db
        self.lease = Lease(db, LEASE, holder=holder, lease_for=lease_for)

    async def has_work(self, now: datetime, week: Week | None) -> bool:
        """Whether a report is to be made or delivered (read only: no lease taken for nothing)."""
        async with self.db.reading() as session:
            if week is not None and not await _exists(session, week.key):
                return True
            query = select(AlertPostRow.id).join(AlertDigestRow).where(*_pending(now)).limit(1)
            return await session.scalar(query) is not None

    async def prepare(self, now: datetime, week: Week | None) -> int | None:
        """Take the lease (None: another replica holds it) and record `week`'s report once;
        the lease's fence."""
        fence = await self.lease.take(now)
        if fence is None or week is None:
            return fence
        async with self.db.transaction() as session:
            await self.lease.hold(session, fence)
            if await _exists(session, week.key):
                return fence
            summary = {"week": week.key.removeprefix("weekly:"), "due": week.due.isoformat()}
            report = AlertDigestRow(kind=KIND, key=week.key, created_at=now, summary=summary)
            session.add(report)
            await session.flush()
            session.add(AlertPostRow(digest_id=report.id, destination=DESTINATION, attempts=0))
        return fence

    async def pending(self, now: datetime, limit: int = 5) -> list[PendingReport]:
        """Reports not delivered yet, oldest first (those older than GIVE_UP_AFTER are not)."""
        async with self.db.reading() as session:
            rows = await session.execute(
                select(AlertPostRow, AlertDigestRow)
                .join(AlertDigestRow)
                .where(*_pending(now))
                .order_by(AlertPostRow.id)
                .limit(limit)
            )
            return [
                PendingReport(
                    post.id,
                    report.key,
                    datetime.fromisoformat(report.summary["due"]),
                    post.destination,
                    post.attempts,
                    report.summary.get("file_id"),
                )
                for post, report in rows.all()
            ]

    async def reserved(self, post_id: int, fence: int, file_id: str) -> None:
        """Record the file an attempt reserved, before it is completed."""

        async def work(session: AsyncSession) -> None:
            await self.lease.hold(session, fence)
            post = await session.get(AlertPostRow, post_id, with_for_update=True)
            if post is None or post.posted_at is not None:
                return
            report = await session.get(AlertDigestRow, post.digest_id, with_for_update=True)
            if report is not None:
                report.summary = {**report.summary, "file_id": file_id}

        await self.db.run(work)

    async def delivered(
        self, post_id: int, fence: int, channel_id: str, now: datetime | None = None
    ) -> None:
        """Record the delivery, under the lease that made it."""

        async def work(session: AsyncSession) -> None:
            await self.lease.hold(session, fence)
            post = await session.get(AlertPostRow, post_id, with_for_update=True)
            if post is not None and post.posted_at is None:
                post.channel_id = channel_id
                post.posted_at = now or datetime.now(UTC)
                post.attempts += 1
                post.last_error = None

        await self.db.run(work)

    async def failed(self, post_id: int, fence: int, error: str) -> None:
        async def work(session: AsyncSession) -> None:
            await self.lease.hold(session, fence)
            post = await session.get(AlertPostRow, post_id, with_for_update=True)
            if post is not None and post.posted_at is None:
                post.attempts += 1
                post.last_error = error[:500]

        await self.db.run(work)

    async def release(self) -> None:
        await self.lease.release()


async def _exists(session: AsyncSession, key: str) -> bool:
    found = await session.scalar(select(AlertDigestRow.id).where(AlertDigestRow.key == key))
    return found is not None


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    """Weekly reports not delivered, made within GIVE_UP_AFTER of `now`."""
    return [
        AlertDigestRow.kind == KIND,
        AlertDigestRow.created_at > now - GIVE_UP_AFTER,
        AlertPostRow.posted_at.is_(None),
    ]
