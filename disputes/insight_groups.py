"""How many disputes carry each tag (SKU, category, carrier, cited rule) in a period and in the
one before it.

Whole UTC days are read from `dispute_tag_days`, one row per day and tag; only the partial days
at the periods' ends come from `dispute_tags`, one row per tag of a dispute. Both are written in
the same transaction as the tags and read in one statement, so the sum is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.insight_report import Period
from storage.tables import DisputeTagDayRow, DisputeTagRow

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Pieces:
    """A span [start, end) as what to count: whole UTC days from `dispute_tag_days`, and time
    ranges from `dispute_tags`, each added (1) or taken away (-1). A partial day at either end
    is read from the tags themselves, or, when what lies outside the span that day is shorter,
    as the whole day less that part (the end of a period ending now: the rest of the day is
    still empty)."""

    days: tuple[tuple[date, date], ...]  # [first, last) whole days, all added
    ranges: tuple[tuple[datetime, datetime, int], ...]

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Pieces:
        if start >= end:
            return cls((), ())
        first, last = _ceil_day(start), _floor_day(end)
        if first > last:  # within one day
            return cls((), ((start, end, 1),))
        days: list[tuple[datetime, datetime]] = [(first, last)] if first < last else []
        ranges: list[tuple[datetime, datetime, int]] = []
        if start < first:
            day_start = first - DAY
            if first - start <= start - day_start:
                ranges.append((start, first, 1))
            else:
                days.append((day_start, first))
                ranges.append((day_start, start, -1))
        if last < end:
            day_end = last + DAY
            if end - last <= day_end - end:
                ranges.append((last, end, 1))
            else:
                days.append((last, day_end))
                ranges.append((end, day_end, -1))
        return cls(tuple((a.date(), b.date()) for a, b in days), tuple(ranges))


def _floor_day(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(UTC).date(), time(), UTC)


def _ceil_day(at: datetime) -> datetime:
    floor = _floor_day(at)
    return floor if floor == at else floor + DAY


async def tag_counts(session: AsyncSession, period: Period) -> list[tuple[str, str, int, int]]:
    """(dimension, value, disputes now, disputes in the previous period) for every tag: one
    statement, so the days and the tags are read in one snapshot."""
    parts: list[Select[str, str, int, int]] = []
    sides = ((Pieces.of(period.start, period.end), 1, 0), (Pieces.of(*_before(period)), 0, 1))
    for pieces, now, before in sides:
        d = DisputeTagDayRow
        parts += [
            select(d.dimension, d.value, d.disputes * now, d.disputes * before).where(
                d.day >= first, d.day < last
            )
            for first, last in pieces.days
        ]
        t = DisputeTagRow
        parts += [
            select(t.dimension, t.value, literal(sign * now), literal(sign * before)).where(
                t.opened_at >= a, t.opened_at < b
            )
            for a, b, sign in pieces.ranges
        ]
    if not parts:
        return []
    both = union_all(*parts).subquery()
    dimension, value, now_column, before_column = both.c
    rows = await session.execute(
        select(dimension, value, func.sum(now_column), func.sum(before_column)).group_by(
            dimension, value
        )
    )
    return [
        (dimension, value, int(now), int(before))
        for dimension, value, now, before in rows
        if now or before
    ]


def _before(period: Period) -> tuple[datetime, datetime]:
    return period.previous.start, period.start


async def raw_tag_counts(session: AsyncSession, period: Period) -> list[tuple[str, str, int, int]]:
    """The same counts from `dispute_tags` alone (what `tag_counts` adds up to)."""
    t = DisputeTagRow
    now = func.sum(case((t.opened_at >= period.start, 1), else_=0))
    rows = await session.execute(
        select(t.dimension, t.value, now, func.count())
        .where(t.opened_at >= period.previous.start, t.opened_at < period.end)
        .group_by(t.dimension, t.value)
    )
    return [
        (dimension, value, int(current), int(total) - int(current))
        for dimension, value, current, total in rows
    ]
