"""Insights: the KPIs and analyses of one period, read from the stored disputes.

Each section is one read (`Sections`), run concurrently on its own session; the numbers are
computed here from the rows, by the definitions in `disputes.insight_stats` and the README.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from disputes.insight_report import (
    FCR_DAYS,
    MIN_SAMPLE,
    TOO_FEW,
    Counts,
    Csat,
    Effect,
    FirstContact,
    GroupSpread,
    Insights,
    Outcome,
    Period,
    PersonLoad,
    RecurringGroup,
    RecurringReason,
    RefundsPaid,
    Spread,
    StageBreaches,
    TrendPoint,
    Workload,
)
from disputes.insight_stats import mean, median_interval, percentile, rise_p_value, share, wilson
from disputes.milestones import business_seconds
from disputes.tags import Dimension
from domain.resolutions import Resolution
from policies.sla import SlaPolicy
from policies.sla_file import STAGES
from storage.db import Database, on_postgresql
from storage.tables import (
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
    RefundRequestRow,
    SlaStageRunRow,
)

T = TypeVar("T")
HOUR = 3600.0
FLAG_P = 0.01  # a rise is flagged below this p-value, divided among the groups of a dimension
FLAG_MIN = 5  # and only when the group counts at least this many disputes now
RECURRING_SHOWN = 10  # groups listed per dimension (every flagged one besides)
RULES_SHOWN = 15
PEOPLE_SHOWN = 20
UNASSIGNED = "unassigned"
DECIDED = ("accepted", "declined", "expired")


@dataclass(frozen=True, slots=True)
class Resolved:
    """One dispute resolved in the period, with what its KPIs need."""

    reason: str
    owner: str
    hours: float
    business_hours: float
    first_contact: bool
    rating: int | None
    surveyed: bool
    resolution: str | None


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer decided in the period, with the evidence kinds on file and the rules cited
    when it was made."""

    accepted: bool
    hours_to_accept: float | None
    kinds: frozenset[str]
    rules: frozenset[str]


class InsightsService:
    def __init__(self, db: Database, sla: SlaPolicy) -> None:
        self.db = db
        self.sla = sla

    async def report(self, period: Period) -> Insights:
        async with asyncio.TaskGroup() as reads:
            opened_task = reads.create_task(self._read(lambda s: count_opened(s, period)))
            resolved_task = reads.create_task(
                self._read(lambda s: resolved_in(s, period, self.sla))
            )
            breaches = reads.create_task(self._read(lambda s: stage_breaches(s, period)))
            refunds = reads.create_task(self._read(lambda s: refunds_paid(s, period)))
            reasons = reads.create_task(self._read(lambda s: recurring_reasons(s, period)))
            groups = reads.create_task(self._read(lambda s: recurring_groups(s, period)))
            offers_task = reads.create_task(self._read(lambda s: offers_decided(s, period)))
            workload = reads.create_task(self._read(lambda s: workload_of(s, period, self.sla)))
        opened, resolved, offers = (
            opened_task.result(),
            resolved_task.result(),
            offers_task.result(),
        )
        kinds = sorted({kind for offer in offers for kind in offer.kinds})
        rules = Counter(rule for offer in offers for rule in offer.rules)
        resolutions = Counter(d.resolution for d in resolved if d.resolution)
        first = sum(d.first_contact for d in resolved)
        return Insights(
            period=period,
            disputes=Counts(opened=opened, resolved=len(resolved)),
            time_to_resolve_hours=spread([d.hours for d in resolved]),
            time_to_resolve_business_hours=spread([d.business_hours for d in resolved]),
            time_to_resolve_by_reason=by_group(resolved, lambda d: d.reason),
            time_to_resolve_by_owner=by_group(resolved, lambda d: d.owner),
            first_contact_resolution_rate=share(first, len(resolved)),
            first_contact=FirstContact(resolved=len(resolved), first_contact=first),
            csat=csat_of(resolved),
            sla_breach_rate=breaches.result(),
            refunds_paid=refunds.result(),
            resolutions=dict(sorted(resolutions.items())),
            overturn_rate=share(resolutions[Resolution.OVERTURN.value], len(resolved)),
            recurring_reasons=reasons.result(),
            recurring=groups.result(),
            evidence_effect=[effect(kind, offers, lambda o: o.kinds) for kind in kinds],
            citation_effect=[
                effect(rule, offers, lambda o: o.rules)
                for rule, _ in rules.most_common(RULES_SHOWN)
            ],
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
            self._read(lambda s: resolved_in(s, span, self.sla)),
        )
        return TrendPoint(
            start=span.start,
            end=span.end,
            opened=opened,
            resolved=len(resolved),
            median_hours=spread([d.hours for d in resolved]).median,
            csat_score=csat_of(resolved).score,
        )

    async def _read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.db.reading() as session:
            if on_postgresql(session):
                # Compiling these one-off reads costs PostgreSQL's JIT seconds it never wins back.
                await session.execute(text("SET LOCAL jit = off"))
            return await work(session)


# -- the reads ------------------------------------------------------------------------------


def _within(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


async def count_opened(session: AsyncSession, period: Period) -> int:
    query = (
        select(func.count()).select_from(DisputeRow).where(_within(DisputeRow.created_at, period))
    )
    return int(await session.scalar(query) or 0)


def resolved_query(period: Period) -> Select[Any]:
    """The disputes first resolved in the period, with their offers, survey, approved
    resolution, and the next dispute opened on the same order after the resolution."""
    d = DisputeRow
    later = aliased(DisputeRow)
    offers = (
        select(func.count())
        .where(CustomerOfferRow.dispute_id == d.id)
        .correlate(d)
        .scalar_subquery()
    )
    declines = (
        select(func.count())
        .where(CustomerOfferRow.dispute_id == d.id, CustomerOfferRow.status == "declined")
        .correlate(d)
        .scalar_subquery()
    )
    next_on_order = (
        select(func.min(later.created_at))
        .where(later.order_id == d.order_id, later.id != d.id, later.created_at > d.resolved_at)
        .correlate(d)
        .scalar_subquery()
    )
    resolution = (
        select(ProposalRow.kind)
        .where(ProposalRow.dispute_id == d.id, ProposalRow.status == "approved")
        .order_by(ProposalRow.id.desc())
        .limit(1)
        .correlate(d)
        .scalar_subquery()
    )
    return (
        select(
            d.reason,
            d.owner_id,
            d.created_at,
            d.resolved_at,
            d.resolve_business_seconds,
            d.reopened_at,
            offers.label("offers"),
            declines.label("declines"),
            next_on_order.label("next_on_order"),
            resolution.label("resolution"),
            CsatRow.id.label("survey"),
            CsatRow.rating,
        )
        .outerjoin(CsatRow, CsatRow.dispute_id == d.id)
        .where(_within(d.resolved_at, period))
    )


async def resolved_in(session: AsyncSession, period: Period, sla: SlaPolicy) -> list[Resolved]:
    rows = (await session.execute(resolved_query(period))).all()
    return [_resolved(row, sla) for row in rows]


def _resolved(row: Any, sla: SlaPolicy) -> Resolved:
    resolved_at: datetime = row.resolved_at
    business = row.resolve_business_seconds
    if business is None:  # resolved before milestones were kept: measured on today's calendar
        business = business_seconds(row.created_at, resolved_at, sla)
    return Resolved(
        reason=row.reason,
        owner=row.owner_id or UNASSIGNED,
        hours=(resolved_at - row.created_at).total_seconds() / HOUR,
        business_hours=business / HOUR,
        first_contact=first_contact(
            resolved_at, row.offers, row.declines, row.reopened_at, row.next_on_order
        ),
        rating=row.rating,
        surveyed=row.survey is not None,
        resolution=row.resolution,
    )


def first_contact(
    resolved_at: datetime,
    offers: int,
    declines: int,
    reopened_at: datetime | None,
    next_on_order: datetime | None,
) -> bool:
    """Closed after the first offer the customer saw (no decline, no second offer; or with no
    offer at all), not reopened and no new dispute on the order within FCR_DAYS."""
    window = resolved_at + timedelta(days=FCR_DAYS)
    if offers > 1 or declines > 0:
        return False
    if reopened_at is not None and reopened_at <= window:
        return False
    return not (next_on_order is not None and next_on_order <= window)


async def stage_breaches(session: AsyncSession, period: Period) -> list[StageBreaches]:
    runs = SlaStageRunRow
    rows = await session.execute(
        select(runs.stage, func.count(), func.sum(case((runs.breached, 1), else_=0)))
        .where(_within(runs.left_at, period))
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
        .where(r.status == "succeeded", _within(r.updated_at, period))
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


async def recurring_reasons(session: AsyncSession, period: Period) -> list[RecurringReason]:
    both = Period(label=period.label, start=period.previous.start, end=period.end)
    current, previous = _now_and_before(DisputeRow.created_at, period)
    rows = (
        await session.execute(
            select(DisputeRow.reason, current, previous)
            .where(_within(DisputeRow.created_at, both))
            .group_by(DisputeRow.reason)
        )
    ).all()
    counted = [(reason, int(now or 0), int(before or 0)) for reason, now, before in rows]
    return [
        RecurringReason(reason=value, count=now, previous=before, flagged=flag, p_value=p)
        for value, now, before, flag, p in rises(counted)
    ]


async def recurring_groups(
    session: AsyncSession, period: Period
) -> dict[str, list[RecurringGroup]]:
    both = Period(label=period.label, start=period.previous.start, end=period.end)
    totals = (
        await session.execute(
            select(*_now_and_before(DisputeRow.created_at, period)).where(
                _within(DisputeRow.created_at, both)
            )
        )
    ).one()
    t = DisputeTagRow
    current, previous = _now_and_before(t.opened_at, period)
    rows = (
        await session.execute(
            select(t.dimension, t.value, current, previous)
            .where(_within(t.opened_at, both))
            .group_by(t.dimension, t.value)
        )
    ).all()
    by_dimension: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for dimension, value, now, before in rows:
        by_dimension[dimension].append((value, int(now or 0), int(before or 0)))
    total = (int(totals[0] or 0), int(totals[1] or 0))
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
    if before_total == 0 or now_total == 0:
        tested: list[tuple[str, int, int, bool, float | None]] = [
            (value, now, before, False, None) for value, now, before in counted
        ]
    else:
        current_share = now_total / (now_total + before_total)
        threshold = FLAG_P / max(len(counted), 1)
        tested = []
        for value, now, before in counted:
            p = rise_p_value(now, before, current_share)
            tested.append((value, now, before, now >= FLAG_MIN and p < threshold, p))
    tested.sort(key=lambda group: (not group[3], -group[1], group[0]))
    flagged = [group for group in tested if group[3]]
    rest = [group for group in tested if not group[3]]
    return flagged + rest[: max(RECURRING_SHOWN - len(flagged), 0)]


async def offers_decided(session: AsyncSession, period: Period) -> list[Offer]:
    o = CustomerOfferRow
    decided = (
        select(o.id, o.dispute_id, o.status, o.created_at, o.answered_at)
        .where(
            or_(
                and_(o.status.in_(("accepted", "declined")), _within(o.answered_at, period)),
                and_(o.status == "expired", _within(o.expires_at, period)),
            )
        )
        .subquery()
    )
    offers = (await session.execute(select(decided))).all()
    kinds = await _on_file(
        session,
        select(decided.c.id, EvidenceRow.kind).join(
            EvidenceRow,
            and_(
                EvidenceRow.dispute_id == decided.c.dispute_id,
                EvidenceRow.captured_at <= decided.c.created_at,
            ),
        ),
    )
    t = DisputeTagRow
    rules = await _on_file(
        session,
        select(decided.c.id, t.value).join(
            t,
            and_(
                t.dispute_id == decided.c.dispute_id,
                t.dimension == Dimension.RULE.value,
                t.added_at <= decided.c.created_at,
            ),
        ),
    )
    return [
        Offer(
            accepted=row.status == "accepted",
            hours_to_accept=(row.answered_at - row.created_at).total_seconds() / HOUR
            if row.status == "accepted" and row.answered_at
            else None,
            kinds=frozenset(kinds.get(row.id, ())),
            rules=frozenset(rules.get(row.id, ())),
        )
        for row in offers
    ]


async def _on_file(session: AsyncSession, pairs: Select[Any]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for offer_id, value in await session.execute(pairs.distinct()):
        found[offer_id].add(value)
    return found


async def workload_of(session: AsyncSession, period: Period, sla: SlaPolicy) -> Workload:
    """Open and high-priority disputes per owner at the end of each day (each week when the
    period is longer than 31 days), by each dispute's current owner and priority."""
    points = sample_points(period)
    d = DisputeRow
    rows = await session.execute(
        select(d.owner_id, d.priority, d.created_at, d.closed_at).where(
            d.created_at < period.end,
            or_(d.closed_at.is_(None), d.closed_at > period.start),
        )
    )
    open_at: dict[str, list[int]] = defaultdict(lambda: [0] * (len(points) + 1))
    high_at: dict[str, list[int]] = defaultdict(lambda: [0] * (len(points) + 1))
    for owner, priority, created_at, closed_at in rows:
        # Open at point t when created_at <= t < closed_at: a run of consecutive points.
        first = bisect.bisect_left(points, created_at)
        last = bisect.bisect_left(points, closed_at) if closed_at else len(points)
        if first >= last:
            continue
        key = owner or UNASSIGNED
        _add_run(open_at[key], first, last)
        if sla.is_high(priority):
            _add_run(high_at[key], first, last)
    people = [
        PersonLoad(owner=owner, open=_totals(steps)[:-1], high=_totals(high_at[owner])[:-1])
        for owner, steps in open_at.items()
    ]
    people.sort(key=lambda p: (-p.open[-1], -p.high[-1], p.owner) if points else (0, 0, p.owner))
    return Workload(points=points, people=people[:PEOPLE_SHOWN])


def sample_points(period: Period) -> list[datetime]:
    step = timedelta(days=7 if period.end - period.start > timedelta(days=31) else 1)
    points = []
    at = period.end
    while at > period.start:
        points.append(at)
        at -= step
    return sorted(points)


def _add_run(steps: list[int], first: int, last: int) -> None:
    steps[first] += 1
    steps[last] -= 1


def _totals(steps: list[int]) -> list[int]:
    running, out = 0, []
    for step in steps:
        running += step
        out.append(running)
    return out


# -- the numbers ----------------------------------------------------------------------------


def spread(hours: Iterable[float]) -> Spread:
    ordered = sorted(hours)
    return Spread(
        count=len(ordered),
        mean=mean(ordered),
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
    )


def by_group(resolved: Sequence[Resolved], key: Callable[[Resolved], str]) -> list[GroupSpread]:
    groups: dict[str, list[Resolved]] = defaultdict(list)
    for dispute in resolved:
        groups[key(dispute)].append(dispute)
    out = [
        GroupSpread(
            key=name,
            resolved=len(members),
            hours=spread(d.hours for d in members),
            business_hours=spread(d.business_hours for d in members),
        )
        for name, members in groups.items()
    ]
    out.sort(key=lambda g: (-g.resolved, g.key))
    return out


def csat_of(resolved: Sequence[Resolved]) -> Csat:
    surveyed = [d for d in resolved if d.surveyed]
    ratings = [d.rating for d in surveyed if d.rating is not None]
    return Csat(
        score=share(sum(1 for r in ratings if r >= 4), len(ratings)),
        responses=len(ratings),
        surveys=len(surveyed),
        response_rate=share(len(ratings), len(surveyed)),
        distribution={str(n): ratings.count(n) for n in range(1, 6)},
    )


def outcome(offers: Sequence[Offer], enough: bool) -> Outcome:
    accepted = sorted(
        o.hours_to_accept for o in offers if o.accepted and o.hours_to_accept is not None
    )
    won = sum(o.accepted for o in offers)
    return Outcome(
        offers=len(offers),
        accepted=won,
        acceptance_rate=share(won, len(offers)) if enough else None,
        acceptance_rate_ci95=wilson(won, len(offers)) if enough else None,
        median_hours_to_accept=percentile(accepted, 0.5) if enough else None,
        median_hours_to_accept_ci95=median_interval(accepted) if enough else None,
    )


def effect(name: str, offers: Sequence[Offer], values: Callable[[Offer], frozenset[str]]) -> Effect:
    having = [o for o in offers if name in values(o)]
    lacking = [o for o in offers if name not in values(o)]
    enough = min(len(having), len(lacking)) >= MIN_SAMPLE
    return Effect(
        name=name,
        with_=outcome(having, enough),
        without=outcome(lacking, enough),
        note=None if enough else TOO_FEW,
    )
