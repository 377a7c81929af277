"""The scan: every `ALERT_SCAN_EVERY` seconds, once per cluster, it brings the clocks that are due
up to date, raises the alerts they call for (each once), and gathers the new ones into a digest.

Once per cluster: the scan runs under its fenced lease (`disputes.leases`), and every write it
makes checks that it still holds it, so a replica that paused past its lease cannot write after
another took over. Disputes are
re-clocked a batch at a time, each clock computed on its own: one that fails is logged, looked
at again later, and the rest of the scan goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.alerts import (
    Draft,
    Kind,
    State,
    alert_values,
    dispute_subject,
    drafts_for,
    person_subject,
    raise_all,
    raise_once,
    still_holds,
)
from disputes.assignment import candidates
from disputes.leases import Lease, LostLease
from disputes.lifecycle import CLOSED
from disputes.roles import CurrentRoles
from disputes.sla_clock import clock_of
from policies.sla import Level, SlaPolicy
from storage.db import Database, on_postgresql
from storage.tables import AlertDigestRow, AlertPostRow, DisputeRow, SlaAlertRow

log = logging.getLogger(__name__)

LEASE = "sla_scan"
# The clock columns the scan writes (people's writes recompute them before each flush).
CLOCK_COLUMNS = (
    "priority",
    "sla_stage",
    "sla_entered_at",
    "sla_due_at",
    "sla_level",
    "sla_check_at",
)
# A dispute whose clock could not be computed is looked at again after this.
BROKEN_RETRY = timedelta(minutes=5)
# Alerts one digest carries at most; the rest wait for the next scan.
DIGEST_LIMIT = 200
# What the scan posts (the weekly insights report shares the tables and posts itself).
DIGEST_KINDS = ("digest", "summary")
CLOSED_VALUES = tuple(status.value for status in CLOSED)


@dataclass
class ScanReport:
    held_lease: bool = False
    reclocked: int = 0
    raised: int = 0
    failed: int = 0
    dropped: int = 0
    digest_id: int | None = None
    summary_id: int | None = None
    quiet: bool = False
    # Disputes whose priority, stage or level changed: their parent messages show it.
    changed: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingPost:
    post_id: int
    digest_id: int
    destination: str
    attempts: int


class SlaScan:
    """One replica's scanner: `holder` names it in the lease, `destinations` are where its
    digests go (the Slack side maps each name to a channel or a person), `summary_at` is when
    the daily summary goes out, in the SLA file's timezone."""

    def __init__(
        self,
        db: Database,
        sla: SlaPolicy,
        roles: CurrentRoles | None = None,
        *,
        holder: str | None = None,
        destinations: Sequence[str] = (),
        batch: int = 500,
        lease_for: timedelta = timedelta(seconds=60),
        summary_at: time | None = None,
        most_per_scan: int = 20_000,
    ) -> None:
        self.db = db
        self.sla = sla
        self.roles = roles
        self.lease = Lease(db, LEASE, holder=holder, lease_for=lease_for)
        self.destinations = tuple(destinations)
        self.batch = batch
        self.summary_at = summary_at
        self.most_per_scan = most_per_scan

    @property
    def holder(self) -> str:
        return self.lease.holder

    @property
    def lease_for(self) -> timedelta:
        return self.lease.lease_for

    @property
    def fence(self) -> int | None:
        """The fence of the lease this scanner took last."""
        return self.lease.fence

    async def run_once(self, now: datetime | None = None) -> ScanReport:
        """One scan at `now`; nothing when another replica holds the lease."""
        now = now or datetime.now(UTC)
        report = ScanReport()
        fence = await self.take_lease(now)
        if fence is None:
            return report
        report.held_lease = True
        try:
            await self._reclock(now, fence, report)
            over = await self._over_cap(now, fence, report)
            await self._wake_snoozed(now, fence)
            if self.sla.in_quiet_hours(now):
                report.quiet = True
                return report
            report.digest_id = await self._digest(now, fence, over, report)
            report.summary_id = await self._summary(now, fence)
        except LostLease:
            log.warning("the SLA scan's lease passed to another replica mid-scan")
            report.held_lease = False
        return report

    # The lease.

    async def take_lease(self, now: datetime) -> int | None:
        """The fence of the lease this replica now holds (renewed), or None."""
        return await self.lease.take(now)

    async def _hold(self, session: AsyncSession, fence: int) -> None:
        await self.lease.hold(session, fence)

    async def release(self) -> None:
        """Give the lease up (at shutdown), so another replica scans without waiting it out."""
        await self.lease.release()

    # Clocks.

    async def _reclock(self, now: datetime, fence: int, report: ScanReport) -> None:
        """The due disputes, a batch per transaction: each clock is computed on its own (one
        that fails is set aside for BROKEN_RETRY), then written with one statement, and the
        alerts they call for are raised with another."""
        while report.reclocked + report.failed < self.most_per_scan:
            async with self.db.transaction() as session:
                await self._hold(session, fence)
                query = (
                    select(DisputeRow)
                    .where(DisputeRow.sla_check_at <= now)
                    .order_by(DisputeRow.sla_check_at)
                    .limit(self.batch)
                )
                if on_postgresql(session):
                    query = query.with_for_update(skip_locked=True)
                rows = (await session.scalars(query)).all()
                clocks: list[dict[str, Any]] = []
                alerts: list[dict[str, Any]] = []
                for row in rows:
                    clocks.append(self._clock_values(row, now, report, alerts))
                if clocks:
                    # The table, not the mapped class: the row's version stays as it was.
                    table = cast(Table, DisputeRow.__table__)
                    await session.execute(
                        update(table)
                        .where(table.c.id == bindparam("row_id"))
                        .values({name: bindparam(name) for name in CLOCK_COLUMNS}),
                        clocks,
                    )
                report.raised += await raise_all(session, alerts)
            if len(rows) < self.batch:
                return

    def _clock_values(
        self,
        row: DisputeRow,
        now: datetime,
        report: ScanReport,
        alerts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The row's new clock columns, and its alerts added to `alerts`; a row whose clock
        cannot be computed keeps its columns and is looked at again after BROKEN_RETRY."""
        kept = {name: getattr(row, name) for name in CLOCK_COLUMNS}
        try:
            clock = clock_of(row, self.sla, now)
            drafts = drafts_for(row, clock, self.sla)
        except Exception:
            log.exception("the clock of D-%s could not be brought up to date", row.number)
            report.failed += 1
            return {**kept, "row_id": row.id, "sla_check_at": now + BROKEN_RETRY}
        report.reclocked += 1
        if (row.priority, row.sla_stage, row.sla_level) != (
            clock.priority,
            clock.stage,
            clock.level.value,
        ):
            report.changed.append(row.number)
        subject = dispute_subject(row.id)
        alerts.extend(alert_values(subject, draft, now, row.id) for draft in drafts)
        return {
            "row_id": row.id,
            "priority": clock.priority,
            "sla_stage": clock.stage,
            "sla_entered_at": clock.entered_at,
            "sla_due_at": clock.due_at,
            "sla_level": clock.level.value,
            "sla_check_at": clock.check_at,
        }

    # People.

    async def _over_cap(self, now: datetime, fence: int, report: ScanReport) -> set[str]:
        """People holding more open disputes than their cap: raised once a day each."""
        if self.roles is None:
            return set()
        roles = self.roles.current()
        if not roles.auto_assigns:
            return set()
        day = now.astimezone(self.sla.calendar.zone).date().isoformat()
        async with self.db.transaction() as session:
            await self._hold(session, fence)
            over = [
                c
                for c in await candidates(session, roles)
                if c.cap is not None and c.open_count > c.cap
            ]
            for held in over:
                draft = Draft(Kind.OVER_CAP, day, {"open": held.open_count, "cap": held.cap})
                subject = person_subject(held.user_id)
                report.raised += await raise_once(session, subject, draft, now)
        return {held.user_id for held in over}

    # Snoozes.

    async def _wake_snoozed(self, now: datetime, fence: int) -> None:
        async with self.db.transaction() as session:
            await self._hold(session, fence)
            await session.execute(
                update(SlaAlertRow)
                .where(
                    SlaAlertRow.state == State.SNOOZED.value,
                    SlaAlertRow.snoozed_until <= now,
                )
                .values(state=State.PENDING.value, snoozed_until=None, digest_id=None)
                .execution_options(synchronize_session=False)
            )

    # Digests.

    async def _digest(
        self, now: datetime, fence: int, over: set[str], report: ScanReport
    ) -> int | None:
        """Gather the pending alerts that still hold into one digest with a post per
        destination; alerts that stopped holding are dropped."""
        if not self.destinations:
            return None
        async with self.db.transaction() as session:
            await self._hold(session, fence)
            query = (
                select(SlaAlertRow, DisputeRow)
                .outerjoin(DisputeRow, DisputeRow.id == SlaAlertRow.dispute_id)
                .where(SlaAlertRow.state == State.PENDING.value)
                .order_by(SlaAlertRow.id)
                .limit(DIGEST_LIMIT)
            )
            if on_postgresql(session):  # two scans at once never gather one alert twice
                query = query.with_for_update(of=SlaAlertRow, skip_locked=True)
            rows = await session.execute(query)
            keep: list[SlaAlertRow] = []
            for alert, row in rows.all():
                if still_holds(alert, row, over):
                    keep.append(alert)
                else:
                    alert.state = State.DROPPED.value
                    report.dropped += 1
            if not keep:
                return None
            digest = AlertDigestRow(
                kind="digest", key=f"digest:{fence}:{uuid4().hex}", created_at=now, summary={}
            )
            session.add(digest)
            await session.flush()
            for alert in keep:
                alert.state = State.SENT.value
                alert.digest_id = digest.id
            for destination in self.destinations:
                session.add(AlertPostRow(digest_id=digest.id, destination=destination, attempts=0))
            return digest.id

    async def _summary(self, now: datetime, fence: int) -> int | None:
        """The day's summary, once, at `summary_at` (the SLA file's timezone) on business days."""
        if self.summary_at is None or not self.destinations:
            return None
        local = now.astimezone(self.sla.calendar.zone)
        if local.time() < self.summary_at or local.weekday() not in self.sla.calendar.days:
            return None
        key = f"summary:{local.date().isoformat()}"
        async with self.db.transaction() as session:
            await self._hold(session, fence)
            if await session.scalar(select(AlertDigestRow.id).where(AlertDigestRow.key == key)):
                return None
            counts = await summary_counts(session)
            if not counts["open"]:
                return None  # nothing open, nothing to sum up (a later scan today may)
            digest = AlertDigestRow(kind="summary", key=key, created_at=now, summary=counts)
            session.add(digest)
            await session.flush()
            for destination in self.destinations:
                session.add(AlertPostRow(digest_id=digest.id, destination=destination, attempts=0))
            return digest.id

    # Posts (the Slack side posts them; these keep the record).

    async def pending_posts(self, limit: int = 20) -> list[PendingPost]:
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(AlertPostRow)
                .join(AlertDigestRow, AlertDigestRow.id == AlertPostRow.digest_id)
                .where(
                    AlertPostRow.posted_at.is_(None),
                    AlertDigestRow.kind.in_(DIGEST_KINDS),
                )
                .order_by(AlertPostRow.id)
                .limit(limit)
            )
            return [PendingPost(r.id, r.digest_id, r.destination, r.attempts) for r in rows]

    async def posted(
        self, post_id: int, fence: int, channel_id: str, ts: str, now: datetime | None = None
    ) -> None:
        """Record Slack's answer to a post, under the lease that made it."""

        async def work(session: AsyncSession) -> None:
            await self._hold(session, fence)
            post = await session.get(AlertPostRow, post_id, with_for_update=True)
            if post is not None and post.posted_at is None:
                post.channel_id = channel_id
                post.message_ts = ts
                post.posted_at = now or datetime.now(UTC)
                post.attempts += 1

        await self.db.run(work)

    async def post_failed(self, post_id: int, fence: int, error: str) -> None:
        async def work(session: AsyncSession) -> None:
            await self._hold(session, fence)
            post = await session.get(AlertPostRow, post_id, with_for_update=True)
            if post is not None and post.posted_at is None:
                post.attempts += 1
                post.last_error = error[:500]

        await self.db.run(work)


async def summary_counts(session: AsyncSession) -> dict[str, Any]:
    """The open disputes at a glance: by level and stage, unassigned, and per owner."""
    open_rows = DisputeRow.status.not_in(CLOSED_VALUES)
    by_level = dict(
        (
            await session.execute(
                select(DisputeRow.sla_level, func.count())
                .where(open_rows)
                .group_by(DisputeRow.sla_level)
            )
        ).all()
    )
    stuck = DisputeRow.sla_level.in_([Level.WARNING.value, Level.BREACHED.value])
    by_stage = dict(
        (
            await session.execute(
                select(DisputeRow.sla_stage, func.count())
                .where(open_rows, stuck)
                .group_by(DisputeRow.sla_stage)
            )
        ).all()
    )
    unassigned = await session.scalar(
        select(func.count()).where(open_rows, DisputeRow.owner_id.is_(None))
    )
    owners = (
        await session.execute(
            select(DisputeRow.owner_id, func.count())
            .where(open_rows, DisputeRow.owner_id.is_not(None), stuck)
            .group_by(DisputeRow.owner_id)
            .order_by(func.count().desc(), DisputeRow.owner_id)
            .limit(10)
        )
    ).all()
    return {
        "open": sum(by_level.values()),
        "warning": by_level.get(Level.WARNING.value, 0),
        "breached": by_level.get(Level.BREACHED.value, 0),
        "stuck_by_stage": {str(k): v for k, v in by_stage.items()},
        "unassigned": unassigned or 0,
        "stuck_by_owner": [[str(owner), count] for owner, count in owners],
    }
