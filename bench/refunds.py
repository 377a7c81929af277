"""How fast approvals turn into refunds at Stripe, and whether each is sent exactly once.

Run from the project folder:  .venv/bin/python -m bench.refunds
(about three minutes on 2 CPUs; prints numbers, never asserts on them; exits 0 when it ran)

Each of the three runs starts a fresh localstripe (tests.support.localstripe, loopback
subprocess) and a fresh SQLite database in a temp folder migrated with storage.migrate. Setup,
not measured: 500 succeeded payment intents created in localstripe (16 at a time), and 500
disputes opened through IntakeService from a StaticOrders source (4 at a time; distinct order
ids, one payment intent each; no evidence sources: the approval overrides evidence, and
collecting it took two thirds of the setup). Everything but localstripe runs in this process,
on one event loop (the fault-injecting proxy of runs 2 and 3 in a thread of it): on 2 CPUs the
drain is bound by this process's CPU (~60 ms of ORM work per approval and its refund: approve,
claim, look up, mark the send, record), not by localstripe (a refund POST answers in ~4 ms), so
click -> refunded is mostly queueing behind the approval burst.

Measured: 8 concurrent "approvers" each take the next dispute and approve it the way the
integration tests do (evidence_overridden -> proposed -> approved, and request_refund for 50.00
USD, in one transaction); the click is the moment before that transaction starts. Approvals
are spread round-robin over 4 RefundWorker "replicas" (each its own Database engine on the same
file and its own StripeGateway, attempts=1), and the approving replica's worker is woken after
the commit. A run ends when every refund request is final in the database (succeeded, failed or
canceled), or 60 s after the last approval, when it reports what is left.
  - approvals/s: 500 / (last approval committed - first click); approval p50/p99 is click ->
    commit of that transaction (it queues for SQLite's single writer with the workers' claims).
  - click -> refunded p50/p99: click until the worker's notify callback first reports the
    request "succeeded" (sent after the outcome transaction committed; notify is called once
    per change of a request's state).
  - what the workers heard from their gateways (answers, unknown outcomes, failed look-ups),
    the refund path's own warnings (claims taken over after their lease expired, writes refused
    because the claim was lost), and the requests by status, claims and sends.

Bench timings (Timings; production in brackets): lease 2 s (120 s), settle 1 s (30 s), retry
backoff min(2^attempts s, 250 ms) (5 min cap), poll 0.25 s (5 s). The settle time is how long
the worker gives the provider to act on a send: a request whose outcome is unknown and whose
refund the provider does not show is sent again only once that much time has passed since a
send of it was last in flight (the worker stopped waiting for its answer). Requests are
claimed in the order they fall due, so one that has to come back (an
unknown outcome, a failed look-up, a claim taken over) queues behind the approvals' backlog:
the tails of runs 2 and 3 are that queue plus the bench's settle time, lease and backoff, not
the app's. The lease is short for this load: renewals queue for SQLite's writer too, so in
every run a few claims expire under a live worker and are taken over (the fences keep the late
writes out).

Run (1): the gateways talk to localstripe directly (timeout 5 s). Runs (2) and (3): they talk
to it through tests.support.faulty_stripe.FaultyStripe (real HTTP, the proxy in a thread) with
a 0.3 s timeout. Before each call a replica's gateway rolls the run's fault mix and plans the
fault on the proxy, which applies it to the next request of that kind (bench.refund_faults).
  (2) 20% of refund POSTs time out: half are never forwarded (nothing happened), half are
      forwarded and their answer held until the client gives up (the refund exists, the answer
      is lost). Look-ups are never faulted.
  (3) chaos: 10% of refund POSTs lose their answer as in (2); 10% take effect late, forwarded
      0.05 to 0.5 s after the client gave up (0.35-0.8 s after the proxy got them, below the
      1 s settle time: the provider acting within the settle time of a send is the bound the
      worker is built on); 10% of look-ups (GET /v1/refunds) answer a 4xx or 5xx (400, 404,
      409, 429, 500, 502 or 503); and the worker that sends every 50th refund POST is killed
      0-50 ms after it goes out: its task is cancelled wherever it is (the POST on the wire, or
      the answer being recorded), so its claim is never renewed or released; its engine and
      gateway are dropped and a fresh replica starts in its place, so four keep running.
      Another worker takes the request over once its lease expires. Also printed: click ->
      final in the database (it covers a request whose worker was killed before it could
      notify), the slowest request and what happened to it, and the kills, lost answers,
      delayed effects and failed look-ups injected (from the proxy's log).
After each run every refund in localstripe is listed (GET /v1/refunds, paged, not through the
proxy, after every delayed effect has happened) and grouped by metadata.refund_request:
"duplicates" are extra refunds for one request, "missing" are requests with no refund. Both
must be 0, with exactly 500 refunds; if not, the requests concerned are printed with their
sends, claims and the faults, kills and takeovers that touched them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
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
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.refund_faults import FaultMix, Kills, Replicas, WiredGateway, chaos, timeouts
from connectors.refunds.stripe import StripeGateway
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Event
from disputes.refund_worker import RefundOutcome, Timings
from disputes.refunds import request_refund
from disputes.repository import load_row
from disputes.transitions import transition
from sandbox.world.localstripe_runner import create_payment
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow, RefundRequestRow
from tests.support.faulty_stripe import REFUND_LOOKUP, REFUND_POST, FaultyStripe, LoggedRequest
from tests.support.localstripe import API_KEY, localstripe_server
from tests.support.orders import StaticOrders, order

APPROVALS = 500
WORKERS = 4
APPROVERS = 8
PAYMENT_CONCURRENCY = 16
INTAKE_CONCURRENCY = 4
PAID_MINOR = 129_00  # the test order's total; 29.00 of it was already refunded before
REFUND_MINOR = 50_00
TIMINGS = Timings(
    lease=timedelta(seconds=2),
    settle=timedelta(seconds=1),
    max_backoff=timedelta(milliseconds=250),
    poll_seconds=0.25,
)
PLAIN_TIMEOUT = 5.0
PROXY_TIMEOUT = 0.3  # the client gives up; a held answer or a late effect shows as a timeout
TIMEOUT_RATE = 0.2
LOST, DELAYED, LATE_BY, FAILED_LOOKUPS = 0.1, 0.1, 0.5, 0.1
KILL_EVERY, KILL_WITHIN = 50, 0.05
DRAIN_LIMIT = 60.0
TOTAL_LIMIT = 420.0
FINAL = ("succeeded", "failed", "canceled")
MANAGER = Actor.slack_user("U0MANAGER1")

if TIMINGS.settle.total_seconds() <= PROXY_TIMEOUT + LATE_BY:
    raise SystemExit("a delayed effect must happen within the settle time of its send")


@dataclass(frozen=True)
class Run:
    label: str
    folder: str
    mix: FaultMix | None = None  # None: no proxy
    kill_every: int = 0


RUNS = (
    Run(f"1. {APPROVALS} approvals, {WORKERS} workers, plain StripeGateway", "plain"),
    Run(
        f"2. {APPROVALS} approvals, {WORKERS} workers, {TIMEOUT_RATE:.0%} of refund POSTs time"
        f" out (half before sending, half after refunding); gateway attempts=1, timeout"
        f" {PROXY_TIMEOUT:g} s, settle {TIMINGS.settle.total_seconds():g} s, backoff capped at"
        f" {TIMINGS.max_backoff.total_seconds() * 1000:.0f} ms",
        "timeouts",
        mix=timeouts(TIMEOUT_RATE),
    ),
    Run(
        f"3. chaos: {APPROVALS} approvals, {WORKERS} workers; {LOST:.0%} of refund POSTs lose"
        f" their answer, {DELAYED:.0%} take effect up to {LATE_BY:g} s after the client gave up,"
        f" {FAILED_LOOKUPS:.0%} of look-ups fail (4xx/5xx); the worker sending every"
        f" {KILL_EVERY}th refund POST is killed",
        "chaos",
        mix=chaos(
            lost=LOST,
            delayed=DELAYED,
            late_by=LATE_BY,
            after=PROXY_TIMEOUT,
            lookups=FAILED_LOOKUPS,
        ),
        kill_every=KILL_EVERY,
    ),
)


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
    intake = IntakeService(db, StaticOrders(*orders), [])

    def job(order_id: str) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            opened = await intake.open(OpenRequest(order_id, None, "", MANAGER))
            return opened.case.dispute.number

        return run

    return await bounded(INTAKE_CONCURRENCY, [job(o.order_id) for o in orders])


# -- approving and draining ---------------------------------------------------------------------


@dataclass
class Tally:
    """Wall-clock times (time.time()) by dispute number, and what notify reported."""

    clicks: dict[int, float] = field(default_factory=dict)
    committed: dict[int, float] = field(default_factory=dict)
    refunded: dict[int, float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)

    async def notify(self, outcome: RefundOutcome) -> None:
        self.outcomes[outcome.status] += 1
        if outcome.status in ("succeeded", "duplicate"):
            self.refunded.setdefault(outcome.dispute_number, time.time())


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


async def approve_all(db: Database, numbers: list[int], replicas: Replicas, tally: Tally) -> None:
    pending = iter(enumerate(numbers))

    async def approver() -> None:
        for index, number in pending:
            tally.clicks[number] = time.time()
            await db.run(approval(number))
            tally.committed[number] = time.time()
            replicas.wake(index)

    await asyncio.gather(*(approver() for _ in range(APPROVERS)))


async def not_final(db: Database) -> int:
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(RefundRequestRow)
            .where(RefundRequestRow.status.not_in(FINAL))
        )
        return int(count or 0)


async def until_final(db: Database, limit: float) -> bool:
    """Until every request is final in the database; False when `limit` s passed first."""
    deadline = time.monotonic() + limit
    while await not_final(db):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


# -- what is left to read ------------------------------------------------------------------------


def short(ref: str) -> str:
    """`rr_42` for the provider's `rr_42_<key>`: the form the worker's log names it by."""
    return ref.rsplit("_", 1)[0]


@dataclass(frozen=True)
class Request:
    id: int
    number: int
    status: str
    claims: int
    sends: int
    updated: float  # the last change, as the worker's clock had it; when final, settled
    payment: str
    ref: str  # as the provider's metadata carries it


async def requests_of(db: Database) -> list[Request]:
    async with db.reading() as session:
        rows = await session.execute(
            select(RefundRequestRow, DisputeRow.number).join(
                DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id
            )
        )
        return [
            Request(
                r.id,
                n,
                r.status,
                r.attempts,
                r.sends,
                r.updated_at.timestamp(),
                r.payment_reference,
                r.provider_ref,
            )
            for r, n in rows
        ]


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


@dataclass
class Wire:
    """The proxy's log, by request kind and by our request id."""

    log: list[LoggedRequest]

    def of(self, kind: str) -> list[LoggedRequest]:
        return [e for e in self.log if e.kind == kind]

    def faults(self, kind: str) -> Counter[str]:
        return Counter(e.fault for e in self.of(kind) if e.fault)

    def posts_for(self, ref: str) -> list[LoggedRequest]:
        return [e for e in self.of(REFUND_POST) if e.refund_request == ref]

    def failed_lookups_on(self, payment: str) -> int:
        return sum(1 for e in self.of(REFUND_LOOKUP) if e.fault and payment in e.query)


class WorkerLog(logging.Handler):
    """The refund path's warnings and errors during a run, kept to be counted, not printed."""

    TAKEOVER = "refund request rr_%s: the claim of fence %s expired; taking it over"
    RENEWAL_LOST = "refund request rr_%s: claim %s lost"
    WRITE_REFUSED = "refund request rr_%s: claim %s was lost (now claim %s, %s); %s not recorded"

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def of(self, template: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.msg == template]

    def taken_over(self) -> list[str]:
        """The request of every claim another worker took over, once per takeover."""
        return [f"rr_{r.args[0]}" for r in self.of(self.TAKEOVER) if isinstance(r.args, tuple)]

    def summary(self, killed: list[str]) -> str:
        takeovers = self.taken_over()
        victims = {short(ref) for ref in killed}
        after_kill = sum(1 for ref in takeovers if ref in victims)
        refused = Counter(
            str(r.args[4]) for r in self.of(self.WRITE_REFUSED) if isinstance(r.args, tuple)
        )
        errors = [r for r in self.records if r.levelno >= logging.ERROR]
        known = (self.TAKEOVER, self.RENEWAL_LOST, self.WRITE_REFUSED)
        other = [r for r in self.records if r.msg not in known and r.levelno < logging.ERROR]
        text = (
            f"  worker log: {len(takeovers)} claims taken over after their lease expired"
            f" ({after_kill} of a killed worker's request);"
            f" {len(self.of(self.RENEWAL_LOST))} renewals found the claim gone;"
            f" writes refused for a lost claim: {dict(refused) or 0};"
            f" {len(other)} other warnings, {len(errors)} errors"
        )
        if errors:
            first = errors[0]
            text += f" (first: {first.getMessage()}"
            text += f": {first.exc_info[1]!r})" if first.exc_info else ")"
        return text


# -- reports ------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What one run left to report on; times are time.time() seconds."""

    spec: Run
    tally: Tally
    heard: Counter[str]
    kills: Kills
    log: WorkerLog
    wire: Wire = field(default_factory=lambda: Wire([]))
    requests: list[Request] = field(default_factory=list)
    first_click: float = 0.0
    approved: float = 0.0
    drained: float = 0.0
    cpu: float = 0.0
    final: bool = False

    def request(self, ref: str) -> Request:
        return next(r for r in self.requests if r.ref == ref)


def report(seen: Seen, refunds: list[dict[str, Any]]) -> None:
    report_approvals(seen.tally)
    if seen.spec.mix is not None and not seen.spec.kill_every:
        report_timeouts(seen)
    if seen.spec.kill_every:
        report_chaos(seen)
    report_states(seen)
    report_provider(seen, refunds)


def report_approvals(tally: Tally) -> None:
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
    latency = [tally.refunded[n] - tally.clicks[n] for n in tally.refunded]
    print("  refunded  (click -> succeeded) " + spread(latency))


def report_timeouts(seen: Seen) -> None:
    tally, wire = seen.tally, seen.wire
    faulted = {e.refund_request for e in wire.of(REFUND_POST) if e.fault}
    hit = {r.number for r in seen.requests if r.ref in faulted}
    latency = {n: tally.refunded[n] - tally.clicks[n] for n in tally.refunded}
    print(
        "    no POST of it faulted        "
        + spread([t for n, t in latency.items() if n not in hit])
    )
    print("    after a POST timed out       " + spread([t for n, t in latency.items() if n in hit]))
    injected = wire.faults(REFUND_POST)
    print(
        f"  wire: {len(wire.of(REFUND_POST))} refund POSTs, {len(wire.of(REFUND_LOOKUP))}"
        f" look-ups; {injected['drop_before']} timed out before sending,"
        f" {injected['lose_answer']} lost their answer after refunding"
    )


def report_chaos(seen: Seen) -> None:
    wire, kills = seen.wire, seen.kills
    clicks = seen.tally.clicks
    settled = {r.ref: r.updated - clicks[r.number] for r in seen.requests if r.status in FINAL}
    print("  settled   (click -> final)     " + spread(list(settled.values())))
    if settled:
        slowest = max(settled, key=settled.__getitem__)
        print(f"  slowest: {settled[slowest]:.2f} s, {story(seen, slowest)}")
    posts, lookups = wire.faults(REFUND_POST), wire.faults(REFUND_LOOKUP)
    late = [e for e in wire.of(REFUND_POST) if e.fault == "delay_effect"]
    how = ", ".join(f"{n} {when}" for when, n in sorted(kills.done.items()))
    print(
        f"  injected: {kills.total} kills ({how}); {posts['lose_answer']} lost answers;"
        f" {len(late)} delayed effects ({sum(e.forwarded for e in late)} took effect);"
        f" {lookups['status']} failed look-ups"
    )
    print(
        f"  wire: {len(wire.of(REFUND_POST))} refund POSTs"
        f" ({sum(e.forwarded for e in wire.of(REFUND_POST))} reached localstripe),"
        f" {len(wire.of(REFUND_LOOKUP))} look-ups"
    )


def story(seen: Seen, ref: str) -> str:
    """One request's sends and claims, and the faults, kills and takeovers that touched it."""
    request = seen.request(ref)
    posts = seen.wire.posts_for(ref)
    start = posts[0].at if posts else 0.0
    sent = "; ".join(
        f"+{e.at - start:.2f}s {e.fault or 'clean'}"
        + (f" (acted +{e.forwarded_at - start:.2f}s)" if e.forwarded_at else " (not acted on)")
        for e in posts
    )
    return (
        f"{ref} (dispute #{request.number}, {request.status}): {request.sends} sends,"
        f" {request.claims} claims, {seen.log.taken_over().count(short(ref))} taken over,"
        f" {seen.kills.victims.count(ref)} kills while sending it,"
        f" {seen.wire.failed_lookups_on(request.payment)} failed look-ups;"
        f" POSTs: {sent or 'none seen'}"
    )


def report_states(seen: Seen) -> None:
    requests = seen.requests
    print(
        "  workers heard: "
        + (", ".join(f"{what} {n}" for what, n in sorted(seen.heard.items())) or "nothing")
    )
    print(seen.log.summary(seen.kills.victims))
    print(
        f"  outcomes notified: {dict(seen.tally.outcomes)};"
        f" requests by status {dict(Counter(r.status for r in requests))};"
        f" by claims {dict(sorted(Counter(r.claims for r in requests).items()))};"
        f" by sends {dict(sorted(Counter(r.sends for r in requests).items()))}"
    )
    left = sorted((r for r in requests if r.status not in FINAL), key=lambda r: r.id)
    listed = f" {[f'{r.ref} {r.status}' for r in left[:20]]}" if left else ""
    print(f"  not final at the end: {len(left)}{listed}")
    wall = seen.drained - seen.first_click
    print(
        f"  everything done {wall:.2f} s after the first click"
        f" ({seen.drained - seen.approved:.2f} s after the last approval);"
        f" this process's CPU {seen.cpu / wall:.0%} (one event loop"
        + (", and the proxy's thread)" if seen.spec.mix else ")")
    )
    if not seen.final:
        print(f"  (gave up waiting {DRAIN_LIMIT:g} s after the last approval)")


def report_provider(seen: Seen, refunds: list[dict[str, Any]]) -> None:
    refs = {r.ref for r in seen.requests}
    per_request = Counter((r.get("metadata") or {}).get("refund_request") for r in refunds)
    duplicated = sorted(rid for rid, count in per_request.items() if rid and count > 1)
    duplicates = sum(per_request[rid] - 1 for rid in duplicated)
    missing = sorted(refs - set(per_request))
    strangers = sum(count for rid, count in per_request.items() if rid not in refs)
    ok = len(refunds) == APPROVALS and not duplicates and not missing and not strangers
    print(f"  refunds in localstripe: {len(refunds)} (expected {APPROVALS})")
    print(f"  duplicates: {duplicates}")
    print(f"  missing: {len(missing)}")
    if strangers:
        print(f"  refunds matching no request: {strangers}")
    print(f"  exactly once: {'yes' if ok else 'NO'}")
    for ref in [*duplicated, *missing][:10]:
        print(f"    {story(seen, ref)}")


# -- one run ------------------------------------------------------------------------------------


def stripe_gateway(base: str, timeout: float) -> StripeGateway:
    return StripeGateway(API_KEY, api_base=base, timeout=timeout, attempts=1, backoff=0.05)


async def run(spec: Run, folder: Path, seed: int) -> None:
    print(f"\n== {spec.label}")
    folder.mkdir()  # noqa: ASYNC240 (nothing else is running yet)
    log = WorkerLog()
    logging.getLogger("disputes").addHandler(log)
    with localstripe_server() as base:
        proxy = FaultyStripe(base).start_in_thread() if spec.mix else None
        try:
            seen = await measure(spec, folder, base, proxy, log, seed)
            if proxy is not None:
                await proxy.settle()  # every delayed effect has happened
                seen.wire = Wire(proxy.log)
        finally:
            if proxy is not None:
                await proxy.stop()
            logging.getLogger("disputes").removeHandler(log)
        report(seen, await stripe_refunds(base))


async def measure(
    spec: Run, folder: Path, base: str, proxy: FaultyStripe | None, log: WorkerLog, seed: int
) -> Seen:
    setup = time.perf_counter()
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    db = Database(url)
    seen = Seen(
        spec, Tally(), Counter(), Kills(spec.kill_every, KILL_WITHIN, random.Random(seed)), log
    )
    seeds = itertools.count(seed + 1)

    def gateway() -> WiredGateway:
        to = (proxy.url, PROXY_TIMEOUT) if proxy is not None else (base, PLAIN_TIMEOUT)
        return WiredGateway(
            stripe_gateway(*to),
            proxy=proxy,
            mix=spec.mix or FaultMix(),
            rng=random.Random(next(seeds)),
            heard=seen.heard,
            on_post=seen.kills.on_post,
        )

    replicas = seen.kills.replicas = Replicas(
        url, WORKERS, gateway=gateway, notify=seen.tally.notify, timings=TIMINGS
    )
    try:
        await migrate(db)
        payments = await create_payments(base)
        numbers = await open_disputes(db, payments)
        print(
            f"  setup: {len(payments)} payment intents, {len(numbers)} disputes opened"
            f" in {time.perf_counter() - setup:.1f} s"
        )
        replicas.start()
        cpu, seen.first_click = time.process_time(), time.time()
        await approve_all(db, numbers, replicas, seen.tally)
        seen.approved = time.time()
        seen.final = await until_final(db, DRAIN_LIMIT)
        seen.drained = time.time()
        seen.cpu = time.process_time() - cpu
    finally:
        await seen.kills.stop()
        await replicas.stop()
    seen.requests = await requests_of(db)
    await db.dispose()
    return seen


# -- entry point ------------------------------------------------------------------------------


async def run_all() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dd-bench-refunds-") as name:
        async with asyncio.timeout(TOTAL_LIMIT):
            for index, spec in enumerate(RUNS):
                await run(spec, Path(name) / spec.folder, seed=100 * index)
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")


def main() -> int:
    asyncio.run(run_all())
    return 0


if __name__ == "__main__":
    sys.exit(main())
