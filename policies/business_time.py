"""Business time: open hours on business days, on the wall clock of one timezone.

Business time is counted on the calendar's wall clock: a business day is always `end - start`
long (09:00-18:00 is nine hours, in the week clocks change too), holidays count nothing, and a
moment outside business hours counts from the next opening. Both functions are closed forms
over week numbers, so a span of years costs no more than a span of hours.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = 7
_ZERO = timedelta(0)


@dataclass(frozen=True)
class Calendar:
    """Business days (0 = Monday), daily hours and holidays, in `zone`."""

    zone: ZoneInfo
    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()
    _weekdays: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _before: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _closed: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(_WEEK)):
            raise ValueError("a calendar needs business days between 0 (Monday) and 6")
        if self.start >= self.end:
            raise ValueError("business hours must start before they end")
        weekdays = tuple(sorted(self.days))
        # _before[k]: business weekdays in a week before weekday k.
        before = tuple(sum(1 for d in weekdays if d < k) for k in range(_WEEK + 1))
        object.__setattr__(self, "_weekdays", weekdays)
        object.__setattr__(self, "_before", before)
        # Holidays on business weekdays, as indexes among business weekdays (ascending).
        closed = sorted(self._index(day) for day in self.holidays if day.weekday() in self.days)
        object.__setattr__(self, "_closed", tuple(closed))

    @property
    def day_length(self) -> timedelta:
        """How long one business day is: what `1d` of business time means."""
        return _on(date(2000, 1, 3), self.end) - _on(date(2000, 1, 3), self.start)

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _index(self, day: date) -> int:
        """How many business weekdays (holidays included) come before `day`, from year 1."""
        weeks, weekday = divmod(day.toordinal() - 1, _WEEK)  # 0001-01-01 was a Monday
        return weeks * len(self._weekdays) + self._before[weekday]

    def _day_at(self, index: int) -> date:
        """The business weekday whose `_index` is `index`."""
        weeks, k = divmod(index, len(self._weekdays))
        return date.fromordinal(weeks * _WEEK + self._weekdays[k] + 1)

    def _counted(self, moment: datetime) -> timedelta:
        """Business time from year 1 to `moment` (naive, on the calendar's wall clock)."""
        day = moment.date()
        index = self._index(day)
        open_days = index - bisect.bisect_left(self._closed, index)
        total = open_days * self.day_length
        if self.is_open(day):
            wall = min(max(moment.time(), self.start), self.end)
            total += _on(day, wall) - _on(day, self.start)
        return total

    def _moment(self, counted: timedelta) -> datetime:
        """The earliest wall-clock moment at which `_counted` reaches `counted` (> 0)."""
        length = self.day_length
        whole, rest = divmod(counted, length)
        if not rest:  # exactly at a day's close, not the next day's opening
            whole, rest = whole - 1, length
        index = whole
        for closed in self._closed:  # step over the holidays up to that day
            if closed > index:
                break
            index += 1
        day = self._day_at(index)
        return _on(day, self.start) + rest


def _on(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs timezone-aware datetimes")
    return moment.astimezone(zone).replace(tzinfo=None)


def add(start: datetime, duration: timedelta, calendar: Calendar) -> datetime:
    """The moment `duration` of business time after `start`, in `start`'s timezone."""
    if duration < _ZERO:
        raise ValueError("business time is added in durations of zero or more")
    if not duration:
        return start
    counted = calendar._counted(_local(start, calendar.zone)) + duration
    wall = calendar._moment(counted)
    return wall.replace(tzinfo=calendar.zone).astimezone(start.tzinfo)


def elapsed(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """Business time between `start` and `end`; zero when `end` is not after `start`."""
    if end <= start:
        return _ZERO
    zone = calendar.zone
    return calendar._counted(_local(end, zone)) - calendar._counted(_local(start, zone))
