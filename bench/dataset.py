"""A seeded dataset of disputes for the scan, insights and scale benchmarks.

    python -m bench.dataset --database-url URL --disputes N [--open-share 0.1]
        [--due-share 0.01] [--seed 1] [--now 2026-11-18T15:00:00+00:00] [--workers 1]

Migrates the database, then adds N disputes as the app would have stored them by `now`: numbers
and ids in the order the disputes were opened over `history_days`; an order snapshot each
(`domain.orders.Order` wire JSON) and the evidence the default sources file from it, plus what
a person or the customer filed during review (photos, a file, a reply by mail); the statuses
passed (`state_times`) with one audit entry per step, chained per dispute by
`disputes.audit.entry_hash` so `audit verify` passes; the proposals, the offers and the
customer's answers to them (accepted, declined, expired), the refund request of each option
that moves money once carried out (with the payment's ledger row), and a CSAT survey for most
resolved ones (about 38% answered, mostly 4s and 5s). Policy decisions and customer messages
are not generated.

What insights read is as the app's write hook (`disputes.sla_clock.watch`) keeps it: the
milestones (`resolved_at` and its business seconds by the SLA file's calendar, `reopened_at`,
`closed_at`), the facts of `disputes.insight_facts` (recomputed once the rows are written), a
`sla_stage_runs` row for every service-level stage the dispute finished (due by
the file's targets, breached when left after that), and `dispute_tags`: the SKUs, categories
and carriers `disputes.tags.order_tags` finds in the snapshot, and one to three rules of the
default pack its decision cited, drawn by reason (`bench.dataset_cases`). The customer accepts
an offer more often and sooner with photos on file and some rules cited, less with others;
about 3% of resolved disputes are reopened and resolved again, and 2% of closed ones are
followed within two weeks by another dispute on the same order. In the last 30 days one SKU
(defective) and one carrier (damaged parcels) rise well above their share: upstream problems
for the recurring-reasons analysis to flag.

Most disputes are closed (about 84% of them resolved, the rest withdrawn); `open_share` are
open, mostly recent, spread over the open statuses. Their service-level clock is what
`disputes.sla_clock.clock_of` computes at `now` with the SLA file (about 72% ok, 14% warning,
14% breached), except for `due_share` of them, whose `sla_check_at` has come: a third just
written (the clock as of now, checked at the write), the rest stored just before their warning or
breach moment (the scan will find a changed level). Priorities follow the file's rules: the
first (urgent: returned goods worth 500.00+) for 4%, the second (high: VIP customers) for 9%.
Owners: 50 people, 12% of open disputes unassigned.

The same seed, count, shares and `now` give the same rows, whatever the number of `--workers`
(processes making rows while this one writes them). SQLite rows go in through SQLAlchemy Core
executemany, PostgreSQL rows through COPY (asyncpg `copy_records_to_table`), in batches.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import multiprocessing
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.dataset_cases import SURGE_DAYS, Case, draw_case
from bench.dataset_orders import GeneratedOrder, customer, make_order
from bench.dataset_rows import (
    ROUND_SLOTS,
    Audit,
    Resolutions,
    actor_for,
    filed_in_review,
    intake_evidence,
    money_moved,
    proposal_amount,
    tag_rows,
)
from bench.dataset_timeline import (
    LEVEL_FRACTIONS,
    OFFER_DAYS,
    OPEN_WEIGHTS,
    TOUCH_WINDOW,
    WITHDRAWN_SHARE,
    StageAges,
    Timeline,
    closed_timeline,
    event_between,
    milestones,
    open_timeline,
    stage_runs,
)
from disputes import insight_facts
from disputes.evidence_gathering import required_kinds
from disputes.lifecycle import Status
from disputes.milestones import business_seconds
from disputes.sla_clock import Clock, clock_of, facts_of
from policies.sla import SlaPolicy, stage_for
from storage.db import Database
from storage.migrate import migrate
from storage.tables import Base, DisputeRow
from storage.tables import Counter as CounterRow

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SLA = ROOT / "policies" / "sla" / "default.yml"
# In the order they are written: each after the tables it points at.
TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name]
    for name in (
        "disputes",
        "dispute_tags",
        "sla_stage_runs",
        "evidence_items",
        "audit_entries",
        "proposals",
        "customer_offers",
        "refund_ledger",
        "refund_requests",
        "csat_surveys",
    )
)
NUMBERED = tuple(t for t in TABLES if "id" in t.columns)  # the tables with an id sequence
STRIDED = ("proposals", "customer_offers", "refund_requests")  # ROUND_SLOTS ids per dispute
JSON_COLUMNS = {
    t.name: frozenset(c.name for c in t.columns if isinstance(c.type, JSON)) for t in TABLES
}
OWNERS = tuple(f"U0{(n * 7_919) % 100_000:05d}DD" for n in range(1, 51))
PRIORITY_WEIGHTS = (4, 9)  # percent for the first and second priority; the last takes the rest
UNASSIGNED_OPEN, UNASSIGNED_CLOSED = 0.12, 0.02
DUE_KINDS = (("touched", 34), ("warning", 38), ("breached", 28))
LEVEL_SHARES = (("ok", 72), ("warning", 14), ("breached", 14))
# Of the closed disputes: another dispute on the same order follows, within this many days of
# the first one's closing.
FOLLOW_UP_SHARE, FOLLOW_UP_DAYS = 0.02, 13
CLAIMS = (
    "Customer says the return was refused unfairly.",
    "Escalated from chat: wants a second look.",
    "Customer disputes the inspection result.",
    "",
)


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    disputes: int
    open_share: float = 0.10
    due_share: float = 0.01  # of the open disputes: those whose `sla_check_at` has come
    seed: int = 1
    now: datetime | None = None  # the moment the data is as of; the current second by default
    history_days: int = 365
    batch: int = 1_000
    sla_file: Path = DEFAULT_SLA


@dataclass(slots=True)
class DatasetReport:
    now: datetime
    first_number: int
    last_number: int
    open: int
    due: int
    rows: dict[str, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)  # of the open disputes
    priorities: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


async def fill(
    db: Database,
    spec: DatasetSpec,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = 0,
) -> DatasetReport:
    """Add `spec.disputes` disputes to a migrated database (after any already there).

    The rows are made by `workers` processes (0: a thread of this one) while this process
    writes them; any number of workers makes the same rows. Workers are spawned: a script
    calling this with workers runs its work under `if __name__ == "__main__":`."""
    started = time.perf_counter()
    now = (spec.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    async with db.engine.connect() as connection:
        ids = {t.name: await _next_id(connection, t) for t in NUMBERED}
        counter = select(CounterRow.value).where(CounterRow.name == "dispute")
        first_number = int(await connection.scalar(counter) or 0) + 1
    setup = _Setup(spec, now, ids, first_number, encode=not db.is_sqlite)
    planner = _Planner(setup)
    report = DatasetReport(now, first_number, first_number + spec.disputes - 1, 0, 0)
    writer = await _writer(db)
    loop = asyncio.get_running_loop()
    pool: Executor
    if workers > 0:
        # Spawned, not forked: this process has threads (the database driver's) to not copy.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(setup,)
        )
        make: Callable[[list[_Ticket]], _Made] = _make_in_worker
    else:
        pool, make = ThreadPoolExecutor(1), _Maker(setup, planner.ages).make
    chunks = _chunks(planner.tickets(), spec.batch)
    try:
        pending: deque[asyncio.Future[_Made]] = deque()
        for chunk in itertools.islice(chunks, max(workers, 1) + 1):
            pending.append(loop.run_in_executor(pool, make, chunk))
        done = 0
        while pending:
            made = await pending.popleft()
            for chunk in itertools.islice(chunks, 1):
                pending.append(loop.run_in_executor(pool, make, chunk))
            await writer.write(made.rows)
            _add(report, made)
            done += made.disputes
            if progress is not None:
                progress(done, spec.disputes)
        await writer.finish(report.last_number)
        async with db.engine.begin() as connection:  # what the app's after-flush hook keeps
            await connection.run_sync(insight_facts.refresh_all)
    finally:
        pool.shutdown(cancel_futures=True)
        await writer.close()
    report.seconds = time.perf_counter() - started
    return report


def _chunks(tickets: Iterator[_Ticket], size: int) -> Iterator[list[_Ticket]]:
    while chunk := list(itertools.islice(tickets, size)):
        yield chunk


async def _next_id(connection: AsyncConnection, table: Table) -> int:
    return int(await connection.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


@dataclass(frozen=True, slots=True)
class _Setup:
    """What every process making rows shares."""

    spec: DatasetSpec
    now: datetime
    ids: dict[str, int]  # the first id of each table that is free
    first_number: int
    encode: bool  # rows as COPY records (PostgreSQL) instead of dicts for Core inserts


@dataclass(frozen=True, slots=True)
class _Ticket:
    """One dispute to make: enough for any process to make the same rows."""

    number: int
    seed: int
    opened_at: datetime | None  # a closed dispute's; an open one's follows from its plan
    due: bool | None  # None: closed
    prior: int  # the customer's disputes before this one
    follows: _Origin | None = None  # the earlier dispute on the same order


@dataclass(frozen=True, slots=True)
class _Origin:
    """An earlier closed dispute whose order a later one is about."""

    number: int
    seed: int
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class _Plan:
    """What is decided about a dispute before its rows are made: its priority as designed,
    what it is about, its timeline, how its clock is stored when open, and its customer."""

    rank: int  # 0: the first (highest) priority of the SLA file
    case: Case
    timeline: Timeline
    due: str | None  # touched, warning, breached: how a due clock got due; None: not due
    customer: int
    rng: random.Random  # the dispute's own, drawn from for the rest of its rows


@dataclass(slots=True)
class _Made:
    """A batch of disputes' rows by table, and what they were."""

    disputes: int
    rows: dict[str, Any]
    open: int = 0
    due: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    priorities: Counter[str] = field(default_factory=Counter)


class _Plans:
    """Plans drawn from a dispute's own seed: the same in the planner and in any worker."""

    def __init__(self, setup: _Setup, ages: StageAges | None = None) -> None:
        self.setup, self.spec, self.now = setup, setup.spec, setup.now
        self.ages = ages or StageAges(SlaPolicy.load(setup.spec.sla_file), setup.now)
        self.sla = self.ages.sla
        self.customers = max(10, int(setup.spec.disputes * 0.7))

    def plan(
        self,
        seed: int,
        opened_at: datetime | None,
        due: bool | None,
        follows: _Origin | None = None,
    ) -> _Plan:
        """The plan of the dispute with this seed (about the order of `follows`, if given)."""
        rng = random.Random(seed)
        rank = self._rank(rng)
        origin = None
        if follows is not None:
            origin = self.plan(follows.seed, follows.opened_at, None)
        if due is None:
            assert opened_at is not None
            withdrawn = rng.random() < WITHDRAWN_SHARE
            latest = self.now - timedelta(minutes=1)
            case = draw_case(
                rng, surge=self._in_surge(opened_at), like=origin.case if origin else None
            )
            timeline, how = closed_timeline(rng, case, opened_at, latest, withdrawn), None
        else:
            timeline, how = self._open_timeline(rng, rank, due)
            case = draw_case(rng, surge=self._in_surge(timeline.created_at))
        buyer = self._customer_index(rng, vip=rank == 1)
        if origin is not None:  # the same order: its customer, its priority as designed
            rank, buyer = origin.rank, origin.customer
        return _Plan(rank, case, timeline, how, buyer, rng)

    def _in_surge(self, opened_at: datetime) -> bool:
        return opened_at >= self.now - timedelta(days=SURGE_DAYS)

    def _rank(self, rng: random.Random) -> int:
        roll, last = rng.random() * 100, len(self.sla.priorities) - 1
        for rank, weight in enumerate(PRIORITY_WEIGHTS[:last]):
            if roll < weight:
                return rank
            roll -= weight
        return last

    def _open_timeline(
        self, rng: random.Random, rank: int, due: bool
    ) -> tuple[Timeline, str | None]:
        priority = self.sla.priorities[rank]
        status = rng.choices(list(OPEN_WEIGHTS), list(OPEN_WEIGHTS.values()))[0]
        stage = stage_for(status.value)
        assert stage is not None
        length, _ = self.sla.target(priority, stage)
        touch = timedelta(seconds=TOUCH_WINDOW * rng.random())
        how = None
        if due:
            how = rng.choices([k for k, _ in DUE_KINDS], [w for _, w in DUE_KINDS])[0]
            lead = {"touched": 0.0, "warning": self.sla.file.warn_at, "breached": 1.0}[how]
            run = length * lead + touch
        else:
            level = rng.choices([k for k, _ in LEVEL_SHARES], [w for _, w in LEVEL_SHARES])[0]
            run = length * rng.uniform(*LEVEL_FRACTIONS[level])
        age = self.ages.age(priority, stage, run)
        if status is Status.AWAITING_CUSTOMER:  # an offer still open has not expired
            age = min(age, timedelta(days=OFFER_DAYS - 1))
        return open_timeline(rng, status, age, self.now), how

    def _customer_index(self, rng: random.Random, vip: bool) -> int:
        """A customer, returning ones more often; VIP exactly when `vip`."""
        while True:
            index = int(self.customers * rng.random() ** 1.6)
            if (customer(index).tier == "vip") == vip:
                return index


class _Planner(_Plans):
    """Numbers the disputes in the order they were opened and counts each customer's."""

    def tickets(self) -> Iterator[_Ticket]:
        rng = random.Random(self.spec.seed)
        opened = round(self.spec.disputes * self.spec.open_share)
        due = set(rng.sample(range(opened), round(opened * self.spec.due_share)))
        open_plans = []
        for index in range(opened):
            seed = rng.getrandbits(64)
            plan = self.plan(seed, None, index in due)
            open_plans.append((plan.timeline.created_at, seed, index in due))
        open_plans.sort()
        closed = self.spec.disputes - opened
        span = timedelta(days=self.spec.history_days) - timedelta(hours=1)
        start = self.now - timedelta(days=self.spec.history_days)
        step = span / max(closed, 1)
        prior: Counter[int] = Counter()
        # Closed disputes another will follow on the same order: (when, origin), soonest first.
        followed: list[tuple[datetime, int, _Origin]] = []
        k = j = 0
        number = self.setup.first_number
        created = start + step * rng.random()
        while k < closed or j < len(open_plans):
            follows = None
            if j < len(open_plans) and (k >= closed or open_plans[j][0] <= created):
                _, seed, is_due = open_plans[j]
                ticket_at, ticket_due = None, is_due
                j += 1
            else:
                seed, ticket_at, ticket_due = (
                    rng.getrandbits(64),
                    created.replace(microsecond=0),
                    None,
                )
                if followed and followed[0][0] <= ticket_at:
                    follows = heapq.heappop(followed)[2]
                k += 1
                created = start + step * (k + rng.random())
            plan = self.plan(seed, ticket_at, ticket_due, follows)
            yield _Ticket(number, seed, ticket_at, ticket_due, prior[plan.customer], follows)
            prior[plan.customer] += 1
            if ticket_at is not None and follows is None and rng.random() < FOLLOW_UP_SHARE:
                closed_at = plan.timeline.times[-1]
                after = timedelta(days=FOLLOW_UP_DAYS * rng.random(), hours=1)
                origin = _Origin(number, seed, ticket_at)
                heapq.heappush(followed, (closed_at + after, number, origin))
            number += 1


_worker: _Maker | None = None


def _start_worker(setup: _Setup) -> None:
    global _worker
    _worker = _Maker(setup)


def _make_in_worker(tickets: list[_Ticket]) -> _Made:
    assert _worker is not None
    return _worker.make(tickets)


class _Maker(_Plans):
    """Makes the rows of the disputes on tickets. Ids: a dispute's follows from its number, and
    so do its survey's and, ROUND_SLOTS apart, its proposals' and offers'; the other rows get
    theirs from the database."""

    def make(self, tickets: list[_Ticket]) -> _Made:
        made = _Made(len(tickets), {t.name: [] for t in TABLES})
        for ticket in tickets:
            for table, found in self._rows(ticket, made).items():
                made.rows[table].extend(found)
        if self.setup.encode:
            made.rows = {name: _records(name, rows) for name, rows in made.rows.items()}
        return made

    def _id(self, table: str, number: int, slot: int = 0) -> int:
        offset = number - self.setup.first_number
        if table in STRIDED:
            return self.setup.ids[table] + offset * ROUND_SLOTS + slot
        return self.setup.ids[table] + offset

    def _order(self, plan: _Plan, number: int) -> tuple[GeneratedOrder, list[int | None]]:
        """The dispute's order and the amounts of its proposals: the first draws from its own
        random stream after the plan, so a later dispute on the order finds the same ones."""
        order = make_order(
            plan.rng,
            f"ORD-{number + 100_000}",
            customer(plan.customer),
            plan.case,
            plan.timeline.created_at,
            big=plan.rank == 0,
        )
        disputed = order.disputed_minor
        amounts = [proposal_amount(plan.rng, r.kind, disputed) for r in plan.timeline.rounds]
        return order, amounts

    def _rows(self, ticket: _Ticket, made: _Made) -> dict[str, list[dict[str, Any]]]:
        plan = self.plan(ticket.seed, ticket.opened_at, ticket.due, ticket.follows)
        rng, number, prior = plan.rng, ticket.number, ticket.prior
        timeline, case, now = plan.timeline, plan.case, self.now
        status = timeline.status
        created = timeline.created_at
        buyer = customer(plan.customer)
        reason = case.reason
        if ticket.follows is None:
            order, amounts = self._order(plan, number)
            disputed = order.disputed_minor
        else:  # the order as read again; what the earlier dispute refunded is no longer disputed
            origin = ticket.follows
            earlier = self.plan(origin.seed, origin.opened_at, None)
            order, moved = self._order(earlier, origin.number)
            disputed = max(order.disputed_minor - money_moved(earlier.timeline, moved), 0)
            amounts = [proposal_amount(rng, r.kind, disputed) for r in timeline.rounds]
        order_id = order.wire["order_id"]
        dispute_id = self._id("disputes", number)
        owner = None
        unassigned = UNASSIGNED_OPEN if status.is_open else UNASSIGNED_CLOSED
        if rng.random() >= unassigned:
            owner = OWNERS[int(len(OWNERS) * rng.random() ** 1.3)]
        opened_by = owner or rng.choice(OWNERS)
        agent = owner or opened_by
        last_status_at = timeline.times[-1]
        assigned_at = min(created + timedelta(seconds=rng.randint(30, 2 * 3600)), last_status_at)
        updated_at = max(last_status_at, assigned_at) if owner else last_status_at
        resolved_at, reopened_at, closed_at = milestones(timeline)
        row: dict[str, Any] = {
            "id": dispute_id,
            "number": number,
            "order_id": order_id,
            "active_order_key": order_id if status.is_open else None,
            "customer_id": buyer.id,
            "customer_name": buyer.name,
            "customer_email": buyer.email,
            "reason": reason.value,
            "claim": rng.choice(CLAIMS),
            "currency": order.currency,
            "order_total_minor": order.total_minor,
            "disputed_amount_minor": disputed,
            "owner_id": owner,
            "opened_by": opened_by,
            "status": status.value,
            "state_times": _state_times(timeline),
            "required_evidence": sorted(
                k.value for k in required_kinds(reason, return_received=order.return_received)
            ),
            "channel_id": "C0DISPUTES",
            "thread_ts": f"{int(created.timestamp())}.{number % 1_000_000:06d}",
            "evidence_card_ts": f"{int(created.timestamp()) + 1}.{number % 1_000_000:06d}",
            "policy_card_ts": None,
            "order_snapshot": order.wire,
            "closing_due_at": None,
            "created_at": created,
            "updated_at": updated_at,
            "version": len(timeline.statuses) + (1 if owner else 0),
            "prior_disputes": prior,
            "resolved_at": resolved_at,
            "resolve_business_seconds": None
            if resolved_at is None
            else business_seconds(created, resolved_at, self.sla),
            "reopened_at": reopened_at,
            "closed_at": closed_at,
        }
        probe = _probe(row, timeline)
        row.update(self._clock(probe, row, timeline, plan.due))
        made.statuses[status.value] += 1
        made.priorities[row["priority"]] += 1
        if status.is_open:
            made.open += 1
            made.levels[row["sla_level"]] += 1
            if row["sla_check_at"] is not None and row["sla_check_at"] <= now:
                made.due += 1

        found: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
        found["disputes"].append(row)
        found["dispute_tags"] = tag_rows(row, order.tags, case.rules)
        found["sla_stage_runs"] = self._stage_runs(probe, row, timeline)
        audit = Audit(number, dispute_id)
        audit.add(
            created,
            ("slack_user", opened_by),
            "dispute.opened",
            after={
                "order_id": order_id,
                "reason": reason.value,
                "claim": row["claim"],
                "disputed_amount_minor": disputed,
                "currency": order.currency,
            },
        )
        filed = [
            (item, ("system", "intake"))
            for item in intake_evidence(dispute_id, order.evidence, created)
        ]
        filed += filed_in_review(rng, case, timeline, row, agent, buyer.email)
        for item, actor in filed:
            found["evidence_items"].append(item)
            audit.add(
                item["captured_at"],
                actor,
                "evidence.added",
                after={
                    "kind": item["kind"],
                    "source": item["source"],
                    "content_hash": item["content_hash"],
                },
            )
        if owner is not None:
            audit.add(
                assigned_at,
                ("slack_user", owner),
                "assignment.changed",
                before={"owner": None},
                after={"from": None, "to": owner, "by": owner, "why": "take"},
            )
        resolutions = Resolutions(
            rng,
            row,
            timeline,
            agent,
            now,
            lambda table, slot: self._id(table, number, slot),
            buyer.email,
        )
        resolutions.make(amounts)
        found["proposals"] = resolutions.proposals
        found["customer_offers"] = resolutions.offers
        found["refund_requests"] = resolutions.refunds
        found["csat_surveys"] = resolutions.surveys
        if ticket.follows is None:  # the payment's ledger row, made at the order's first intake
            found["refund_ledger"] = [_ledger(order)]
        for i, (before, after) in enumerate(itertools.pairwise(timeline.statuses)):
            event = event_between(before, after)
            actor = resolutions.actors.get(i + 1) or actor_for(after, before, agent, buyer.email)
            audit.add(
                timeline.times[i + 1],
                actor,
                f"status.{event.value}",
                before={"status": before.value},
                after={"status": after.value, **resolutions.details.get(i + 1, {})},
            )
        for at, actor, action, after_entry, early in resolutions.entries:
            audit.add(at, actor, action, after=after_entry, early=early)
        for survey in resolutions.surveys:
            if survey["rating"] is not None:
                audit.add(
                    survey["answered_at"],
                    ("customer", buyer.email),
                    "customer.rated",
                    after={
                        "survey": survey["id"],
                        "rating": survey["rating"],
                        "comment": survey["comment"] or "",
                    },
                )
        found["audit_entries"] = audit.rows()
        return found

    def _stage_runs(
        self, probe: DisputeRow, row: dict[str, Any], timeline: Timeline
    ) -> list[dict[str, Any]]:
        """The finished stage runs, each with the priority and due time the clock had when the
        stage was entered."""
        runs = []
        for run in stage_runs(timeline):
            priority = self.sla.priority(facts_of(probe, run.entered_at), run.entered_at)
            due_at = self.sla.due(priority, run.stage, run.entered_at)
            runs.append(
                {
                    "dispute_id": row["id"],
                    "stage": run.stage,
                    "priority": priority,
                    "entered_at": run.entered_at,
                    "due_at": due_at,
                    "left_at": run.left_at,
                    "breached": run.left_at > due_at,
                }
            )
        return runs

    def _clock(
        self, probe: DisputeRow, row: dict[str, Any], timeline: Timeline, due: str | None
    ) -> dict[str, Any]:
        """The clock columns: computed at `now` by `clock_of`, or for a due clock as stored
        before its warning or breach moment (or at its last write, for a touched one)."""
        stage = probe.sla_stage
        clock = clock_of(probe, self.sla, self.now)
        check_at = clock.check_at
        if due is not None and stage is not None:
            moment = None
            if due == "warning":
                moment = self.sla.warns_at(clock.priority, stage, clock.entered_at or self.now)
            elif due == "breached":
                moment = clock.due_at
            if moment is not None and moment <= self.now:
                clock = clock_of(probe, self.sla, moment - timedelta(seconds=1))
                check_at = clock.check_at
            else:  # written a moment ago: the write makes the clock due at once
                check_at = row["updated_at"]
        return _clock_columns(clock, check_at)


def _ledger(order: GeneratedOrder) -> dict[str, Any]:
    """The payment's row as `disputes.ledger.ensure_ledger` makes it (the provider unread)."""
    return {
        "payment_reference": order.wire["payment"]["reference"],
        "currency": order.currency,
        "paid_minor": order.total_minor,
        "order_claim_minor": order.order_claim_minor,
        "provider_refunds": None,
        "provider_read_at": None,
        "provider_error": None,
    }


def _probe(row: dict[str, Any], timeline: Timeline) -> DisputeRow:
    """A row object carrying what the clock reads, with the running stage as stored."""
    stage = stage_for(timeline.status.value)
    return DisputeRow(
        status=row["status"],
        state_times=row["state_times"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        currency=row["currency"],
        order_total_minor=row["order_total_minor"],
        disputed_amount_minor=row["disputed_amount_minor"],
        prior_disputes=row["prior_disputes"],
        order_snapshot=row["order_snapshot"],
        sla_stage=stage,
        sla_entered_at=timeline.times[timeline.stage_start] if stage else None,
    )


def _state_times(timeline: Timeline) -> dict[str, str]:
    """Each status with the last time it was entered, as `disputes.transitions` keeps them."""
    return {s.value: t.isoformat() for s, t in zip(timeline.statuses, timeline.times, strict=True)}


def _clock_columns(clock: Clock, check_at: datetime | None) -> dict[str, Any]:
    return {
        "priority": clock.priority,
        "sla_stage": clock.stage,
        "sla_entered_at": clock.entered_at,
        "sla_due_at": clock.due_at,
        "sla_level": clock.level.value,
        "sla_check_at": check_at,
    }


class _Writer:
    """Writes batches of rows (SQLAlchemy Core executemany) and closes the fill."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, rows: dict[str, Any]) -> None:
        async with self.db.engine.begin() as connection:
            for table in TABLES:
                if rows[table.name]:
                    await connection.execute(insert(table), rows[table.name])

    async def finish(self, last_number: int) -> None:
        async with self.db.engine.begin() as connection:
            await connection.execute(
                update(CounterRow)
                .where(CounterRow.name == "dispute", CounterRow.value < last_number)
                .values(value=last_number)
            )
            await self._after(connection)
        # PostgreSQL: VACUUM as well, as autovacuum would soon after a bulk insert, so index-only
        # scans find the pages all-visible; it runs outside a transaction.
        statistics = "ANALYZE" if self.db.is_sqlite else "VACUUM (ANALYZE)"
        async with self.db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(statistics))

    async def _after(self, connection: AsyncConnection) -> None:
        """What the backend needs once the rows are in."""

    async def close(self) -> None:
        """Give back what `write` held."""


class _CopyWriter(_Writer):
    """PostgreSQL: COPY through asyncpg on one raw connection; the id sequences follow."""

    def __init__(self, db: Database, connection: AsyncConnection, raw: Any) -> None:
        super().__init__(db)
        self.connection, self.raw = connection, raw

    async def write(self, rows: dict[str, Any]) -> None:
        for table in TABLES:
            columns, records = rows[table.name]
            if records:
                await self.raw.copy_records_to_table(table.name, records=records, columns=columns)

    async def _after(self, connection: AsyncConnection) -> None:
        for table in NUMBERED:
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table.name}))"
                )
            )

    async def close(self) -> None:
        await self.connection.close()


def _records(table: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows as COPY takes them: the columns, and a tuple per row with JSON as text."""
    if not rows:
        return [], []
    columns, dumped = list(rows[0]), JSON_COLUMNS[table]
    return columns, [
        tuple(json.dumps(row[c]) if c in dumped and row[c] is not None else row[c] for c in columns)
        for row in rows
    ]


def _add(report: DatasetReport, made: _Made) -> None:
    for table, found in made.rows.items():
        count = len(found[1]) if isinstance(found, tuple) else len(found)
        report.rows[table] = report.rows.get(table, 0) + count
    report.open += made.open
    report.due += made.due
    report.statuses.update(made.statuses)
    report.levels.update(made.levels)
    report.priorities.update(made.priorities)


async def _writer(db: Database) -> _Writer:
    if db.is_sqlite:
        return _Writer(db)
    connection = await db.engine.connect()
    raw = await connection.get_raw_connection()
    return _CopyWriter(db, connection, raw.driver_connection)


def _print_report(report: DatasetReport) -> None:
    print(f"as of {report.now.isoformat()}: D-{report.first_number} .. D-{report.last_number}")
    for table, count in report.rows.items():
        print(f"  {table:<16} {count:>12,}")
    print(
        f"  {report.total_rows:,} rows in {report.seconds:.1f} s = "
        f"{report.rows_per_second:,.0f} rows/s "
        f"({(report.last_number - report.first_number + 1) / report.seconds:,.0f} disputes/s)"
    )
    print(f"  open {report.open:,}, of which due now {report.due:,}")
    print("  statuses   " + ", ".join(f"{k} {v:,}" for k, v in report.statuses.most_common()))
    print("  open level " + ", ".join(f"{k} {v:,}" for k, v in report.levels.most_common()))
    print("  priorities " + ", ".join(f"{k} {v:,}" for k, v in report.priorities.most_common()))


def _progress(done: int, total: int) -> None:
    if done == total or done % max(total // 20, 1) < 1_000:
        print(f"  {done:,} / {total:,} disputes", file=sys.stderr, flush=True)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--disputes", type=int, required=True)
    parser.add_argument("--open-share", type=float, default=0.10)
    parser.add_argument("--due-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1, help="processes making rows")
    args = parser.parse_args(argv)
    spec = DatasetSpec(
        args.disputes,
        open_share=args.open_share,
        due_share=args.due_share,
        seed=args.seed,
        now=args.now,
        history_days=args.history_days,
        batch=args.batch,
    )
    db = Database(args.database_url)
    try:
        await migrate(db)
        _print_report(await fill(db, spec, _progress, workers=args.workers))
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
