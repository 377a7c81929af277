"""The SLA file: the shipped default loads, every mistake is reported at its line, all at once,
and the loaded file answers priorities, targets, clocks and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.errors import StartupError
from bot.settings import Settings, default_sla_file
from bot.sla_loading import load_sla
from disputes.lifecycle import Status
from policies.sla import STAGE_BY_STATUS, Level, SlaPolicy, stage_for
from policies.sla_file import STAGES, SlaError, lint_sla_file, load_sla_file

NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)

GOOD = """\
timezone: America/New_York
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
holidays: ["2026-12-25"]
quiet_hours: {start: "21:00", end: "07:00"}
warn_at: 0.5
priorities:
  - {name: urgent, when: {fact: disputed_amount, op: gte, value: "500.00"}}
  - {name: high, when: {any: [{fact: customer_tier, eq: vip}, {fact: prior_disputes, gte: 3}]}}
  - {name: normal}
targets:
  urgent: {business: false, first_response: 30m, in_review: 4h, awaiting_approval: 2h,
           awaiting_customer: 2d, executing: 45s}
  high:   {business: true, first_response: 2h, in_review: 8h, awaiting_approval: 4h,
           awaiting_customer: 3d, executing: 2h}
  normal: {first_response: 4h, in_review: 1d, awaiting_approval: 8h,
           awaiting_customer: 5d, executing: 4h}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sla.yml"
    path.write_text(dedent(text))
    return path


@pytest.fixture
def policy(tmp_path: Path) -> SlaPolicy:
    return SlaPolicy.load(write(tmp_path, GOOD))


def test_the_shipped_default_loads() -> None:
    sla = load_sla_file(default_sla_file())
    assert [p.name for p in sla.priorities] == ["urgent", "high", "normal"]
    assert sla.calendar.zone == NY
    assert sla.warn_at == 0.75
    assert sla.quiet_hours is None
    # business: true, so "1d" is one business day of 09:00-18:00.
    assert sla.targets["normal"].stages["in_review"] == 9 * H
    assert sla.targets["urgent"].stages["awaiting_customer"] == timedelta(days=2)


def test_a_good_file_loads_with_its_defaults(policy: SlaPolicy) -> None:
    assert policy.target("normal", "in_review") == (24 * H, False)  # business defaults to false
    assert policy.target("high", "awaiting_customer") == (27 * H, True)  # 3 business days
    assert policy.target("urgent", "executing") == (timedelta(seconds=45), False)
    assert policy.file.quiet_hours == (time(21), time(7))


def test_priorities_first_match_wins(policy: SlaPolicy) -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    vip_big = {"disputed_amount": 50_000, "currency": "USD", "customer_tier": "vip"}
    assert policy.priority(vip_big, at) == "urgent"
    assert policy.priority({**vip_big, "disputed_amount": 49_999}, at) == "high"
    assert policy.priority({"prior_disputes": 3}, at) == "high"
    assert policy.priority({"prior_disputes": 2, "customer_tier": "standard"}, at) == "normal"
    assert policy.priority({}, at) == "normal"


def test_without_a_catch_all_the_last_priority_applies(tmp_path: Path) -> None:
    text = GOOD.replace("  - {name: normal}", "  - {name: normal, when: {fact: age_hours, gt: 48}}")
    policy = SlaPolicy.load(write(tmp_path, text))
    assert policy.priority({"age_hours": 10}) == "normal"


def test_due_and_state_in_calendar_time(policy: SlaPolicy) -> None:
    entered = datetime(2026, 11, 28, 12, tzinfo=NY)  # a Saturday: calendar time still runs
    assert policy.due("urgent", "in_review", entered) == datetime(2026, 11, 28, 16, tzinfo=NY)
    ok = policy.state("urgent", "in_review", entered, entered + H)
    assert (ok.stage, ok.elapsed_fraction, ok.level) == ("in_review", 0.25, Level.OK)
    warning = policy.state("urgent", "in_review", entered, entered + 2 * H)
    assert (warning.elapsed_fraction, warning.level) == (0.5, Level.WARNING)
    late = policy.state("urgent", "in_review", entered, entered + 5 * H)
    assert (late.elapsed_fraction, late.level) == (1.25, Level.BREACHED)
    assert late.due_at == datetime(2026, 11, 28, 16, tzinfo=NY)


def test_due_and_state_in_business_time(policy: SlaPolicy) -> None:
    entered = datetime(2026, 11, 27, 17, tzinfo=NY)  # Friday 17:00
    assert policy.due("high", "first_response", entered) == datetime(2026, 11, 30, 10, tzinfo=NY)
    # The weekend does not count: by Monday 09:00 one hour of two has passed.
    monday = policy.state("high", "first_response", entered, datetime(2026, 11, 30, 9, tzinfo=NY))
    assert (monday.elapsed_fraction, monday.level) == (0.5, Level.WARNING)
    saturday = policy.state("high", "first_response", entered, datetime(2026, 11, 28, tzinfo=NY))
    assert saturday.elapsed_fraction == 0.5
    due = policy.state("high", "first_response", entered, datetime(2026, 11, 30, 10, tzinfo=NY))
    assert due.level is Level.BREACHED


def test_quiet_hours_wrap_midnight(policy: SlaPolicy) -> None:
    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, 30, hour, minute, tzinfo=NY)

    assert policy.in_quiet_hours(at(21))
    assert policy.in_quiet_hours(at(23, 59))
    assert policy.in_quiet_hours(at(0))
    assert policy.in_quiet_hours(at(6, 59))
    assert not policy.in_quiet_hours(at(7))
    assert not policy.in_quiet_hours(at(12))
    assert not policy.in_quiet_hours(at(20, 59))
    # 02:30 UTC is 21:30 in New York.
    assert policy.in_quiet_hours(datetime(2026, 12, 1, 2, 30, tzinfo=UTC))


def test_quiet_hours_within_a_day(tmp_path: Path) -> None:
    text = GOOD.replace('{start: "21:00", end: "07:00"}', '{start: "12:00", end: "13:00"}')
    policy = SlaPolicy.load(write(tmp_path, text))
    assert policy.in_quiet_hours(datetime(2026, 11, 30, 12, 30, tzinfo=NY))
    assert not policy.in_quiet_hours(datetime(2026, 11, 30, 13, tzinfo=NY))
    assert not policy.in_quiet_hours(datetime(2026, 11, 30, 23, tzinfo=NY))


def test_no_quiet_hours(tmp_path: Path) -> None:
    text = GOOD.replace('{start: "21:00", end: "07:00"}', "null")
    policy = SlaPolicy.load(write(tmp_path, text))
    assert not policy.in_quiet_hours(datetime(2026, 11, 30, 23, tzinfo=NY))


BROKEN = """\
timezone: America/New_Yrok
business_hours: {days: [mon, tue, wdd], start: "09:00", end: "9am"}
holidays: ["2026-12-25", "2026-13-01"]
quiet_hours: {start: "22:00", end: "22:00"}
warn_at: 1.5
priorites: []
priorities:
  - {name: urgent, when: {fact: disputed_amont, op: gte, value: "500.00"}}
  - {name: high, when: {fact: customer_tier, eq: vip}}
  - {name: normal}
targets:
  urgent: {business: false, first_response: 30 minutes, in_review: 4h, awaiting_approval: 2h,
           awaiting_customer: 2d, executing: 1h}
  normal: {business: true, first_response: 4h, in_review: 1d, awaiting_approval: 8h,
           awaiting_customer: 5d, executing: 4h, excuting: 4h}
  low:    {business: true, first_response: 4h, in_review: 1d, awaiting_approval: 8h,
           awaiting_customer: 5d}
"""

TIMEZONE = "unknown timezone 'America/New_Yrok' (did you mean America/New_York?)"
FACT = "unknown fact 'disputed_amont' (did you mean disputed_amount?)"
DURATION = "not a duration: '30 minutes' (write 45s, 30m, 4h or 2d)"


def test_every_problem_at_its_line_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    found = [(p.line, p.field, p.message) for p in lint_sla_file(path)]
    assert found == [
        (1, "timezone", TIMEZONE),
        (2, "business_hours.days[2]", "unknown day 'wdd' (did you mean wed?)"),
        (2, "business_hours.end", 'not a time: \'9am\' (write "HH:MM", like "09:00")'),
        (3, "holidays[1]", "not a date: '2026-13-01' (write \"YYYY-MM-DD\")"),
        (4, "quiet_hours.end", "quiet hours start and end at the same time"),
        (5, "warn_at", "warn_at is a fraction between 0 and 1, like 0.75, got 1.5"),
        (6, "priorites", "unknown field 'priorites' (did you mean priorities?)"),
        (8, "priorities[0].when.fact", FACT),
        (9, "priorities[1].name", "priority 'high' has no targets"),
        (12, "targets.urgent.first_response", DURATION),
        (15, "targets.normal.excuting", "unknown field 'excuting' (did you mean executing?)"),
        (16, "targets.low", "targets for 'low', which is not a declared priority"),
    ]  # fmt: skip


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    with pytest.raises(SlaError) as caught:
        load_sla_file(write(tmp_path, BROKEN))
    assert len(caught.value.problems) == 12
    first = str(caught.value).splitlines()[0]
    assert first == f"{tmp_path / 'sla.yml'}:1 - timezone: {TIMEZONE}"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('start: "09:00", end: "18:00"', 'start: "18:00", end: "09:00"', 2, "must start before"),
        ('start: "09:00", end: "18:00"', 'start: "09:00", end: 18:00', 2, "in quotes"),
        ("executing: 45s}", "}", 11, "missing stage 'executing'"),
        ("in_review: 8h", "in_review: 0h", 13, "not a duration: '0h'"),
        ("in_review: 4h", "in_review: 366d", 11, "too long"),
        ("in_review: 8h", "in_review: 8", 13, "not a duration: 8"),
        ("business: true", "business: yes please", 13, "expected true or false"),
        ("{fact: customer_tier, eq: vip}", "{fact: customer_tier, eq: gold}", 8, "not one of"),
        ("{fact: customer_tier, eq: vip}", "{fact: customer_tier, equals: vip}", 8, "operator"),
        ("{name: normal}", "{name: normal, wen: {fact: age_hours, gt: 1}}", 9, "did you mean when"),
        ("  - {name: high,", "  - {name: urgent,", 8, "duplicate priority 'urgent'"),
        ("  - {name: urgent, when:", "  - {name: urgent, whenx: 1, x:", 7, "unknown field"),
        ("timezone: America/New_York\n", "", 1, "timezone is required"),
    ],
)
def test_each_problem(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    problems = lint_sla_file(write(tmp_path, GOOD.replace(old, new, 1)))
    assert any(p.line == line and message in p.message for p in problems), problems


def test_a_priority_after_the_catch_all_is_never_used(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  - {name: normal}", "  - {name: normal}\n  - {name: low, when: {fact: age_hours, gt: 1}}"
    )
    text += "  low: {first_response: 4h, in_review: 1d, awaiting_approval: 8h,\n"
    text += "        awaiting_customer: 5d, executing: 4h}\n"
    problems = lint_sla_file(write(tmp_path, text))
    assert [(p.line, p.message) for p in problems] == [
        (10, "never used: priority 'normal' above has no when")
    ]


def test_yaml_mistakes_have_their_line(tmp_path: Path) -> None:
    problems = lint_sla_file(write(tmp_path, GOOD + "targets: {}\n"))
    assert [(p.line, p.message) for p in problems] == [
        (7, "priority 'urgent' has no targets"),
        (8, "priority 'high' has no targets"),
        (9, "priority 'normal' has no targets"),
        (17, "duplicate key 'targets'"),
    ]


def test_every_status_has_a_stage_or_none() -> None:
    assert set(STAGE_BY_STATUS) == {status.value for status in Status}
    assert set(STAGE_BY_STATUS.values()) == {*STAGES, None}
    assert stage_for(Status.NEW) == "first_response"
    assert stage_for(Status.OFFER_EXPIRED) == "in_review"
    assert stage_for(Status.PROPOSED) == "awaiting_approval"
    assert stage_for(Status.NEEDS_ATTENTION) == "executing"
    assert stage_for(Status.WITHDRAWN) is None


def test_start_up_stops_on_a_broken_file_naming_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    with pytest.raises(StartupError) as caught:
        load_sla(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"SLA_FILE {path} has problems:"
    assert len(lines) == 13
    assert (
        lines[-1] == f"{path}:16 - targets.low: targets for 'low', which is not a declared priority"
    )


def test_start_up_loads_the_default_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLA_FILE", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.sla_file == default_sla_file()
    assert load_sla(settings.sla_file).priorities == ("urgent", "high", "normal")


def test_sla_lint_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, broken = write(tmp_path, GOOD), tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    assert main(["sla", "lint", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: no problems\n"
    assert main(["sla", "lint", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{broken}:1 - timezone: {TIMEZONE}"
    assert out[-1] == f"12 problem(s) in {broken}"
