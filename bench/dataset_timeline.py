"""Each generated dispute's way through the lifecycle: the statuses it passed and when, the
proposals and offers on the way, the stage runs it finished, and how far its running stage's
service-level clock has gone."""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bench.dataset_cases import Case
from disputes.lifecycle import CLOSED, TRANSITIONS, Event, Status
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
WITHDRAWN_SHARE = 0.15  # of the closed disputes, before any proposal; the rest are resolved
WITHDRAWN_AFTER_EXPIRY = 0.4  # of the disputes whose offer expired
MAX_ROUNDS = 3  # proposals on the way to a resolution
SECOND_OFFER_SHARE = 0.6  # after a declined or expired offer: another offer (else a decision)
REOPEN_SHARE = 0.03  # of the resolved disputes: reopened, and resolved again
SLOW_REFUND_SHARE = 0.03  # refunds whose outcome stayed unknown until a person looked
OFFER_DAYS = 14
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
    Status.EXECUTING: (1, MINUTE),
    Status.EXECUTION_FAILED: (2, 10 * MINUTE),
    Status.NEEDS_ATTENTION: (15 * MINUTE, 2 * HOUR),
    Status.RESOLVED: (2, 2 * MINUTE),
    Status.WITHDRAWN: (HOUR, 5 * DAY),
    Status.ESCALATED: (HOUR, DAY),
    Status.REOPENED: (DAY, 20 * DAY),
}
ACCEPTED_GAP = (HOUR, 4 * DAY)  # awaiting the customer -> approved again
UNPAID_GAP = (MINUTE, 30 * MINUTE)  # approved -> resolved without a payment
SETTLED_GAP = (2 * HOUR, 3 * DAY)  # needs attention -> resolved, the refund found at last
LEVEL_FRACTIONS = {"ok": (0.02, 0.72), "warning": (0.76, 0.98), "breached": (1.02, 3.0)}
TOUCH_WINDOW = 10 * MINUTE  # a due clock's stage started or crossed a line this recently


@dataclass(frozen=True, slots=True)
class Round:
    """One proposal on a dispute's way, by index into its timeline: where it was proposed,
    approved and put to the customer, and the customer's answer (accepted, declined, expired;
    None while open or when the option needs no agreement)."""

    kind: Resolution
    proposed: int
    approved: int | None = None
    offered: int | None = None
    answer: str | None = None

    @property
    def answered(self) -> int | None:
        """Index of the status the answer moved the dispute to."""
        return None if self.answer is None or self.offered is None else self.offered + 1


@dataclass(frozen=True, slots=True)
class Timeline:
    """Statuses entered in order (the first is `new`) and when; the last is the current one."""

    statuses: list[Status]
    times: list[datetime]
    rounds: tuple[Round, ...] = ()

    @property
    def status(self) -> Status:
        return self.statuses[-1]

    @property
    def created_at(self) -> datetime:
        return self.times[0]

    @property
    def kind(self) -> Resolution | None:
        """The kind of the last proposal, when the dispute got that far."""
        return self.rounds[-1].kind if self.rounds else None

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

    def first(self, status: Status, after: int = 0) -> int | None:
        """Index of the first `status` at or after index `after`."""
        for index in range(after, len(self.statuses)):
            if self.statuses[index] is status:
                return index
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


def _notify_kind(rng: random.Random) -> Resolution:
    kinds = [k for k in KIND_WEIGHTS if k not in AGREEMENT_KINDS]
    return rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]


class _Path:
    """A timeline being drawn: the statuses, the seconds spent before each, the proposals."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.statuses = [Status.NEW]
        self.spans: list[float] = []
        self.fixed: list[bool] = []  # spans that may not be shortened (an offer's expiry)
        self.rounds: list[Round] = []

    @property
    def last(self) -> Status:
        return self.statuses[-1]

    def go(self, status: Status, seconds: float | None = None, *, fixed: bool = False) -> int:
        if seconds is None:
            low, high = GAPS[status]
            if self.last is Status.APPROVED and status is Status.RESOLVED:
                low, high = UNPAID_GAP
            seconds = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        self.statuses.append(status)
        self.spans.append(seconds)
        self.fixed.append(fixed)
        return len(self.statuses) - 1

    def front(self) -> None:
        """From `new` into review, mostly through `evidence_ready`."""
        if self.rng.random() < 0.9:
            self.go(Status.EVIDENCE_READY)
        self.go(Status.IN_REVIEW)

    def propose(self, kind: Resolution, *, approve: bool = True) -> Round:
        proposed = self.go(Status.PROPOSED)
        found = Round(kind, proposed, self.go(Status.APPROVED) if approve else None)
        self.rounds.append(found)
        return found

    def offer(self, found: Round, answer: str | None, seconds: float = 0.0) -> None:
        """Put the round's option to the customer, and take their answer (if any)."""
        offered = self.go(Status.AWAITING_CUSTOMER)
        self.rounds[-1] = replace(found, offered=offered, answer=answer)
        if answer == "accepted":
            self.go(Status.APPROVED, seconds)
        elif answer == "declined":
            self.go(Status.IN_REVIEW, seconds)
        elif answer == "expired":
            expiry = OFFER_DAYS * DAY + self.rng.randint(MINUTE, 10 * MINUTE)
            self.go(Status.OFFER_EXPIRED, expiry, fixed=True)

    def carry_out(self, kind: Resolution) -> None:
        if kind in MONEY_KINDS:
            self.go(Status.EXECUTING)
            if self.rng.random() < SLOW_REFUND_SHARE:
                self.go(Status.NEEDS_ATTENTION)
                low, high = SETTLED_GAP
                self.go(Status.RESOLVED, math.exp(self.rng.uniform(math.log(low), math.log(high))))
                return
        self.go(Status.RESOLVED)

    def timeline(self, created: datetime) -> Timeline:
        return Timeline(self.statuses, _times(created, self.spans), tuple(self.rounds))


def path_to(rng: random.Random, status: Status) -> _Path:
    """A way from `new` to the open `status` (or `withdrawn`), with at most one proposal."""
    s = Status
    path = _Path(rng)
    if status is s.NEW:
        return path
    if status is s.EVIDENCE_READY:
        path.go(s.EVIDENCE_READY)
        return path
    if status is s.WITHDRAWN:
        for step in (s.EVIDENCE_READY, s.IN_REVIEW)[: rng.randint(0, 2)]:
            path.go(step)
        path.go(s.WITHDRAWN)
        return path
    path.front()
    if status is s.IN_REVIEW:
        return path
    if status is s.ESCALATED:
        path.go(s.ESCALATED)
        return path
    kind = pick_kind(rng, status)
    found = path.propose(kind, approve=status is not s.PROPOSED)
    if status is s.PROPOSED:
        return path
    if kind in AGREEMENT_KINDS:
        if status is s.AWAITING_CUSTOMER:
            path.offer(found, None)
            return path
        if status is s.OFFER_EXPIRED:
            path.offer(found, "expired")
            return path
        path.offer(found, "accepted", math.exp(rng.uniform(*map(math.log, ACCEPTED_GAP))))
    if status is s.APPROVED:
        return path
    if kind in MONEY_KINDS:
        path.go(s.EXECUTING)
        if status in (s.EXECUTION_FAILED, s.NEEDS_ATTENTION):
            path.go(status)
            return path
        if status is s.EXECUTING:
            return path
    path.go(s.RESOLVED)
    if status is s.REOPENED:
        path.go(s.REOPENED)
    return path


def closed_path(rng: random.Random, case: Case, withdrawn: bool, *, plain: bool) -> _Path:
    """A way to `resolved` (or `withdrawn`): up to MAX_ROUNDS proposals, each option that
    needs the customer's agreement answered as `case` makes them likely to; after an expired
    offer some disputes are withdrawn. Then, rarely, reopened and resolved again. `plain`:
    nothing that takes a fixed time (no offer left to expire), and no reopening."""
    if withdrawn:
        return path_to(rng, Status.WITHDRAWN)
    path = _Path(rng)
    path.front()
    kind = pick_kind(rng, Status.RESOLVED)
    for number in range(1, MAX_ROUNDS + 1):
        if number > 1:
            again = rng.random() < SECOND_OFFER_SHARE and number < MAX_ROUNDS
            kind = pick_kind(rng, Status.AWAITING_CUSTOMER) if again else _notify_kind(rng)
        found = path.propose(kind)
        if kind not in AGREEMENT_KINDS:
            break
        answer, seconds = case.answer(rng, number)
        if answer == "expired" and plain:
            answer, seconds = "declined", DAY * rng.random()
        path.offer(found, answer, seconds)
        if answer == "accepted":
            break
        if answer == "expired":
            if rng.random() < WITHDRAWN_AFTER_EXPIRY:
                path.go(Status.WITHDRAWN)
                return path
            path.go(Status.IN_REVIEW)
    path.carry_out(kind)
    if not plain and rng.random() < REOPEN_SHARE:
        path.go(Status.REOPENED)
        path.go(Status.IN_REVIEW)
        kind = _notify_kind(rng)
        path.propose(kind)
        path.carry_out(kind)
    return path


def closed_timeline(
    rng: random.Random, case: Case, created: datetime, latest: datetime, withdrawn: bool
) -> Timeline:
    """A resolved or withdrawn dispute opened at `created`, closed by `latest`."""
    room = (latest - created).total_seconds()
    path = closed_path(rng, case, withdrawn, plain=False)
    if sum(path.spans) > room:  # opened shortly before `latest`: it all went faster
        fixed = sum(span for span, kept in zip(path.spans, path.fixed, strict=True) if kept)
        if fixed >= room:
            path = closed_path(rng, case, withdrawn, plain=True)
            fixed = 0.0
        loose = sum(path.spans) - fixed
        if loose > room - fixed:
            scale = (room - fixed) / loose
            path.spans = [
                span if kept else span * scale
                for span, kept in zip(path.spans, path.fixed, strict=True)
            ]
    return path.timeline(created)


def open_timeline(
    rng: random.Random, status: Status, stage_age: timedelta, now: datetime
) -> Timeline:
    """A dispute now in `status` whose running stage began `stage_age` ago."""
    path = path_to(rng, status)
    statuses, spans = path.statuses, path.spans
    probe = Timeline(statuses, [now] * len(statuses))
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
    return Timeline(statuses, times, tuple(path.rounds))


def milestones(timeline: Timeline) -> tuple[datetime | None, datetime | None, datetime | None]:
    """When the dispute was first resolved, first reopened after that, and last closed, as
    `disputes.milestones.stamp` keeps them."""
    resolved = timeline.first(Status.RESOLVED)
    reopened = None if resolved is None else timeline.first(Status.REOPENED, resolved)
    closed = timeline.times[-1] if timeline.status in CLOSED else None
    return (
        None if resolved is None else timeline.times[resolved],
        None if reopened is None else timeline.times[reopened],
        closed,
    )


@dataclass(frozen=True, slots=True)
class StageRun:
    stage: str
    entered_at: datetime
    left_at: datetime


def stage_runs(timeline: Timeline) -> list[StageRun]:
    """The service-level stage runs the timeline finished, as `disputes.milestones.ended_run`
    records them: a stage runs from the status that entered it until a status of another
    stage (or a closed one) is entered; the running stage of an open dispute is not finished."""
    runs = []
    stage, entered = stage_for(Status.NEW.value), timeline.created_at
    for status, at in zip(timeline.statuses[1:], timeline.times[1:], strict=True):
        now_stage = stage_for(status.value)
        if now_stage == stage:
            continue
        if stage is not None:
            runs.append(StageRun(stage, entered, at))
        stage, entered = now_stage, at
    return runs


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
