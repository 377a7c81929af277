"""The reads every request makes, on a full database: each through the app's own service code.

    python -m bench.lookups                       # SQLite, 100,000 disputes (a few minutes)
    python -m bench.lookups --backend postgres    # a throwaway cluster, 1,000,000 disputes
    python -m bench.lookups --database-url URL [--disputes N] [--workers 2]
    python -m bench.lookups --database-url URL --skip-fill     # a database filled before
(prints numbers, never asserts on them; exits 0 when it ran)

Fills a database with `bench.dataset` (or, with `--skip-fill`, reads one filled before: its
moment is its latest write), then picks the inputs from it with a few quick reads, outside what
is timed: the open dispute with a thread at or after the middle number, its owner and its
customer. The hot reads, through services built as `bot.runtime` builds them (no ROLES_FILE, the
default SLA file and policy pack):

- thread lookup: `DisputeService.by_thread(channel, thread_ts)`, what a reply, an edit or a file
  in a dispute's thread runs first;
- the queues of `/dispute queue`: `QueueService.mine(owner)`, `unassigned()` and `stuck()` with
  the message's `MESSAGE_ROWS` limit, and `team()`;
- `audit verify` of one dispute: `DisputeService.verify_audit(number)`;
- `/dispute show`: its read of the database, `DisputeService.case(number)`, shown as the
  actor may see it (`as_seen_by`: without the customer for a role that may not see them);
- intake's count of the customer's earlier disputes: `disputes.intake._next_number`, the
  statement that takes the next dispute number and counts in the same statement, in a
  transaction rolled back (it is the one read that writes: the dispute counter).

Each is run once to warm up (its statements captured there: "executed 1x" is once per call),
then timed best of `--repeat`. The baseline, measured in the same run before them, is reading
one dispute row by its number, whole (`SELECT * FROM disputes WHERE number = :n` through the
ORM, in a read session as the services use), best of `--baseline-repeat`; each read is printed
with its ratio to it. Every distinct statement each read ran is then explained with the
parameters it ran with: `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL (the intake statement's
update is rolled back), `EXPLAIN QUERY PLAN` on SQLite, with how each table was read (an index,
or scanned whole, and the table's row count), and a last line naming every table some statement
read whole.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select

from bench.common import best_of, ms
from bench.databases import add_dataset_arguments, dataset_database
from bench.dataset import DEFAULT_SLA
from bench.plans import Capture, Statement, count_rows, print_plans
from blocks.queue import MESSAGE_ROWS
from bot.settings import default_policy_pack
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import _next_number
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.queues import QueueService
from disputes.resolution import ResolutionService
from disputes.roles import CurrentRoles
from policies.current import CurrentPack
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import DisputeRow

REPEAT = 5
BASELINE_REPEAT = 20


@dataclass(frozen=True, slots=True)
class Picks:
    """The inputs of the hot reads, picked from the dataset."""

    disputes: int
    number: int
    channel_id: str
    thread_ts: str
    owner: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class HotRead:
    label: str
    call: Callable[[], Awaitable[Any]]
    describe: Callable[[Any], str]  # a few words on what the read found


@dataclass(slots=True)
class Measured:
    label: str
    seconds: float
    note: str
    statements: list[Statement]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lookups", description=__doc__)
    add_dataset_arguments(parser)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs of each read (the best)")
    parser.add_argument(
        "--baseline-repeat", type=int, default=BASELINE_REPEAT, help="runs of the baseline"
    )
    args = parser.parse_args(argv)
    async with dataset_database(args, "Hot reads", "lookups") as (db, _now, _backend):
        await run(db, repeat=args.repeat, baseline_repeat=args.baseline_repeat)


async def pick(db: Database) -> Picks:
    """The open dispute with a thread, an owner and a customer at or after the middle number,
    with its owner and customer."""
    async with db.reading() as session:
        total = int(await session.scalar(select(func.count()).select_from(DisputeRow)) or 0)
        first, last = (
            await session.execute(select(func.min(DisputeRow.number), func.max(DisputeRow.number)))
        ).one()
        if first is None:
            sys.exit("the database holds no disputes: fill it first (leave out --skip-fill)")
        row = await session.scalar(
            select(DisputeRow)
            .where(
                DisputeRow.number >= (first + last) // 2,
                DisputeRow.active_order_key.is_not(None),
                DisputeRow.thread_ts.is_not(None),
                DisputeRow.owner_id.is_not(None),
                DisputeRow.customer_id.is_not(None),
            )
            .order_by(DisputeRow.number)
            .limit(1)
        )
    if row is None or row.channel_id is None or row.thread_ts is None:
        sys.exit("no open dispute with a thread, an owner and a customer in the second half")
    assert row.owner_id is not None and row.customer_id is not None
    return Picks(total, row.number, row.channel_id, row.thread_ts, row.owner_id, row.customer_id)


def hot_reads(db: Database, picks: Picks) -> list[HotRead]:
    """The reads, through services built as `bot.runtime` builds them."""
    roles = CurrentRoles(None)  # ROLES_FILE unset
    sla = SlaPolicy.load(DEFAULT_SLA)
    gate = Gate(db, roles)
    disputes = DisputeService(db, gate)
    policy = PolicyService(db, CurrentPack(default_policy_pack()))
    resolution = ResolutionService(db, policy, roles, gateway_name=None, gate=gate)
    queues = QueueService(db, roles, resolution, gate=gate, sla=sla)
    owner = Actor.slack_user(picks.owner)
    number = picks.number

    async def show() -> Any:
        return disputes.as_seen_by(await disputes.case(number), owner)

    return [
        HotRead(
            "thread lookup (by_thread)",
            partial(disputes.by_thread, picks.channel_id, picks.thread_ts),
            lambda found: f"D-{found}",
        ),
        HotRead(
            "queue: mine",
            partial(queues.mine, picks.owner, limit=MESSAGE_ROWS),
            lambda page: f"{len(page.items)} of {page.total:,}",
        ),
        HotRead(
            "queue: unassigned",
            partial(queues.unassigned, limit=MESSAGE_ROWS),
            lambda page: f"{len(page.items)} of {page.total:,}",
        ),
        HotRead(
            "queue: stuck",
            partial(queues.stuck, limit=MESSAGE_ROWS),
            lambda page: f"{len(page.items)} of {page.total:,}",
        ),
        HotRead(
            "queue: team",
            queues.team,
            lambda team: f"{team.stuck_total:,} stuck, {len(team.workload)} people",
        ),
        HotRead(
            "audit verify (one dispute)",
            partial(disputes.verify_audit, number),
            lambda problems: f"{len(problems)} problems",
        ),
        HotRead(
            "/dispute show (the case file)",
            show,
            lambda case: f"{len(case.evidence)} evidence items",
        ),
        HotRead(
            "intake: the customer's disputes",
            partial(_prior_disputes, db, picks.customer_id),
            lambda prior: f"{prior} earlier",
        ),
    ]


async def _prior_disputes(db: Database, customer_id: str) -> int:
    """Intake's count of the customer's earlier disputes, in the statement that also takes the
    next dispute number: in a transaction rolled back, so the counter does not move."""
    async with db.sessions() as session:
        try:
            found = await _next_number(session, customer_id, "")
        finally:
            await session.rollback()
    return found.prior


async def baseline(db: Database, number: int, repeat: int) -> float:
    """Reading one dispute row, whole, by its number: best of `repeat`."""
    return await best_of(repeat, partial(_one_row, db, number))


async def _one_row(db: Database, number: int) -> DisputeRow | None:
    async with db.reading() as session:
        return await session.scalar(select(DisputeRow).where(DisputeRow.number == number))


async def measure(db: Database, reads: list[HotRead], *, repeat: int) -> list[Measured]:
    """Each read: a warm-up run (its statements captured), then the best of `repeat`."""
    capture = Capture()
    capture.listen(db)
    measured = []
    for read in reads:
        capture.take()
        capture.on = True
        try:
            found = await read.call()
        finally:
            capture.on = False
        statements = capture.take()
        seconds = await best_of(repeat, read.call)
        measured.append(Measured(read.label, seconds, read.describe(found), statements))
    return measured


async def run(
    db: Database, *, repeat: int = REPEAT, baseline_repeat: int = BASELINE_REPEAT
) -> None:
    picks = await pick(db)
    print(
        f"\n{picks.disputes:,} disputes; picked D-{picks.number} (open; thread "
        f"{picks.channel_id} {picks.thread_ts}; owner {picks.owner}; customer {picks.customer_id})"
    )
    base = await baseline(db, picks.number, baseline_repeat)
    print(f"baseline (same run, best of {baseline_repeat}):")
    print(f"  {'one dispute row by number':<36} {ms(base)}")
    measured = await measure(db, hot_reads(db, picks), repeat=repeat)
    print(f"hot reads (best of {repeat} after a warm-up)")
    for item in measured:
        ratio = item.seconds / base if base else float("inf")
        print(f"  {item.label:<36} {ms(item.seconds)}  {ratio:6.1f}x baseline  {item.note}")

    analyze = not db.is_sqlite
    how = "EXPLAIN (ANALYZE, BUFFERS)" if analyze else "EXPLAIN QUERY PLAN"
    print(f"\nstatements of each read (one call), with their plans ({how})")
    whole: dict[str, set[str]] = {}
    for item in measured:
        print(f"\n== {item.label}: {len(item.statements)} statement(s)")
        kinds = await print_plans(db, item.statements, analyze=analyze, indent="  ")
        for tables in kinds:
            for table, read in tables.items():
                if read.startswith("WHOLE"):
                    whole.setdefault(table, set()).add(item.label)
    print()
    if not whole:
        print("every table of every statement was read through an index")
    for table, labels in sorted(whole.items()):
        rows = await count_rows(db, table)
        print(f"read whole: {table} ({rows:,} rows) by {', '.join(sorted(labels))}")


if __name__ == "__main__":
    asyncio.run(main())
