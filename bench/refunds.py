"""How fast approvals turn into refunds at Stripe, and whether each is sent exactly once.

Run from the project folder:  .venv/bin/python -m bench.refunds
(about two minutes; prints numbers, never asserts on them; exits 0 when it ran)

Each run starts a fresh localstripe (tests.support.localstripe, loopback subprocess) and a fresh
SQLite database in a temp folder migrated with storage.migrate. Setup, not measured: 500
succeeded payment intents created in localstripe (16 at a time), and 500 disputes opened through
IntakeService from a StaticOrders source (4 at a time; distinct order ids, one payment intent
each). Everything but localstripe runs in this process, on one event loop: on 2 CPUs the
drain is bound by this process's CPU (~40 ms of ORM work per approve + claim + record), not
by localstripe (a refund POST answers in ~4 ms), so click -> refunded is mostly queueing
behind the approval burst.

Measured: 8 concurrent "approvers" each take the next dispute and approve it the way the
integration tests do (evidence_overridden -> proposed -> approved, and request_refund for 50.00
USD, in one transaction); the click is the moment before that transaction starts. Approvals
are spread round-robin over 4 RefundWorker "replicas" (each its own Database engine on the same
file and its own StripeGateway), and the approving replica's worker is woken after the commit.
  - approvals/s: 500 / (last approval committed - first click); approval p50/p99 is click ->
    commit of that transaction (it queues for SQLite's single writer with the workers' claims).
  - click -> refunded p50/p99: click until the worker's notify callback reports the
    RefundOutcome "succeeded" (sent after the outcome transaction committed).
Run (1): a plain StripeGateway. Run (2): the gateway's transport turns 20% of refund POSTs into
timeouts: half raised before the request leaves (nothing happened), half after localstripe
answered (the refund exists, the answer is lost). Look-ups (GET) are never faulted. The
gateway's own attempts are 1, so every unknown outcome goes back to the worker, whose next
claim looks the refund up by metadata before sending again. The worker's retry backoff is
min(2^attempts s, MAX_BACKOFF); the bench sets MAX_BACKOFF to 250 ms and poll_seconds to
0.25 s (production: 5 min cap, so 2 s, 4 s, ... and a 5 s poll), so run (2)'s tail is the
bench's backoff, not the app's.
After each run every refund in localstripe is listed (GET /v1/refunds, paged) and grouped by
metadata.refund_request: "duplicates" are extra refunds for one request, "missing" are
requests with no refund. Both must be 0, with exactly 500 refunds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.orders.evidence import default_evidence_sources
from connectors.refunds.stripe import StripeGateway
from disputes import refund_worker
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Event
from disputes.records import load_row
from disputes.refund_worker import RefundOutcome, RefundWorker
from disputes.refunds import request_refund
from disputes.transitions import transition
from sandbox.localstripe_runner import create_payment
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow, RefundRequestRow
from tests.support.localstripe import API_KEY, localstripe_server
from tests.support.orders import StaticOrders, order

APPROVALS = 500
WORKERS = 4
APPROVERS = 8
PAYMENT_CONCURRENCY = 16
INTAKE_CONCURRENCY = 4
PAID_MINOR = 129_00  # the test order's total; 29.00 of it was already refunded before
REFUND_MINOR = 50_00
FAULT_RATE = 0.2
GATEWAY_ATTEMPTS = 1
GATEWAY_TIMEOUT = 5.0
BENCH_MAX_BACKOFF = timedelta(milliseconds=250)
POLL_SECONDS = 0.25
DRAIN_TIMEOUT = 60.0
TOTAL_TIMEOUT = 170.0
MANAGER = Actor.slack_user("U0MANAGER1")


# -- numbers ---------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 500 values is the 495th smallest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def spread(values: list[float]) -> str:
    if not values:
        return "(none)"
    return (
        f"p50 {percentile(values, 50) * 1000:7.1f} ms  p99 {percentile(values, 99) * 1000:7.1f} ms"
        f"  max {max(values) * 1000:7.1f} ms  (n={len(values)})"
    )


# -- faults on the wire -------------------------------------------------------------------


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards everything; a share of refund POSTs time out, before or after forwarding."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.counts[request.method] += 1
        roll = self.rng.random() if request.method == "POST" else 1.0
        if roll < self.rate / 2:
            self.counts["timeout before sending"] += 1
            raise httpx.ReadTimeout("bench: timed out before sending", request=request)
        response = await self._inner.handle_async_request(request)
        if roll < self.rate:
            await response.aread()
            await response.aclose()
            self.counts["answer lost after refunding"] += 1
            raise httpx.ReadTimeout("bench: answer lost after the server acted", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- setup ------------------------------------------------------------------------------------


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def create_payments(base: str) -> list[str]:
    """Succeeded card payment intents, as tests.support.localstripe.create_payment makes them,
    through one shared client (a new httpx.AsyncClient costs ~40 ms of CPU for its SSL context)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:

        async def one() -> str:
            return await create_payment(base, PAID_MINOR, "usd", client=client)

        return await bounded(PAYMENT_CONCURRENCY, [one] * APPROVALS)


async def open_disputes(db: Database, payments: list[str]) -> list[int]:
    orders = [
        order(order_id=f"ORD-B{n:04d}", payment={"provider": "stripe", "reference": payment})
        for n, payment in enumerate(payments)
    ]
    intake = IntakeService(db, StaticOrders(*orders), default_evidence_sources())

    def job(order_id: str) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            opened = await intake.open(OpenRequest(order_id, None, "", MANAGER))
            return opened.case.dispute.number

        return run

    return await bounded(INTAKE_CONCURRENCY, [job(o.order_id) for o in orders])


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Tally:
    clicks: dict[int, float] = field(default_factory=dict)
    committed: dict[int, float] = field(default_factory=dict)
    refunded: dict[int, float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def notify(self, outcome: RefundOutcome) -> None:
        now = time.perf_counter()
        self.outcomes[outcome.status] += 1
        if outcome.status == "succeeded":
            self.refunded.setdefault(outcome.dispute_number, now)
        if len(self.refunded) + self.outcomes["failed"] >= APPROVALS:
            self.finished.set()


def approval(number: int) -> Callable[[AsyncSession], Awaitable[None]]:
    async def work(session: AsyncSession) -> None:
        row = await load_row(session, number)
        for event in (Event.EVIDENCE_OVERRIDDEN, Event.PROPOSED, Event.APPROVED):
            await transition(session, row, event, MANAGER)
        await request_refund(
            session,
            row,
            amount_minor=REFUND_MINOR,
            currency="USD",
            gateway="stripe",
            actor=MANAGER,
        )

    return work


async def approve_all(db: Database, numbers: list[int], workers: list[RefundWorker], tally: Tally):
    pending = iter(enumerate(numbers))

    async def approver() -> None:
        for index, number in pending:
            tally.clicks[number] = time.perf_counter()
            await db.run(approval(number))
            tally.committed[number] = time.perf_counter()
            workers[index % len(workers)].wake()  # the approving replica wakes its own worker

    await asyncio.gather(*(approver() for _ in range(APPROVERS)))


async def refund_attempts(db: Database) -> dict[int, tuple[str, int]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(DisputeRow.number, RefundRequestRow.status, RefundRequestRow.attempts).join(
                DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id
            )
        )
        return {number: (status, attempts) for number, status, attempts in rows}


async def stripe_refunds(base: str) -> list[dict[str, Any]]:
    """Every refund localstripe holds, paged 100 at a time."""
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 100}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(100):
            response = await client.get("/v1/refunds", params=params)
            response.raise_for_status()
            page = response.json()
            fresh = [r for r in page["data"] if r["id"] not in found]
            found.update((r["id"], r) for r in fresh)
            if not page.get("has_more") or not fresh:
                break
            params["starting_after"] = page["data"][-1]["id"]
    return list(found.values())


def report_provider(refunds: list[dict[str, Any]], request_ids: set[str]) -> None:
    per_request = Counter((r.get("metadata") or {}).get("refund_request") for r in refunds)
    duplicates = sum(count - 1 for rid, count in per_request.items() if rid and count > 1)
    missing = len(request_ids - set(per_request))
    strangers = sum(count for rid, count in per_request.items() if rid not in request_ids)
    ok = len(refunds) == APPROVALS and duplicates == 0 and missing == 0 and strangers == 0
    print(f"  refunds in localstripe: {len(refunds)} (expected {APPROVALS})")
    print(f"  duplicates: {duplicates}")
    print(f"  missing: {missing}")
    if strangers:
        print(f"  refunds matching no request: {strangers}")
    print(f"  exactly once: {'yes' if ok else 'NO'}")


async def run(label: str, folder: Path, *, faults: bool) -> None:
    print(f"\n== {label}")
    folder.mkdir()  # noqa: ASYNC240 (nothing else is running yet)
    setup = time.perf_counter()
    with localstripe_server() as base:
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        db = Database(url)
        replicas = [Database(url) for _ in range(WORKERS)]
        transports = [
            FaultyTransport(FAULT_RATE, seed=n) if faults else None for n in range(WORKERS)
        ]
        gateways = [stripe_gateway(base, transport) for transport in transports]
        tally = Tally()
        workers = [
            RefundWorker(replica, gateway, notify=tally.notify, poll_seconds=POLL_SECONDS)
            for replica, gateway in zip(replicas, gateways, strict=True)
        ]
        try:
            await migrate(db)
            payments = await create_payments(base)
            numbers = await open_disputes(db, payments)
            print(
                f"  setup: {len(payments)} payment intents, {len(numbers)} disputes opened"
                f" in {time.perf_counter() - setup:.1f} s"
            )
            for worker in workers:
                worker.start()
            cpu, wall = time.process_time(), time.perf_counter()
            await approve_all(db, numbers, workers, tally)
            approved = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.finished.wait(), DRAIN_TIMEOUT)
            drained = time.perf_counter()
            cpu = time.process_time() - cpu
        finally:
            for worker in workers:
                await worker.stop()
            for gateway in gateways:
                await gateway.aclose()
        first_click = min(tally.clicks.values())
        approve_wall = max(tally.committed.values()) - first_click
        print(
            f"  approvals: {len(tally.committed)} in {approve_wall:.2f} s ="
            f" {len(tally.committed) / approve_wall:.0f}/s ({APPROVERS} approvers)"
        )
        print(
            "  approval  (click -> commit)    "
            + spread([tally.committed[n] - tally.clicks[n] for n in tally.committed])
        )
        latency = {n: tally.refunded[n] - tally.clicks[n] for n in tally.refunded}
        print("  refunded  (click -> succeeded) " + spread(list(latency.values())))
        attempts = await refund_attempts(db)
        if faults:
            first = [t for n, t in latency.items() if attempts[n][1] == 1]
            again = [t for n, t in latency.items() if attempts[n][1] > 1]
            print("    sent once, answered          " + spread(first))
            print("    after a lost answer / retry  " + spread(again))
            faulted = sum((t.counts for t in transports if t is not None), Counter())
            print(
                f"  wire: {faulted['POST']} refund POSTs, {faulted['GET']} look-ups;"
                f" {faulted['timeout before sending']} timed out before sending,"
                f" {faulted['answer lost after refunding']} lost their answer after refunding"
            )
        statuses = Counter(status for status, _ in attempts.values())
        by_attempts = Counter(n for _, n in attempts.values())
        print(
            f"  outcomes: {dict(tally.outcomes)}; requests by status {dict(statuses)};"
            f" by attempts {dict(sorted(by_attempts.items()))}"
        )
        print(
            f"  everything done {drained - wall:.2f} s after the first click"
            f" ({drained - approved:.2f} s after the last approval);"
            f" this process's CPU {cpu / (drained - wall):.0%} (one event loop)"
        )
        if len(tally.refunded) < APPROVALS and not tally.finished.is_set():
            print(f"  (gave up waiting after {DRAIN_TIMEOUT:g} s)")
        request_ids = {f"rr_{rid}" for rid in await request_ids_of(db)}
        report_provider(await stripe_refunds(base), request_ids)
        for database in (db, *replicas):
            await database.dispose()


def stripe_gateway(base: str, transport: httpx.AsyncBaseTransport | None) -> StripeGateway:
    return StripeGateway(
        API_KEY,
        api_base=base,
        timeout=GATEWAY_TIMEOUT,
        attempts=GATEWAY_ATTEMPTS,
        backoff=0.05,
        transport=transport,
    )


async def request_ids_of(db: Database) -> list[int]:
    async with db.reading() as session:
        return list(await session.scalars(select(RefundRequestRow.id)))


# -- entry point ------------------------------------------------------------------------------


async def run_all() -> None:
    started = time.monotonic()
    saved = refund_worker.MAX_BACKOFF
    refund_worker.MAX_BACKOFF = BENCH_MAX_BACKOFF  # the bench only: retries come back fast
    try:
        with tempfile.TemporaryDirectory(prefix="dd-bench-refunds-") as name:
            tmp = Path(name)
            async with asyncio.timeout(TOTAL_TIMEOUT):
                await run(
                    f"1. {APPROVALS} approvals, {WORKERS} workers, plain StripeGateway",
                    tmp / "plain",
                    faults=False,
                )
                await run(
                    f"2. {APPROVALS} approvals, {WORKERS} workers, {FAULT_RATE:.0%} of refund"
                    f" POSTs time out (half before sending, half after refunding);"
                    f" gateway attempts={GATEWAY_ATTEMPTS}, worker backoff capped at"
                    f" {BENCH_MAX_BACKOFF.total_seconds() * 1000:.0f} ms",
                    tmp / "faults",
                    faults=True,
                )
    finally:
        refund_worker.MAX_BACKOFF = saved
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")


def main() -> int:
    asyncio.run(run_all())
    return 0


if __name__ == "__main__":
    sys.exit(main())
