"""When the weekly report is due: the ISO week's chosen day and time in the SLA file's timezone,
keyed by the ISO week (across a new year and a change of clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from disputes.weekly_schedule import WeeklyAt, week_due

MONDAY_NINE = WeeklyAt(0, time(9, 0))
NEW_YORK = ZoneInfo("America/New_York")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "key", "due"),
    [
        (at(2026, 3, 2, 9, 0), "weekly:2026-W10", at(2026, 3, 2, 9, 0)),
        (at(2026, 3, 8, 23, 59), "weekly:2026-W10", at(2026, 3, 2, 9, 0)),  # Sunday night
        (at(2027, 1, 1, 12, 0), "weekly:2026-W53", at(2026, 12, 28, 9, 0)),  # ISO 2026 has 53
        (at(2025, 12, 29, 9, 30), "weekly:2026-W01", at(2025, 12, 29, 9, 0)),
    ],
)
def test_the_week_is_the_iso_week_and_its_moment(now: datetime, key: str, due: datetime) -> None:
    week = week_due(now, MONDAY_NINE, UTC)
    assert week is not None
    assert (week.key, week.due) == (key, due)


def test_before_the_moment_nothing_is_due() -> None:
    assert week_due(at(2026, 3, 2, 8, 59), MONDAY_NINE, UTC) is None
    friday = WeeklyAt(4, time(17, 30))
    assert week_due(at(2026, 3, 5, 12, 0), friday, UTC) is None  # Thursday
    week = week_due(at(2026, 3, 6, 17, 30), friday, UTC)
    assert week is not None and week.key == "weekly:2026-W10"


def test_the_moment_follows_the_zones_clocks() -> None:
    # New York: 09:00 is 14:00 UTC in winter and 13:00 UTC after the clocks go forward (8 March).
    before = week_due(at(2026, 3, 2, 14, 0), MONDAY_NINE, NEW_YORK)
    after = week_due(at(2026, 3, 9, 13, 0), MONDAY_NINE, NEW_YORK)
    assert before is not None and before.due == at(2026, 3, 2, 14, 0)
    assert after is not None and after.due == at(2026, 3, 9, 13, 0)
    assert week_due(at(2026, 3, 9, 12, 59), MONDAY_NINE, NEW_YORK) is None
    # Late Sunday in New York is already Monday in UTC: still the week before.
    sunday = week_due(at(2026, 3, 9, 2, 0), MONDAY_NINE, NEW_YORK)
    assert sunday is not None and sunday.key == "weekly:2026-W10"
