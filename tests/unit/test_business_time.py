"""Business time: hand-worked cases, and the laws `add` and `elapsed` keep between them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.business_time import Calendar, add, elapsed

NY = ZoneInfo("America/New_York")
# Mon-Fri 09:00-18:00 in New York; Friday 2026-12-25 is a holiday.
CAL = Calendar(NY, frozenset(range(5)), time(9), time(18), frozenset({date(2026, 12, 25)}))
H = timedelta(hours=1)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Friday 17:00 + 2h: one hour on Friday, one on Monday.
        (ny(2026, 11, 27, 17), 2 * H, ny(2026, 11, 30, 10)),
        # Saturday noon: counting starts Monday 09:00.
        (ny(2026, 11, 28, 12), 2 * H, ny(2026, 11, 30, 11)),
        # Sunday night, Monday before opening: same.
        (ny(2026, 11, 29, 23), 30 * timedelta(minutes=1), ny(2026, 11, 30, 9, 30)),
        (ny(2026, 11, 30, 7), H, ny(2026, 11, 30, 10)),
        # After closing on Monday: Tuesday 09:00 + 1h.
        (ny(2026, 11, 30, 19), H, ny(2026, 12, 1, 10)),
        # Exactly the rest of the day ends at the close, not at the next opening.
        (ny(2026, 11, 27, 17), H, ny(2026, 11, 27, 18)),
        # Thursday 17:00 + 2h: Friday 25 December is a holiday, so Monday 10:00.
        (ny(2026, 12, 24, 17), 2 * H, ny(2026, 12, 28, 10)),
        # Wednesday 17:00 + 2h ends on Thursday, the day before that holiday.
        (ny(2026, 12, 23, 17), 2 * H, ny(2026, 12, 24, 10)),
        # A start on the holiday counts from Monday.
        (ny(2026, 12, 25, 10), 9 * H, ny(2026, 12, 28, 18)),
        # One business day (9h) from Tuesday 10:00 is Wednesday 10:00.
        (ny(2026, 12, 1, 10), 9 * H, ny(2026, 12, 2, 10)),
        # Five business days from Monday 09:00 end on Friday 18:00.
        (ny(2026, 11, 30, 9), 45 * H, ny(2026, 12, 4, 18)),
        # Ten weeks of business days from Monday 09:00 (Dec 25 inside: one day more).
        (ny(2026, 11, 2, 9), 50 * 9 * H, ny(2027, 1, 11, 18)),
        # Zero is the start itself, even outside business hours.
        (ny(2026, 11, 28, 12), timedelta(0), ny(2026, 11, 28, 12)),
    ],
)
def test_add_hand_worked(start: datetime, duration: timedelta, due: datetime) -> None:
    assert add(start, duration, CAL) == due


def test_a_business_day_is_the_length_of_the_hours() -> None:
    assert CAL.day_length == 9 * H


def test_spring_forward_keeps_wall_clock_hours() -> None:
    # Clocks go forward on Sunday 2026-03-08; Friday 17:00 EST + 2h is Monday 10:00 EDT.
    due = add(ny(2026, 3, 6, 17), 2 * H, CAL)
    assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)  # 10:00 EDT (UTC-4)
    # Friday 17:00 EST is 22:00 UTC; 64 hours pass on the calendar, 2 in business time.
    assert elapsed(ny(2026, 3, 6, 17), due, CAL) == 2 * H


def test_fall_back_keeps_wall_clock_hours() -> None:
    # Clocks go back on Sunday 2026-11-01; Friday 17:00 EDT + 2h is Monday 10:00 EST.
    due = add(ny(2026, 10, 30, 17), 2 * H, CAL)
    assert due == datetime(2026, 11, 2, 15, tzinfo=UTC)  # 10:00 EST (UTC-5)


def test_the_business_day_after_a_change_is_still_nine_hours() -> None:
    monday = ny(2026, 3, 9, 9)
    assert add(monday, 9 * H, CAL) == datetime(2026, 3, 9, 22, tzinfo=UTC)  # 18:00 EDT
    assert elapsed(ny(2026, 3, 6, 9), ny(2026, 3, 9, 18), CAL) == 18 * H


def test_elapsed_hand_worked() -> None:
    # Friday 16:00 to Monday 10:00: two hours Friday, one Monday.
    assert elapsed(ny(2026, 11, 27, 16), ny(2026, 11, 30, 10), CAL) == 3 * H
    # A whole weekend counts nothing.
    assert elapsed(ny(2026, 11, 28, 0), ny(2026, 11, 30, 0), CAL) == timedelta(0)
    # Across the holiday: Thursday 17:00 to Monday 10:00 is two hours.
    assert elapsed(ny(2026, 12, 24, 17), ny(2026, 12, 28, 10), CAL) == 2 * H
    # The end before the start is nothing, not negative.
    assert elapsed(ny(2026, 11, 30, 10), ny(2026, 11, 30, 9), CAL) == timedelta(0)


def test_other_timezones_are_read_on_the_calendars_clock() -> None:
    # 14:00 UTC on a winter Monday is 09:00 in New York: opening time.
    assert add(datetime(2026, 11, 30, 14, tzinfo=UTC), H, CAL) == ny(2026, 11, 30, 10)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add(datetime(2026, 11, 30, 10), H, CAL)


def test_a_calendar_needs_hours_that_start_before_they_end() -> None:
    with pytest.raises(ValueError, match="start before"):
        Calendar(NY, frozenset({0}), time(18), time(9))


# A weekend of Friday and Saturday, odd hours and holidays bunched together.
ODD = Calendar(
    ZoneInfo("Europe/London"),
    frozenset({0, 1, 2, 3, 6}),
    time(8, 30),
    time(16, 45),
    frozenset({date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 5), date(2027, 4, 2)}),
)
CALENDARS = st.sampled_from([CAL, ODD])
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))


def _inside_hours(moment: datetime, calendar: Calendar) -> datetime:
    """`moment` moved onto the calendar's open hours, on its wall clock."""
    wall = moment.astimezone(calendar.zone)
    day = wall.date()
    while not calendar.is_open(day):
        day += timedelta(days=1)
    start = datetime.combine(day, calendar.start, tzinfo=calendar.zone)
    span = datetime.combine(day, calendar.end) - datetime.combine(day, calendar.start)
    offset = (wall - wall.replace(hour=0, minute=0, second=0, microsecond=0)) % span
    return (start + offset).astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(CALENDARS, MOMENTS, DURATIONS)
def test_elapsed_undoes_add(calendar: Calendar, moment: datetime, duration: timedelta) -> None:
    start = _inside_hours(moment, calendar)
    assert elapsed(start, add(start, duration, calendar), calendar) == duration


@settings(max_examples=300, deadline=None)
@given(CALENDARS, MOMENTS, MOMENTS, MOMENTS)
def test_elapsed_never_shrinks_as_the_end_moves_on(
    calendar: Calendar, start: datetime, a: datetime, b: datetime
) -> None:
    early, late = sorted((a, b))
    assert elapsed(start, early, calendar) <= elapsed(start, late, calendar)


@settings(max_examples=300, deadline=None)
@given(CALENDARS, MOMENTS, DURATIONS, DURATIONS)
def test_add_never_goes_back(
    calendar: Calendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    shorter, longer = sorted((a, b))
    assert start <= add(start, shorter, calendar) <= add(start, longer, calendar)
