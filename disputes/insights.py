"""Insights: the KPIs and analyses of one period, read from the stored disputes.

Each section is one read, run concurrently on its own session: the disputes resolved
(`disputes.insight_resolved`), their surveys, the offers decided (`disputes.insight_offers`),
stage runs, refunds, recurring reasons and groups, and workload. The database counts and groups;
the definitions are those of `disputes.insight_stats` and the README.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, func, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.insight_groups import tag_counts
from disputes.insight_offers import effects, offers_decided
from disputes.insight_report import (
    Counts,
    FirstContact,
    Insights,
    Period,
    PersonLoad,
    RecurringGroup,
    RecurringReason,
    RefundsPaid,
    StageBreaches,
    TrendPoint,
    Workload,
)
from disputes.insight_resolved import UNASSIGNED, resolved_summary, within
from disputes.insight_stats import rise_p_value, share
from disputes.tags import Dimension
from domain.resolutions import Resolution
from policies.sla import SlaPolicy
from policies.sla_file import STAGES
from storage.db import Database, on_postgresql
from storage.tables import (
    DisputeRow,
    RefundRequestRow,
    SlaStageRunRow,
)

T = TypeVar("T")
FLAG_P = 0.01  # a rise is flagged below this p-value, divided among the groups of a dimension
FLAG_MIN = 5  # and only when the group counts at least this many disputes now
RECURRING_SHOWN = 10  # groups listed per dimension (every flagged one besides)
PEOPLE_SHOWN = 20
# Compiling these one-off reads costs PostgreSQL's JIT seconds it never wins back, and the
# percentiles' sorts of a period's disputes fit in memory (the default work_mem is 4 MB).
POSTGRES_SETTINGS = (
    "SET LOCAL jit = off",
    "SET LOCAL work_mem = '32MB'",
    "SET LOCAL max_parallel_workers_per_gather = 0",
)


class InsightsService:
    def __init__(self, db: Database, sla: SlaPolicy) -> None:
        self.db = db
        self.sla = sla

    async def report(self, period: Period) -> Insights:
        async with asyncio.TaskGroup() as reads:
            opened = reads.create_task(self._read(lambda s: count_opened(s, period)))
            resolved_task = reads.create_task(
                self._read(lambda s: resolved_summary(s, period, self.sla))
            )
            breaches = reads.create_task(self._read(lambda s: stage_breaches(s, period)))
            refunds = reads.create_task(self._read(lambda s: refunds_paid(s, period)))
            reasons = reads.create_task(self._read(lambda s: reason_counts(s, period)))
            tags = reads.create_task(self._read(lambda s: tag_counts(s, period)))
            offers = reads.create_task(self._read(lambda s: offers_decided(s, period)))
            workload = reads.create_task(self._read(lambda s: workload_of(s, period, self.sla)))
        resolved = resolved_task.result()
        evidence_effect, citation_effect = effects(offers.result())
        return Insights(
            period=period,
            disputes=Counts(opened=opened.result(), resolved=resolved.resolved),
            time_to_resolve_hours=resolved.hours,
            time_to_resolve_business_hours=resolved.business_hours,
            time_to_resolve_by_reason=resolved.by_reason,
            time_to_resolve_by_owner=resolved.by_owner,
            first_contact_resolution_rate=share(resolved.first_contact, resolved.resolved),
            first_contact=FirstContact(
                resolved=resolved.resolved, first_contact=resolved.first_contact
            ),
            csat=resolved.csat,
            sla_breach_rate=breaches.result(),
            refunds_paid=refunds.result(),
            resolutions=resolved.resolutions,
            overturn_rate=share(
                resolved.resolutions.get(Resolution.OVERTURN.value, 0), resolved.resolved
            ),
            recurring_reasons=recurring_reasons(reasons.result()),
            recurring=recurring_groups(tags.result(), reasons.result()),
            evidence_effect=evidence_effect,
            citation_effect=citation_effect,
            workload=workload.result(),
        )

    async def trend(self, end: datetime, weeks: int = 8) -> list[TrendPoint]:
        """The `weeks` whole weeks before `end`, oldest first."""
        first = end - timedelta(weeks=weeks)
        spans = [
            Period(
                label=f"week {i + 1}",
                start=first + timedelta(weeks=i),
                end=first + timedelta(weeks=i + 1),
            )
            for i in range(weeks)
        ]
        points = await asyncio.gather(*(self._week(span) for span in spans))
        return list(points)

    async def _week(self, span: Period) -> TrendPoint:
        opened, resolved = await asyncio.gather(
            self._read(lambda s: count_opened(s, span)),
            self._read(lambda s: resolved_summary(s, span, self.sla)),
        )
        return TrendPoint(
            start=span.start,
            end=span.end,
            opened=opened,
            resolved=resolved.resolved,
            median_hours=resolved.hours.median,
            csat_score=resolved.csat.score,
        )

    async def _read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with report_session(self.db) as session:
            return await work(session)


@asynccontextmanager
async def report_session(db: Database) -> AsyncIterator[AsyncSession]:
    """A read session as each section of a report runs on."""
    async with db.reading() as session:
        if on_postgresql(session):
            for setting in POSTGRES_SETTINGS:
                await session.execute(text(setting))
        yield session


# -- the reads ------------------------------------------------------------------------------


async def count_opened(session: AsyncSession, period: Period) -> int:
    query = (
        select(func.count()).select_from(DisputeRow).where(within(DisputeRow.created_at, period))
    )
    return int(await session.scalar(query) or 0)


async def stage_breaches(session: AsyncSession, period: Period) -> list[StageBreaches]:
    runs = SlaStageRunRow
    rows = await session.execute(
        select(runs.stage, func.count(), func.sum(case((runs.breached, 1), else_=0)))
        .where(within(runs.left_at, period))
        .group_by(runs.stage)
    )
    found = {stage: (int(total), int(breached or 0)) for stage, total, breached in rows}
    return [
        StageBreaches(
            stage=stage,
            runs=found.get(stage, (0, 0))[0],
            breached=found.get(stage, (0, 0))[1],
            rate=share(found.get(stage, (0, 0))[1], found.get(stage, (0, 0))[0]),
        )
        for stage in STAGES
    ]


async def refunds_paid(session: AsyncSession, period: Period) -> list[RefundsPaid]:
    r = RefundRequestRow
    rows = await session.execute(
        select(r.currency, func.count(), func.sum(r.amount_minor))
        .where(r.status == "succeeded", within(r.updated_at, period))
        .group_by(r.currency)
        .order_by(r.currency)
    )
    return [
        RefundsPaid(currency=currency, refunds=int(n), amount_minor=int(total or 0))
        for currency, n, total in rows
    ]


def _now_and_before(column: Any, period: Period) -> tuple[Any, Any]:
    current = func.sum(case((column >= period.start, 1), else_=0))
    return current, func.count() - current


async def reason_counts(session: AsyncSession, period: Period) -> list[tuple[str, int, int]]:
    """(reason, disputes opened now, disputes opened in the previous period)."""
    both = Period(label=period.label, start=period.previous.start, end=period.end)
    current, previous = _now_and_before(DisputeRow.created_at, period)
    rows = await session.execute(
        select(DisputeRow.reason, current, previous)
        .where(within(DisputeRow.created_at, both))
        .group_by(DisputeRow.reason)
    )
    return [(reason, int(now or 0), int(before or 0)) for reason, now, before in rows]


def recurring_reasons(counted: Sequence[tuple[str, int, int]]) -> list[RecurringReason]:
    return [
        RecurringReason(reason=value, count=now, previous=before, flagged=flag, p_value=p)
        for value, now, before, flag, p in rises(counted)
    ]


def recurring_groups(
    tags: Iterable[tuple[str, str, int, int]], reasons: Sequence[tuple[str, int, int]]
) -> dict[str, list[RecurringGroup]]:
    """Each dimension's groups, against all disputes now and before (every dispute has one
    reason, so the reasons' counts sum up to them)."""
    by_dimension: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for dimension, value, now, before in tags:
        by_dimension[dimension].append((value, now, before))
    total = (sum(now for _, now, _ in reasons), sum(before for _, _, before in reasons))
    return {
        dimension.value: [
            RecurringGroup(value=value, count=now, previous=before, flagged=flag, p_value=p)
            for value, now, before, flag, p in rises(by_dimension[dimension.value], total)
        ]
        for dimension in Dimension
    }


def rises(
    counted: Sequence[tuple[str, int, int]], totals: tuple[int, int] | None = None
) -> list[tuple[str, int, int, bool, float | None]]:
    """Each group's counts now and before, whether its rise is beyond normal variation, and
    the p-value of that test (None without a previous period to compare with). `totals` are all
    disputes now and before (the groups' own sums when they partition the disputes)."""
    now_total, before_total = totals or (
        sum(now for _, now, _ in counted),
        sum(before for _, _, before in counted),
    )
    comparable = before_total > 0 and now_total > 0
    share_now = now_total / (now_total + before_total) if comparable else 0.0
    threshold = FLAG_P / max(len(counted), 1)
    tested: list[tuple[str, int, int, bool, float | None]] = []
    for value, now, before in counted:
        # At or below its expected count a group's p-value is at least about 1/2: only a
        # group above it, with FLAG_MIN disputes, can be flagged (its p-value computed now).
        candidate = comparable and now >= FLAG_MIN and now > share_now * (now + before)
        p = rise_p_value(now, before, share_now) if candidate else None
        tested.append((value, now, before, p is not None and p < threshold, p))
    tested.sort(key=lambda group: (not group[3], -group[1], group[0]))
    flagged = [group for group in tested if group[3]]
    rest = [group for group in tested if not group[3]]
    shown = flagged + rest[: max(RECURRING_SHOWN - len(flagged), 0)]
    if not comparable:
        return shown
    return [
        (value, now, before, flag, rise_p_value(now, before, share_now) if p is None else p)
        for value, now, before, flag, p in shown
    ]


async def workload_of(session: AsyncSession, period: Period, sla: SlaPolicy) -> Workload:
    """Open and high-priority disputes per owner at the end of each day (each week when the
    period is longer than 31 days), by each dispute's current owner and priority.

    A dispute is open at point t when created_at <= t < closed_at: a run of consecutive points,
    from the first point at or after its opening to the first at or after its closing. The
    database counts the disputes of each (owner, priority, first point, last point)."""
    points = sample_points(period)
    d = DisputeRow
    columns = (d.owner_id, d.priority, d.created_at, d.closed_at)
    alive = union_all(  # two index ranges rather than a scan for an OR
        select(*columns).where(d.closed_at.is_(None), d.created_at < period.end),
        select(*columns).where(d.closed_at > period.start, d.created_at < period.end),
    ).subquery()
    first = _point_index(alive.c.created_at, points)
    last = case(
        (alive.c.closed_at.is_(None), len(points)), else_=_point_index(alive.c.closed_at, points)
    )
    rows = await session.execute(
        select(alive.c.owner_id, alive.c.priority, first, last, func.count()).group_by(
            alive.c.owner_id, alive.c.priority, first, last
        )
    )
    open_at: dict[str, list[int]] = defaultdict(lambda: [0] * (len(points) + 1))
    high_at: dict[str, list[int]] = defaultdict(lambda: [0] * (len(points) + 1))
    for owner, priority, start, stop, disputes in rows:
        if start >= stop:
            continue
        key = owner or UNASSIGNED
        _add_run(open_at[key], start, stop, disputes)
        if sla.is_high(priority):
            _add_run(high_at[key], start, stop, disputes)
    people = [
        PersonLoad(owner=owner, open=_totals(steps)[:-1], high=_totals(high_at[owner])[:-1])
        for owner, steps in open_at.items()
    ]
    people.sort(key=lambda p: (-p.open[-1], -p.high[-1], p.owner) if points else (0, 0, p.owner))
    return Workload(points=points, people=people[:PEOPLE_SHOWN])


def _point_index(column: Any, points: Sequence[datetime]) -> Any:
    """The index of the first point at or after `column` (len(points) when none is)."""
    if not points:
        return literal(0)
    return case(
        *((column <= point, index) for index, point in enumerate(points)), else_=len(points)
    )


def sample_points(period: Period) -> list[datetime]:
    step = timedelta(days=7 if period.end - period.start > timedelta(days=31) else 1)
    points = []
    at = period.end
    while at > period.start:
        points.append(at)
        at -= step
    return sorted(points)


def _add_run(steps: list[int], first: int, last: int, disputes: int) -> None:
    steps[first] += disputes
    steps[last] -= disputes


def _totals(steps: list[int]) -> list[int]:
    running, out = 0, []
    for step in steps:
        running += step
        out.append(running)
    return out
