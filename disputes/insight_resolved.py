"""The disputes first resolved in a period: time to resolve (overall, by reason, by owner),
first-contact resolution, the resolutions, and CSAT (the surveys of these disputes).

On PostgreSQL the sums, counts and percentiles are computed by the database in one statement
over the covering index `ix_disputes_resolved_at` (`percentile_cont` is this module's
`percentile`); elsewhere the rows are read and the same numbers computed here. Both read the
facts `disputes.insight_facts` keeps, by the definitions in the README.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.insight_report import FCR_DAYS, Csat, GroupSpread, Period, Spread
from disputes.insight_stats import mean, percentile, share
from disputes.milestones import business_seconds
from policies.sla import SlaPolicy
from storage.db import on_postgresql
from storage.tables import DisputeRow

HOUR = 3600.0
UNASSIGNED = "unassigned"


@dataclass(frozen=True, slots=True)
class Resolved:
    """One dispute resolved in the period, with what its KPIs need."""

    reason: str
    owner: str
    hours: float
    business_hours: float
    first_contact: bool
    resolution: str | None
    surveyed: bool = False
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class ResolvedSummary:
    hours: Spread
    business_hours: Spread
    by_reason: list[GroupSpread]
    by_owner: list[GroupSpread]
    first_contact: int
    resolutions: dict[str, int]
    csat: Csat

    @property
    def resolved(self) -> int:
        return self.hours.count


def within(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


async def resolved_summary(
    session: AsyncSession, period: Period, sla: SlaPolicy
) -> ResolvedSummary:
    if on_postgresql(session):
        summary = await summary_in_postgresql(session, period)
        if summary is not None:
            return summary
    return await summary_of_rows(session, period, sla)


async def summary_of_rows(session: AsyncSession, period: Period, sla: SlaPolicy) -> ResolvedSummary:
    """Each resolved dispute read, and the numbers computed here."""
    rows = (await session.execute(resolved_query(period))).all()
    return summarize([_resolved(row, sla) for row in rows])


def resolved_query(period: Period) -> Select[*tuple[Any, ...]]:
    d = DisputeRow
    return select(
        d.reason,
        d.owner_id,
        d.created_at,
        d.resolved_at,
        d.resolve_business_seconds,
        d.reopened_at,
        d.offers_made,
        d.offers_declined,
        d.followed_at,
        d.resolution,
        d.surveyed,
        d.csat_rating,
    ).where(within(d.resolved_at, period))


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
            resolved_at, row.offers_made, row.offers_declined, row.reopened_at, row.followed_at
        ),
        resolution=row.resolution,
        surveyed=bool(row.surveyed),
        rating=row.csat_rating,
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


def summarize(resolved: Sequence[Resolved]) -> ResolvedSummary:
    resolutions = Counter(d.resolution for d in resolved if d.resolution)
    ratings = Counter(d.rating for d in resolved if d.surveyed)
    return ResolvedSummary(
        hours=spread(d.hours for d in resolved),
        business_hours=spread(d.business_hours for d in resolved),
        by_reason=by_group(resolved, lambda d: d.reason),
        by_owner=by_group(resolved, lambda d: d.owner),
        first_contact=sum(d.first_contact for d in resolved),
        resolutions=dict(sorted(resolutions.items())),
        csat=csat_of(ratings),
    )


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
    return _ordered(
        GroupSpread(
            key=name,
            resolved=len(members),
            hours=spread(d.hours for d in members),
            business_hours=spread(d.business_hours for d in members),
        )
        for name, members in groups.items()
    )


def _ordered(groups: Iterable[GroupSpread]) -> list[GroupSpread]:
    return sorted(groups, key=lambda g: (-g.resolved, g.key))


# -- PostgreSQL: the numbers computed where the rows are ------------------------------------

_FIRST_CONTACT = """
    offers_made <= 1 AND offers_declined = 0
    AND (reopened_at IS NULL OR reopened_at > resolved_at + CAST(:window AS interval))
    AND (followed_at IS NULL OR followed_at > resolved_at + CAST(:window AS interval))
"""
RATINGS = range(1, 6)
RATED = ", ".join(f"count(*) FILTER (WHERE csat_rating = {n}) AS rated_{n}" for n in RATINGS)
_AGGREGATE = text(
    f"""
    SELECT grouping(reason) AS no_reason, grouping(owner) AS no_owner, reason, owner,
        count(*) AS resolved,
        avg(seconds) / 3600 AS mean_hours,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds) AS seconds_at,
        avg(business_seconds) / 3600 AS mean_business_hours,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY business_seconds)
            AS business_seconds_at,
        count(*) FILTER (WHERE first_contact) AS first_contact,
        count(*) FILTER (WHERE business_seconds IS NULL) AS unmeasured,
        count(*) FILTER (WHERE surveyed) AS surveys,
        {RATED}
    FROM (
        SELECT reason, coalesce(owner_id, '{UNASSIGNED}') AS owner, surveyed, csat_rating,
            resolve_business_seconds::float8 AS business_seconds,
            date_part('epoch', resolved_at - created_at) AS seconds,
            ({_FIRST_CONTACT}) AS first_contact
        FROM disputes WHERE resolved_at >= :start AND resolved_at < :end
    ) AS resolved
    GROUP BY GROUPING SETS ((), (reason), (owner))
    """
)


async def summary_in_postgresql(session: AsyncSession, period: Period) -> ResolvedSummary | None:
    """None when a dispute in the period lacks its business seconds (resolved before they were
    kept): those are measured on today's calendar, row by row."""
    params = {"start": period.start, "end": period.end, "window": timedelta(days=FCR_DAYS)}
    rows = (await session.execute(_AGGREGATE, params)).all()
    total = next(row for row in rows if row.no_reason and row.no_owner)
    if total.unmeasured:
        return None
    d = DisputeRow
    resolutions = await session.execute(
        select(d.resolution, func.count())
        .where(within(d.resolved_at, period), d.resolution.is_not(None))
        .group_by(d.resolution)
        .order_by(d.resolution)
    )
    return ResolvedSummary(
        hours=_spread(total),
        business_hours=_business_spread(total),
        by_reason=_ordered(_group(row, row.reason) for row in rows if not row.no_reason),
        by_owner=_ordered(_group(row, row.owner) for row in rows if not row.no_owner),
        first_contact=int(total.first_contact),
        resolutions={str(kind): int(n) for kind, n in resolutions},
        csat=_csat(total),
    )


def _csat(total: Any) -> Csat:
    ratings: dict[int | None, int] = {n: int(getattr(total, f"rated_{n}")) for n in RATINGS}
    ratings[None] = int(total.surveys) - sum(ratings.values())
    return csat_of(ratings)


def _group(row: Any, key: str) -> GroupSpread:
    return GroupSpread(
        key=key,
        resolved=int(row.resolved),
        hours=_spread(row),
        business_hours=_business_spread(row),
    )


def _spread(row: Any) -> Spread:
    return _from_seconds(int(row.resolved), row.mean_hours, row.seconds_at)


def _business_spread(row: Any) -> Spread:
    return _from_seconds(int(row.resolved), row.mean_business_hours, row.business_seconds_at)


def _from_seconds(count: int, mean_hours: Any, at: Sequence[float] | None) -> Spread:
    if count == 0 or at is None:
        return Spread(count=0, mean=None, median=None, p90=None)
    return Spread(count=count, mean=float(mean_hours), median=at[0] / HOUR, p90=at[1] / HOUR)


# -- CSAT -------------------------------------------------------------------------------------


def csat_of(ratings: Mapping[int | None, int]) -> Csat:
    """CSAT from the number of surveys per rating (None for a survey not answered)."""
    responses = sum(n for rating, n in ratings.items() if rating is not None)
    surveys = sum(ratings.values())
    return Csat(
        score=share(sum(n for r, n in ratings.items() if r is not None and r >= 4), responses),
        responses=responses,
        surveys=surveys,
        response_rate=share(responses, surveys),
        distribution={str(n): ratings.get(n, 0) for n in range(1, 6)},
    )
