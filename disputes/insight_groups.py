"""How many disputes carry each tag (SKU, category, carrier, cited rule) in a period and in the
one before it.

Whole UTC days are read from `dispute_tag_days`, one row per day and tag; only the partial days
at the periods' ends come from `dispute_tags`, one row per tag of a dispute. Both are written in
the same transaction as the tags, so the sum is exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.insight_report import Period
from storage.tables import DisputeTagDayRow, DisputeTagRow

DAY = timedelta(days=1)
Counted = dict[tuple[str, str], list[int]]  # (dimension, value): [now, before]


@dataclass(frozen=True, slots=True)
class Split:
    """A span [start, end) as its whole UTC days and the partial ones at its ends."""

    days: tuple[date, date] | None  # [first, last) whole days, None when there is none
    edges: tuple[tuple[datetime, datetime], ...]  # the rest, each non-empty

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Split:
        first, last = _ceil_day(start), _floor_day(end)
        if first >= last:
            return cls(None, ((start, end),) if start < end else ())
        edges = tuple((a, b) for a, b in ((start, first), (last, end)) if a < b)
        return cls((first.date(), last.date()), edges)


def _floor_day(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(UTC).date(), time(), UTC)


def _ceil_day(at: datetime) -> datetime:
    floor = _floor_day(at)
    return floor if floor == at else floor + DAY


async def tag_counts(session: AsyncSession, period: Period) -> list[tuple[str, str, int, int]]:
    """(dimension, value, disputes now, disputes in the previous period) for every tag."""
    counted: Counted = defaultdict(lambda: [0, 0])
    spans = (Split.of(period.start, period.end), Split.of(period.previous.start, period.start))
    for side, split in enumerate(spans):
        if split.days is not None:
            await _add_days(session, counted, side, split.days)
    edges = [edge for split in spans for edge in split.edges]
    if edges:
        await _add_tags(session, counted, period.start, edges)
    return _listed(counted)


async def raw_tag_counts(session: AsyncSession, period: Period) -> list[tuple[str, str, int, int]]:
    """The same counts from `dispute_tags` alone (what `tag_counts` sums up to)."""
    counted: Counted = defaultdict(lambda: [0, 0])
    await _add_tags(session, counted, period.start, [(period.previous.start, period.end)])
    return _listed(counted)


def _listed(counted: Counted) -> list[tuple[str, str, int, int]]:
    return [
        (dimension, value, now, before) for (dimension, value), (now, before) in counted.items()
    ]


async def _add_days(
    session: AsyncSession, counted: Counted, side: int, days: tuple[date, date]
) -> None:
    t = DisputeTagDayRow
    rows = await session.execute(
        select(t.dimension, t.value, func.sum(t.disputes))
        .where(t.day >= days[0], t.day < days[1])
        .group_by(t.dimension, t.value)
    )
    for dimension, value, disputes in rows:
        counted[(dimension, value)][side] += int(disputes)


async def _add_tags(
    session: AsyncSession,
    counted: Counted,
    now_from: datetime,
    spans: Iterable[tuple[datetime, datetime]],
) -> None:
    t = DisputeTagRow
    now: Any = func.sum(case((t.opened_at >= now_from, 1), else_=0))
    rows = await session.execute(
        select(t.dimension, t.value, now, func.count())
        .where(or_(*(and_(t.opened_at >= a, t.opened_at < b) for a, b in spans)))
        .group_by(t.dimension, t.value)
    )
    for dimension, value, current, total in rows:
        counts = counted[(dimension, value)]
        counts[0] += int(current or 0)
        counts[1] += int(total) - int(current or 0)
