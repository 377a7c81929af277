"""SLA clocks: a dispute's priority, each stage's due time, and how far along its clock is.

Pure arithmetic over a loaded SLA file (`policies.sla_file`); storing when a stage was
entered, and scanning for clocks that need a warning, belong to the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from policies import business_time
from policies.schema import walk_leaves
from policies.sla_file import SlaFile, load_sla_file

# The stage whose clock runs in each dispute status (the values of `disputes.lifecycle.Status`,
# as plain strings: policies does not import disputes). A status mapped to None runs no clock.
STAGE_BY_STATUS: dict[str, str | None] = {
    # Nobody has answered yet.
    "new": "first_response",
    "evidence_ready": "first_response",
    # Someone is working the case, including after it came back to them.
    "in_review": "in_review",
    "reopened": "in_review",
    "escalated": "in_review",
    "offer_expired": "in_review",
    # A proposal waits for an approver.
    "proposed": "awaiting_approval",
    # An offer waits for the customer.
    "awaiting_customer": "awaiting_customer",
    # The decision is being carried out, or needs a person to finish carrying it out.
    "approved": "executing",
    "executing": "executing",
    "execution_failed": "executing",
    "needs_attention": "executing",
    # Closed.
    "resolved": None,
    "withdrawn": None,
}


def stage_for(status: str) -> str | None:
    """The stage whose clock runs in `status`; None when no clock runs. KeyError if unknown."""
    return STAGE_BY_STATUS[status]


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True, slots=True)
class SlaState:
    """One stage's clock at a moment: when it is due, the fraction used, and its level."""

    stage: str
    due_at: datetime
    elapsed_fraction: float
    level: Level


class SlaPolicy:
    """A loaded SLA file, asked about priorities, targets and clocks."""

    def __init__(self, sla: SlaFile) -> None:
        self.file = sla
        self.calendar = sla.calendar
        self.age_marks = _age_marks(sla)

    def is_high(self, priority: str) -> bool:
        """Whether `priority` ranks above the last (the everyday one): such disputes should not
        wait without an owner."""
        names = self.priorities
        return priority in names and priority != names[-1]

    def next_review(self, opened_at: datetime, now: datetime) -> datetime | None:
        """The next moment after `now` at which a priority rule on `age_hours` may change its
        answer for a dispute opened at `opened_at`; None when no rule reads the age."""
        for hours in self.age_marks:
            moment = opened_at + timedelta(hours=hours)
            if moment > now:
                return moment
        return None

    def warns_at(self, priority: str, stage: str, entered_at: datetime) -> datetime:
        """When a stage entered at `entered_at` reaches `warn_at` of its target."""
        length, business = self.target(priority, stage)
        part = length * self.file.warn_at
        if business:
            return business_time.add(entered_at, part, self.calendar)
        return entered_at + part

    @classmethod
    def load(cls, path: Path) -> SlaPolicy:
        """The SLA file at `path`; raises `SlaError` listing every problem."""
        return cls(load_sla_file(path))

    @property
    def priorities(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.file.priorities)

    def priority(self, facts: dict[str, Any], as_of: datetime | None = None) -> str:
        """The first priority whose condition holds for `facts`; the last when none does.
        `as_of` is the moment date facts are compared with (now by default)."""
        moment = as_of or datetime.now(UTC)
        for rule in self.file.priorities:
            if rule.test(facts, moment):
                return rule.name
        return self.file.priorities[-1].name

    def target(self, priority: str, stage: str) -> tuple[timedelta, bool]:
        """The stage's target for `priority`, and whether it counts business time."""
        target = self.file.targets[priority]
        return target.stages[stage], target.business

    def due(self, priority: str, stage: str, entered_at: datetime) -> datetime:
        """When a stage entered at `entered_at` is due."""
        length, business = self.target(priority, stage)
        if business:
            return business_time.add(entered_at, length, self.calendar)
        return entered_at + length

    def elapsed(self, priority: str, stage: str, entered_at: datetime, now: datetime) -> timedelta:
        """How much of the stage's clock has run by `now` (never less than zero)."""
        if self.target(priority, stage)[1]:
            return business_time.elapsed(entered_at, now, self.calendar)
        return max(now - entered_at, timedelta(0))

    def state(self, priority: str, stage: str, entered_at: datetime, now: datetime) -> SlaState:
        """The stage's clock at `now`: `warning` from `warn_at` of its target, then `breached`."""
        length, _ = self.target(priority, stage)
        fraction = self.elapsed(priority, stage, entered_at, now) / length
        if fraction >= 1:
            level = Level.BREACHED
        elif fraction >= self.file.warn_at:
            level = Level.WARNING
        else:
            level = Level.OK
        return SlaState(stage, self.due(priority, stage, entered_at), fraction, level)

    def in_quiet_hours(self, now: datetime) -> bool:
        """Whether `now` falls in the file's quiet hours (which may wrap midnight)."""
        if self.file.quiet_hours is None:
            return False
        start, end = self.file.quiet_hours
        wall = now.astimezone(self.calendar.zone).time()
        return _within(wall, start, end)


def _age_marks(sla: SlaFile) -> tuple[int, ...]:
    """The ages (whole hours) at which a priority rule on `age_hours` can change its answer."""
    marks: set[int] = set()
    for rule in sla.priorities:
        for _, leaf in walk_leaves(rule.when):
            if leaf.fact != "age_hours":
                continue
            value = leaf.value
            for hours in value if isinstance(value, list | tuple) else [value]:
                if isinstance(hours, int) and not isinstance(hours, bool):
                    marks.update({max(hours, 0), max(hours + 1, 0)})
    return tuple(sorted(marks))


def _within(wall: time, start: time, end: time) -> bool:
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end
