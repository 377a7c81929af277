"""When the weekly insights report is due: a weekday and a time in the SLA file's timezone
(INSIGHTS_REPORT_AT), once an ISO week. Pure, and light enough for the settings to use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WRITTEN = re.compile(r"([a-z]+)\s+([01]?\d|2[0-3]):([0-5]\d)")


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
