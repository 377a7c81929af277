"""Read an SLA file (`SLA_FILE`): every problem at once, each with its file and line.

The file names a timezone, business hours and holidays, optional quiet hours, the warning
threshold, the priorities (conditions as in the policy pack, first match wins) and, per
priority, a target for every stage. Nothing here knows of disputes: `policies.sla` uses it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict

from policies.business_time import Calendar
from policies.conditions import Predicate, compile_condition
from policies.schema import Condition, leaf_problems, walk_leaves
from policies.validation import validate
from policies.yaml_source import Loc, Problem, YamlDoc, parse_loc, read_yaml

STAGES = ("first_response", "in_review", "awaiting_approval", "awaiting_customer", "executing")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WARN_AT = 0.75
# The facts a priority rule may use: what is known of every dispute without reading its
# evidence, so a priority can be set at intake and kept up to date by the scan.
SLA_FACTS = (
    "reason",
    "currency",
    "order_total",
    "disputed_amount",
    "customer_tier",
    "prior_returns_90d",
    "prior_disputes",
    "age_hours",
)
LONGEST_TARGET = timedelta(days=365)

_TOP = ("timezone", "business_hours", "holidays", "quiet_hours", "warn_at", "priorities", "targets")
_HOURS = ("days", "start", "end")
_QUIET = ("start", "end")
_PRIORITY = ("name", "when")
_TARGET = ("business", *STAGES)
_REQUIRED = ("timezone", "business_hours", "priorities", "targets")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1)}
_NAME = re.compile(r"^[a-z0-9_-]+$")


class SlaError(Exception):
    """An SLA file that does not load; `problems` says everything that is wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Priority:
    """One priority rule: its name and the compiled test of its condition."""

    name: str
    when: Condition | None
    test: Predicate


@dataclass(frozen=True)
class Target:
    """A priority's targets: a duration per stage, counted in business or calendar time."""

    business: bool
    stages: dict[str, timedelta]


@dataclass(frozen=True)
class SlaFile:
    """An SLA file that checked clean."""

    path: Path
    calendar: Calendar
    quiet_hours: tuple[time, time] | None
    warn_at: float
    priorities: tuple[Priority, ...]
    targets: dict[str, Target]


class _When(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Condition | None = None


def load_sla_file(path: Path) -> SlaFile:
    """The SLA file at `path`; raises SlaError listing every problem, in line order."""
    sla, problems = check_sla_file(Path(path))
    if sla is None:
        raise SlaError(problems)
    return sla


def lint_sla_file(path: Path) -> list[Problem]:
    """Every problem in the SLA file, in line order; empty when it loads."""
    return check_sla_file(Path(path))[1]


def check_sla_file(path: Path) -> tuple[SlaFile | None, list[Problem]]:
    """Read and check the file: the loaded file when there are no problems, and the problems."""
    doc, _raw, problems = read_yaml(path)
    if doc is None:
        return None, problems
    reader = _Reader(doc, problems)
    sla = reader.read(path)
    problems.sort(key=lambda p: p.line)
    return (sla if not problems else None), problems


class _Reader:
    """Checks one document, collecting problems instead of stopping at the first."""

    def __init__(self, doc: YamlDoc, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems
        self.declared: list[str] = []  # priority names, even those whose condition is wrong

    def report(self, loc: Loc, message: str) -> None:
        self.problems.append(self.doc.problem(loc, message))

    def read(self, path: Path) -> SlaFile | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.report((), "an SLA file is a mapping with timezone, business_hours, ... targets")
            return None
        self.fields((), data, _TOP)
        for name in _REQUIRED:
            if name not in data:
                self.report((), f"{name} is required")
        zone = self.zone(data.get("timezone"))
        hours = self.business_hours(data.get("business_hours"))
        holidays = self.holidays(data.get("holidays", []))
        quiet = self.quiet_hours(data.get("quiet_hours"))
        warn_at = self.warn_at(data.get("warn_at", DEFAULT_WARN_AT))
        priorities = self.priorities(data.get("priorities"))
        calendar = None
        if zone is not None and hours is not None and holidays is not None:
            days, start, end = hours
            calendar = Calendar(zone, days, start, end, holidays)
        names = self.declared
        day = calendar.day_length if calendar else timedelta(days=1)
        targets = self.targets(data.get("targets"), names, day)
        if self.problems or calendar is None or priorities is None or targets is None:
            return None
        assert warn_at is not None  # every None came with a problem
        return SlaFile(path, calendar, quiet, warn_at, priorities, targets)

    def fields(self, loc: Loc, data: dict[Any, Any], known: tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.report((*loc, key), f"unknown field {key!r}{hint}")

    def mapping(self, loc: Loc, value: Any, what: str) -> dict[Any, Any] | None:
        if isinstance(value, dict):
            return value
        self.report(loc, f"expected a mapping of {what}, got {value!r}")
        return None

    def zone(self, value: Any) -> ZoneInfo | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        close = difflib.get_close_matches(str(value), available_timezones(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.report(("timezone",), f"unknown timezone {value!r}{hint}")
        return None

    def time_of_day(self, loc: Loc, value: Any) -> time | None:
        if isinstance(value, str) and (match := _TIME.match(value)):
            return time(int(match[1]), int(match[2]))
        hint = " in quotes" if isinstance(value, int) else ""
        self.report(loc, f'not a time: {value!r} (write "HH:MM"{hint}, like "09:00")')
        return None

    def business_hours(self, value: Any) -> tuple[frozenset[int], time, time] | None:
        at: Loc = ("business_hours",)
        if value is None or (hours := self.mapping(at, value, "days, start and end")) is None:
            return None
        self.fields(at, hours, _HOURS)
        for name in _HOURS:
            if name not in hours:
                self.report(at, f"{name} is required")
        days = self.days(hours.get("days"))
        start = self.time_of_day((*at, "start"), hours["start"]) if "start" in hours else None
        end = self.time_of_day((*at, "end"), hours["end"]) if "end" in hours else None
        if start is not None and end is not None and start >= end:
            message = f"business hours must start before they end ({start:%H:%M}-{end:%H:%M})"
            self.report((*at, "end"), message)
            return None
        if days is None or start is None or end is None:
            return None
        return days, start, end

    def days(self, value: Any) -> frozenset[int] | None:
        at: Loc = ("business_hours", "days")
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.report(at, f"expected a list of days like [mon, tue], got {value!r}")
            return None
        found: set[int] = set()
        for index, day in enumerate(value):
            if day in DAYS:
                found.add(DAYS.index(day))
                continue
            close = difflib.get_close_matches(str(day), DAYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (use {', '.join(DAYS)})"
            self.report((*at, index), f"unknown day {day!r}{hint}")
        return frozenset(found) if len(found) == len(value) else None

    def holidays(self, value: Any) -> frozenset[date] | None:
        if value is None:
            return frozenset()
        if not isinstance(value, list):
            self.report(
                ("holidays",), f'expected a list of dates like ["2026-12-25"], got {value!r}'
            )
            return None
        found: set[date] = set()
        for index, item in enumerate(value):
            day = _date(item)
            if day is None:
                self.report(("holidays", index), f'not a date: {item!r} (write "YYYY-MM-DD")')
            else:
                found.add(day)
        return frozenset(found)

    def quiet_hours(self, value: Any) -> tuple[time, time] | None:
        at: Loc = ("quiet_hours",)
        if value is None:
            return None
        if (quiet := self.mapping(at, value, "start and end, or null")) is None:
            return None
        self.fields(at, quiet, _QUIET)
        for name in _QUIET:
            if name not in quiet:
                self.report(at, f"{name} is required")
        start = self.time_of_day((*at, "start"), quiet["start"]) if "start" in quiet else None
        end = self.time_of_day((*at, "end"), quiet["end"]) if "end" in quiet else None
        if start is None or end is None:
            return None
        if start == end:
            self.report((*at, "end"), "quiet hours start and end at the same time")
            return None
        return start, end

    def warn_at(self, value: Any) -> float | None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and 0 < value < 1:
            return float(value)
        self.report(
            ("warn_at",), f"warn_at is a fraction between 0 and 1, like 0.75, got {value!r}"
        )
        return None

    def priorities(self, value: Any) -> tuple[Priority, ...] | None:
        at: Loc = ("priorities",)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.report(at, "expected a list of priorities like [{name: normal}]")
            return None
        found: list[Priority] = []
        seen: dict[str, int] = {}
        catch_all: str | None = None
        for index, raw in enumerate(value):
            loc: Loc = (*at, index)
            if (item := self.mapping(loc, raw, "name and when")) is None:
                continue
            self.fields(loc, item, _PRIORITY)
            name = item.get("name")
            if not isinstance(name, str) or not _NAME.match(name):
                self.report((*loc, "name"), f"a priority needs a name like urgent, got {name!r}")
                continue
            if name in seen:
                first = self.doc.line((*at, seen[name]))
                self.report((*loc, "name"), f"duplicate priority {name!r} (first on line {first})")
                continue
            seen[name] = index
            self.declared.append(name)
            if catch_all is not None:
                self.report(loc, f"never used: priority {catch_all!r} above has no when")
            if item.get("when") is None:
                catch_all = catch_all or name
            when = self.condition(loc, item)
            if when is not None or item.get("when") is None:
                found.append(Priority(name, when, compile_condition(when).test))
        return tuple(found) if len(found) == len(value) else None

    def condition(self, loc: Loc, item: dict[Any, Any]) -> Condition | None:
        """The priority's condition typed against FACTS; None without one or when it is wrong."""
        when = _pack_form(item.get("when"))
        parsed = validate(self.doc, loc, _When, {"when": when}, self.problems)
        if parsed is None:
            return None
        typed = True
        for path, leaf in walk_leaves(parsed.when):
            problems = leaf_problems(leaf)
            if not problems and leaf.fact not in SLA_FACTS:
                known = ", ".join(SLA_FACTS)
                problems = [("fact", f"{leaf.fact!r} is not known to priorities; use {known}")]
            for key, message in problems:
                self.report((*loc, *parse_loc(path), key), message)
                typed = False
        return parsed.when if typed else None

    def targets(self, value: Any, names: list[str], day: timedelta) -> dict[str, Target] | None:
        at: Loc = ("targets",)
        if value is None or (targets := self.mapping(at, value, "targets by priority")) is None:
            return None
        found: dict[str, Target] = {}
        for name, raw in targets.items():
            loc: Loc = (*at, name)
            if name not in names:
                close = difflib.get_close_matches(str(name), names, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.report(loc, f"targets for {name!r}, which is not a declared priority{hint}")
                continue
            target = self.target(loc, raw, day)
            if target is not None:
                found[name] = target
        for index, name in enumerate(names):
            if name not in targets:
                self.report(("priorities", index, "name"), f"priority {name!r} has no targets")
        return found if set(found) == set(names) else None

    def target(self, loc: Loc, raw: Any, day: timedelta) -> Target | None:
        if (item := self.mapping(loc, raw, "business and a duration per stage")) is None:
            return None
        self.fields(loc, item, _TARGET)
        business = item.get("business", False)
        if not isinstance(business, bool):
            self.report((*loc, "business"), f"expected true or false, got {business!r}")
        stages: dict[str, timedelta] = {}
        for stage in STAGES:
            if stage not in item:
                self.report(loc, f"missing stage {stage!r}")
                continue
            length = self.duration((*loc, stage), item[stage], day if business is True else None)
            if length is not None:
                stages[stage] = length
        if len(stages) != len(STAGES) or not isinstance(business, bool):
            return None
        return Target(business, stages)

    def duration(self, loc: Loc, value: Any, business_day: timedelta | None) -> timedelta | None:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None or int(match[1]) == 0:
            self.report(loc, f"not a duration: {value!r} (write 45s, 30m, 4h or 2d)")
            return None
        count, unit = int(match[1]), match[2]
        if count > LONGEST_TARGET.total_seconds():  # cheap bound before multiplying
            length = LONGEST_TARGET * 2
        else:
            length = count * _unit(unit, business_day)
        if length > LONGEST_TARGET:
            self.report(loc, f"{value!r} is too long: a target is at most 365d")
            return None
        return length


def _unit(unit: str, business_day: timedelta | None) -> timedelta:
    """One unit; `d` of business time is one business day, else 24 hours."""
    if unit == "d":
        return business_day if business_day is not None else timedelta(days=1)
    return _UNITS[unit]


def _pack_form(raw: Any) -> Any:
    """A condition with `{fact, op, value}` leaves written as the pack writes them:
    `{fact: disputed_amount, op: gte, value: "500.00"}` is `{fact: ..., gte: "500.00"}`."""
    if isinstance(raw, list):
        return [_pack_form(item) for item in raw]
    if not isinstance(raw, dict):
        return raw
    if "fact" in raw and isinstance(raw.get("op"), str) and raw["op"] not in raw:
        leaf = {key: item for key, item in raw.items() if key not in ("op", "value")}
        leaf[raw["op"]] = raw.get("value")
        return leaf
    return {key: _pack_form(item) for key, item in raw.items()}


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
