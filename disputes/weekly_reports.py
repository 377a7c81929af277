"""The weekly insights report: when it is due, and the record that makes it go out once.

Each ISO week has one report, keyed `weekly:<YYYY-Www>` in `alert_digests` (kind `weekly`), with
its delivery to the supervisors' channel in `alert_posts`. The report is made under its own
fenced lease (`disputes.leases`), so one replica of the cluster makes it; a delivery Slack
refused stays pending and is tried again at the next tick, and one recorded as delivered is
never sent again. The file an attempt reserved at Slack is recorded before the upload is
completed, so an attempt whose answer was lost can be recognised as delivered by the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.leases import Lease
from storage.db import Database
from storage.tables import AlertDigestRow, AlertPostRow

KIND = "weekly"
LEASE = "weekly_report"
DESTINATION = "supervisors"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WRITTEN = re.compile(r"([a-z]+)\s+([01]?\d|2[0-3]):([0-5]\d)")
# A report not delivered within this long of being made is given up: the next week's report
# takes its place.
GIVE_UP_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class WeeklyAt:
    """When the report goes out each week: a weekday (0 is Monday) and a time of day, in the
    SLA file's timezone."""

    weekday: int
    at: time

    @classmethod
    def parse(cls, text: str) -> WeeklyAt | None:
        """`mon 09:00` (a day's first three letters or its whole name, and HH:MM), or None
        for `off`; ValueError saying what is accepted otherwise."""
        words = " ".join(text.strip().lower().split())
        if words in ("", "off"):
            return None
        match = _WRITTEN.fullmatch(words)
        day = match[1] if match else ""
        if match is None or (day not in DAYS and day not in FULL_DAYS):
            raise ValueError(
                "expected a weekday and a time like mon 09:00 (mon … sun, HH:MM in the SLA "
                "file's timezone), or off"
            )
        weekday = DAYS.index(day) if day in DAYS else FULL_DAYS.index(day)
        return cls(weekday, time(int(match[2]), int(match[3])))

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class Week:
    """One ISO week's report: its key, and the moment it is due (UTC), which ends the seven
    days it sums up."""

    key: str
    due: datetime


def week_due(now: datetime, schedule: WeeklyAt, zone: tzinfo) -> Week | None:
    """The report of `now`'s ISO week (in `zone`) once its moment has come; None before it."""
    local = now.astimezone(zone)
    year, week, weekday = local.isocalendar()
    day = local.date() + timedelta(days=schedule.weekday - (weekday - 1))
    due = datetime.combine(day, schedule.at, tzinfo=zone)
    if local < due:
        return None
    return Week(f"weekly:{year}-W{week:02d}", due.astimezone(UTC))


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
