"""Each generated dispute's way through the lifecycle: the statuses it passed, when, and how far
its running stage's service-level clock has gone."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from disputes.lifecycle import TRANSITIONS, Event, Status
from domain.resolutions import MONEY_KINDS, Resolution
from policies import business_time
from policies.sla import SlaPolicy, stage_for

OPEN_WEIGHTS = {
    Status.NEW: 12,
    Status.EVIDENCE_READY: 10,
    Status.IN_REVIEW: 30,
    Status.REOPENED: 3,
    Status.ESCALATED: 5,
    Status.OFFER_EXPIRED: 2,
    Status.PROPOSED: 12,
    Status.AWAITING_CUSTOMER: 12,
    Status.APPROVED: 3,
    Status.EXECUTING: 4,
    Status.EXECUTION_FAILED: 2,
    Status.NEEDS_ATTENTION: 5,
}
WITHDRAWN_SHARE = 0.15  # of the closed disputes; the rest are resolved
KIND_WEIGHTS = {
    Resolution.FULL_REFUND: 35,
    Resolution.PARTIAL_REFUND: 20,
    Resolution.REPLACEMENT: 10,
    Resolution.STORE_CREDIT: 10,
    Resolution.DENY: 12,
    Resolution.UPHOLD: 5,
    Resolution.CARRIER_CLAIM: 4,
    Resolution.OVERTURN: 3,
    Resolution.WAIVE_FEE: 1,
}
# The kinds the default policy pack puts to the customer before carrying them out.
AGREEMENT_KINDS = frozenset(
    {
        Resolution.PARTIAL_REFUND,
        Resolution.STORE_CREDIT,
        Resolution.REPLACEMENT,
        Resolution.WAIVE_FEE,
    }
)
# Seconds between entering one status and the next, drawn log-uniformly in these bounds.
MINUTE, HOUR, DAY = 60, 3600, 86400
GAPS: dict[Status, tuple[int, int]] = {
    Status.EVIDENCE_READY: (5, 5 * MINUTE),
    Status.IN_REVIEW: (10 * MINUTE, 20 * HOUR),
    Status.PROPOSED: (HOUR, 2 * DAY),
    Status.APPROVED: (10 * MINUTE, 8 * HOUR),
    Status.AWAITING_CUSTOMER: (MINUTE, 10 * MINUTE),
    Status.OFFER_EXPIRED: (14 * DAY, 14 * DAY),
    Status.EXECUTING: (1, MINUTE),
    Status.EXECUTION_FAILED: (2, 10 * MINUTE),
    Status.NEEDS_ATTENTION: (10 * MINUTE, 2 * HOUR),
    Status.RESOLVED: (2, 2 * MINUTE),
    Status.WITHDRAWN: (HOUR, 5 * DAY),
    Status.ESCALATED: (HOUR, DAY),
    Status.REOPENED: (DAY, 20 * DAY),
}
ACCEPTED_GAP = (HOUR, 4 * DAY)  # awaiting the customer -> approved again
UNPAID_GAP = (MINUTE, 30 * MINUTE)  # approved -> resolved without a payment
LEVEL_FRACTIONS = {"ok": (0.02, 0.72), "warning": (0.76, 0.98), "breached": (1.02, 3.0)}
TOUCH_WINDOW = 10 * MINUTE  # a due clock's stage started or crossed a line this recently


@dataclass(frozen=True, slots=True)
class Timeline:
    """Statuses entered in order (the first is `new`) and when; the last is the current one."""

    statuses: list[Status]
    times: list[datetime]
    kind: Resolution | None  # the proposal's kind, when the dispute got that far

    @property
    def status(self) -> Status:
        return self.statuses[-1]

    @property
    def created_at(self) -> datetime:
        return self.times[0]

    @property
    def stage_start(self) -> int:
        """Index of the status where the running stage began (it spans the statuses after it)."""
        stage = stage_for(self.status.value)
        start = len(self.statuses) - 1
        while start > 0 and stage_for(self.statuses[start - 1].value) == stage:
            start -= 1
        return start

    def entered(self, status: Status) -> datetime | None:
        """When `status` was last entered (what `state_times` keeps)."""
        for at, seen in zip(reversed(self.times), reversed(self.statuses), strict=True):
            if seen is status:
                return at
        return None


def event_between(before: Status, after: Status) -> Event:
    """The event of the lifecycle table that moves `before` to `after`."""
    for (state, event), target in TRANSITIONS.items():
        if state is before and target is after:
            return event
    raise ValueError(f"no event moves {before} to {after}")


def pick_kind(rng: random.Random, status: Status) -> Resolution:
    """A proposal kind that can have brought a dispute to `status`."""
    kinds = list(KIND_WEIGHTS)
    if status in (Status.AWAITING_CUSTOMER, Status.OFFER_EXPIRED):
        kinds = [k for k in kinds if k in AGREEMENT_KINDS]
    elif status in (Status.EXECUTING, Status.EXECUTION_FAILED, Status.NEEDS_ATTENTION):
        kinds = [k for k in kinds if k in MONEY_KINDS]
    return rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]


def path_to(rng: random.Random, status: Status) -> tuple[list[Status], Resolution | None]:
    """The statuses from `new` to `status`, and the proposal kind on the way (if any)."""
    s = Status
    front = [s.NEW, s.EVIDENCE_READY, s.IN_REVIEW] if rng.random() < 0.9 else [s.NEW, s.IN_REVIEW]
    if status is s.NEW:
        return [s.NEW], None
    if status is s.EVIDENCE_READY:
        return [s.NEW, s.EVIDENCE_READY], None
    if status is s.IN_REVIEW:
        return front, None
    if status is s.ESCALATED:
        return [*front, s.ESCALATED], None
    if status is s.WITHDRAWN:
        return [*front[: rng.randint(1, len(front))], s.WITHDRAWN], None
    kind = pick_kind(rng, status)
    path = [*front, s.PROPOSED]
    if status is s.PROPOSED:
        return path, kind
    path.append(s.APPROVED)
    if kind in AGREEMENT_KINDS:
        path.append(s.AWAITING_CUSTOMER)
        if status is s.AWAITING_CUSTOMER:
            return path, kind
        if status is s.OFFER_EXPIRED:
            return [*path, s.OFFER_EXPIRED], kind
        path.append(s.APPROVED)
    if status is s.APPROVED:
        return path, kind
    if kind in MONEY_KINDS:
        path.append(s.EXECUTING)
        if status in (s.EXECUTION_FAILED, s.NEEDS_ATTENTION):
            return [*path, status], kind
        if status is s.EXECUTING:
            return path, kind
    path.append(s.RESOLVED)
    if status is s.REOPENED:
        path.append(s.REOPENED)
    return path, kind


def gaps(rng: random.Random, statuses: list[Status]) -> list[float]:
    """Seconds spent in each status before the next (one fewer than the statuses)."""
    found = []
    for before, after in itertools.pairwise(statuses):
        low, high = GAPS[after]
        if before is Status.AWAITING_CUSTOMER and after is Status.APPROVED:
            low, high = ACCEPTED_GAP
        elif before is Status.APPROVED and after is Status.RESOLVED:
            low, high = UNPAID_GAP
        found.append(math.exp(rng.uniform(math.log(low), math.log(high))))
    return found


def closed_timeline(
    rng: random.Random, created: datetime, latest: datetime, withdrawn: bool
) -> Timeline:
    """A resolved or withdrawn dispute opened at `created`, closed by `latest`."""
    statuses, kind = path_to(rng, Status.WITHDRAWN if withdrawn else Status.RESOLVED)
    spans = gaps(rng, statuses)
    room = (latest - created).total_seconds()
    if sum(spans) > room:  # opened shortly before `latest`: it all went faster
        spans = [span * room / sum(spans) for span in spans]
    return Timeline(statuses, _times(created, spans), kind)


def open_timeline(
    rng: random.Random, status: Status, stage_age: timedelta, now: datetime
) -> Timeline:
    """A dispute now in `status` whose running stage began `stage_age` ago."""
    statuses, kind = path_to(rng, status)
    spans = gaps(rng, statuses)
    probe = Timeline(statuses, [now] * len(statuses), kind)
    start = probe.stage_start
    stage_began = now - stage_age
    after = spans[start:]
    if after and sum(after) >= stage_age.total_seconds():  # the stage's later steps came fast
        scale = stage_age.total_seconds() * rng.uniform(0.2, 0.9) / sum(after)
        after = [span * scale for span in after]
    times = [stage_began]
    for span in reversed(spans[:start]):
        times.insert(0, times[0] - timedelta(seconds=round(span)))
    for span in after:
        times.append(times[-1] + timedelta(seconds=int(span)))
    return Timeline(statuses, times, kind)


def _times(created: datetime, spans: list[float]) -> list[datetime]:
    times = [created]
    for span in spans:
        times.append(times[-1] + timedelta(seconds=int(span)))
    return times


class StageAges:
    """How long ago a stage must have begun for its clock to have run a given length at `now`:
    calendar time as it is, business time looked up in a table of the 10-minute steps before
    `now` (close enough for picking a level: the level itself is computed by the policy)."""

    STEP = timedelta(minutes=10)

    def __init__(self, sla: SlaPolicy, now: datetime, days: int = 45) -> None:
        self.sla, self.now = sla, now
        self._steps = days * 24 * 6
        self._elapsed = [
            business_time.elapsed(now - self.STEP * m, now, sla.calendar).total_seconds()
            for m in range(self._steps + 1)
        ]

    def age(self, priority: str, stage: str, run: timedelta) -> timedelta:
        """How long ago a stage of `priority` began if its clock has run `run` by now."""
        _, business = self.sla.target(priority, stage)
        if not business:
            return run
        m = bisect.bisect_left(self._elapsed, run.total_seconds())
        if m > self._steps:  # beyond the table: about 3.7 calendar hours a business hour
            extra = run.total_seconds() - self._elapsed[-1]
            return self.STEP * self._steps + timedelta(seconds=extra * 3.7)
        return self.STEP * m
