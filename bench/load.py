"""Load on several replicas: many `/dispute open` and approvals spread over them, on one
PostgreSQL database, with Slack's rate limits on.

    python -m bench.load [--opens 1000] [--approvals 500] [--replicas 3] [--scale 10]
    python -m bench.load --target URL --signing-secret SECRET [--opens 1000]
        [--order-prefix ORD-] [--database-url URL]

Local run (the default; about ten minutes on 2 CPUs): a throwaway PostgreSQL cluster, the
sandbox's Slack Web API emulator with Slack's per-channel and per-method limits at `--scale`
times their real rates (429 with Retry-After beyond them), localstripe as Stripe with a
succeeded payment intent for every order, and `--replicas` app processes (`dispute-desk
serve`, the first migrating, the others waiting for it) on the same database. Requests go to
the replicas in turn, as a round-robin load balancer sends them, in waves of 50 at once:
first the opens, then for `--approvals` of the new disputes a manager's proposal of a full
refund (the Start review click and the modal) and a supervisor's Approve.

It prints, per replica, the ack latency p50 / p99 / max of every request it answered (the HTTP
exchange alone; the approval steps also per step, each step going to every replica in turn); then
the disputes and threads made (each order opened once and each parent message posted once:
no duplicates, none lost), the refunds the refund requests made and localstripe holds (one
per approval, none twice), the 429s the emulator answered and the app's waits for them, and
the app's CPU per opened dispute: the replicas' CPU time from the first open until every
thread and evidence card is posted, less what they spend idle in the same time (measured
before), over the number of disputes. A baseline of the same run: the ack of `/dispute help`,
which does nothing after the ack, on the same replicas under the same load.

Against a real deployment (`--target`): signed `/dispute open` commands for order ids
`<order-prefix><n>` go to the URL (the load balancer); it prints the ack latencies, and with
`--database-url` the disputes counted. Nothing is approved there.

Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import cpu_seconds, ms, percentile
from bench.refunds import stripe_refunds
from bot.demo_world import thread_of
from connectors.orders.factory import default_fixtures_path
from sandbox.app_process import AppProcess, app_process
from sandbox.slack.driver import SlackDriver
from sandbox.slack.rate_limits import SlackLimits
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Message, Workspace
from sandbox.world.localstripe_runner import create_payment
from tests.support.localstripe import API_KEY, localstripe_server
from tests.support.postgres import find_bindir, postgres_cluster

CHANNEL = "C0DISPUTES"
WAVE = 50
ROLES = """
roles:
  supervisor: {users: [U0SUPER], groups: [], approval_limit: null}
  manager: {users: [U0MANAGER1, U0MANAGER2], groups: [], approval_limit: "200.00"}
  agent: {users: [U0AGENT], groups: [], approval_limit: "0"}
two_person_rule_above: "100.00"
"""
DRAIN_TIMEOUT = 900.0


@dataclass
class Acks:
    """Ack latencies (seconds) per replica, and the requests that failed."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failed: Counter[str] = field(default_factory=Counter)

    async def timed(
        self,
        replica: str,
        call: Awaitable[httpx.Response],
        *,
        also: Acks | None = None,
        as_: str = "",
    ) -> httpx.Response | None:
        """The request's HTTP exchange alone (`response.elapsed`), not the driver's work before
        it (finding the clicked message among thousands); filed under `replica`, and under
        `as_` in `also` when given (per step as well as per replica)."""
        filed = [(self, replica)] if also is None else [(self, replica), (also, as_)]
        try:
            response = await call
        except httpx.HTTPError:
            for acks, key in filed:
                acks.failed[key] += 1
            return None
        for acks, key in filed:
            if response.status_code != 200:
                acks.failed[key] += 1
            else:
                acks.latencies[key].append(response.elapsed.total_seconds())
        return response

    def print(self, title: str) -> None:
        print(f"  {title}")
        for key in sorted(self.latencies) or sorted(self.failed):
            lat = self.latencies[key]
            if lat:
                print(
                    f"    {key:<14} p50 {ms(percentile(lat, 50))}"
                    f"  p99 {ms(percentile(lat, 99))}  max {ms(max(lat))}"
                    f"  ({len(lat)} ok, {self.failed[key]} failed)"
                )
            else:
                print(f"    {key:<14} no successful requests ({self.failed[key]} failed)")


def write_orders(folder: Path, prefix: str, count: int, payments: list[str]) -> list[str]:
    """`count` orders, copies of the demo orders under new ids, each paid by its own payment."""
    folder.mkdir(parents=True, exist_ok=True)
    templates = [
        json.loads(p.read_text()) for p in sorted(default_fixtures_path().glob("ORD-*.json"))
    ]
    usable = [t for t in templates if t.get("currency") == "USD"]
    ids = []
    for n in range(count):
        order = json.loads(json.dumps(usable[n % len(usable)]))
        order["order_id"] = f"{prefix}{n:05d}"
        order["payment"]["reference"] = payments[n]
        if order.get("return_request"):  # nothing refunded yet: a full refund is owed
            order["return_request"]["decision"] = None
        (folder / f"{order['order_id']}.json").write_text(json.dumps(order))
        ids.append(order["order_id"])
    return ids


def totals(count: int) -> list[int]:
    usable = [
        json.loads(p.read_text())
        for p in sorted(default_fixtures_path().glob("ORD-*.json"))
        if json.loads(p.read_text()).get("currency") == "USD"
    ]
    return [int(usable[n % len(usable)]["total"].replace(".", "")) for n in range(count)]


async def paid(stripe: str, amounts: list[int]) -> list[str]:
    """A succeeded payment intent for each amount, 16 at a time."""
    out: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for first in range(0, len(amounts), 16):
            out += await asyncio.gather(
                *(
                    create_payment(stripe, a, "usd", client=client)
                    for a in amounts[first : first + 16]
                )
            )
    return out


async def waves(calls: list[Callable[[], Awaitable[object]]]) -> None:
    for first in range(0, len(calls), WAVE):
        await asyncio.gather(*(call() for call in calls[first : first + WAVE]))


def parents_by_order(ws: Workspace) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = defaultdict(list)
    for message in ws.history(CHANNEL):
        parts = message.text.split(" · ")
        if len(parts) > 1:
            found[parts[1].strip()].append(message)
    return found


async def until(check: Callable[[], bool], within: float = DRAIN_TIMEOUT) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def idle_cpu(apps: list[AppProcess], seconds: float = 5.0) -> float:
    """The replicas' CPU seconds per second while nothing happens."""
    before = sum(cpu_seconds(app.process.pid) for app in apps)
    time.sleep(seconds)
    return (sum(cpu_seconds(app.process.pid) for app in apps) - before) / seconds


async def scalar(url: str, sql: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def fresh_database(server_url: str) -> str:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text('CREATE DATABASE "load"'))
    await engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/load"


async def local_run(args: argparse.Namespace, tmp: Path) -> None:
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("bench.load: PostgreSQL server binaries (initdb, pg_ctl) are needed")
    print(
        f"== {args.opens} /dispute open and {args.approvals} approvals over {args.replicas}"
        f" replicas, one PostgreSQL; Slack's limits x{args.scale}; waves of {WAVE}"
    )
    with contextlib.ExitStack() as stack:
        server_url = stack.enter_context(postgres_cluster(bindir))
        database = await fresh_database(server_url)
        stripe = stack.enter_context(localstripe_server())
        emulator = EmulatorServer(Workspace.default()).start_in_thread()
        stack.callback(emulator.stop_thread)
        ws = emulator.workspace
        ws.set_limits(SlackLimits.slack(scale=args.scale))
        payments = await paid(stripe, totals(args.opens + 1))
        ids = write_orders(tmp / "orders", "ORD-L", args.opens + 1, payments)
        (tmp / "roles.yml").write_text(ROLES)
        secret = secrets.token_hex(16)
        env = {
            "DATABASE_URL": database,
            "ORDER_SOURCE": f"fixtures:{tmp / 'orders'}",
            "ROLES_FILE": str(tmp / "roles.yml"),
            "REFUND_GATEWAY": "stripe",
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": stripe,
            "SLACK_SIGNING_SECRET": secret,
            "INSIGHTS_REPORT_AT": "off",
        }
        apps = [
            stack.enter_context(app_process(tmp / f"replica{n + 1}", emulator.api_url, **env))
            for n in range(args.replicas)
        ]
        names = [f"replica{n + 1}" for n in range(len(apps))]
        drivers = [SlackDriver(app.url, secret, ws, emulator.base_url) for app in apps]
        try:
            await run_load(args, ws, apps, names, drivers, ids, database, stripe)
        finally:
            for driver in drivers:
                await driver.aclose()


def turns(names: list[str], drivers: list[SlackDriver]) -> Iterator[tuple[str, SlackDriver]]:
    while True:
        yield from zip(names, drivers, strict=True)


async def run_load(
    args: argparse.Namespace,
    ws: Workspace,
    apps: list[AppProcess],
    names: list[str],
    drivers: list[SlackDriver],
    ids: list[str],
    database: str,
    stripe: str,
) -> None:
    # Warm up: one open per replica (the first request of a process pays its imports).
    spread = turns(names, drivers)
    for order_id in ids[args.opens :]:
        await next(spread)[1].command(f"open {order_id} damaged box crushed", user="U0MANAGER1")
    await until(lambda: len(parents_by_order(ws)) >= 1)
    idle = idle_cpu(apps)

    opens, helps = Acks(), Acks()
    cpu_before = sum(cpu_seconds(app.process.pid) for app in apps)
    started = time.monotonic()
    calls: list[Callable[[], Awaitable[object]]] = []
    for n, order_id in enumerate(ids[: args.opens]):
        name, driver = next(spread)
        calls.append(
            lambda d=driver, r=name, o=order_id: opens.timed(
                r, d.command(f"open {o} damaged box crushed", user="U0MANAGER1")
            )
        )
        if n % 10 == 0:  # the baseline, under the same load
            calls.append(lambda d=driver, r=name: helps.timed(r, d.command("help")))
    await waves(calls)
    sent = time.monotonic() - started

    def all_cards() -> bool:
        found = parents_by_order(ws)
        return all(
            found.get(o) and len(ws.thread(CHANNEL, found[o][0].ts)) >= 2 for o in ids[: args.opens]
        )

    await until(all_cards)
    drained = time.monotonic() - started
    cpu = sum(cpu_seconds(app.process.pid) for app in apps) - cpu_before
    print(
        f"  opens sent in {sent:.1f} s; every thread and evidence card posted after {drained:.1f} s"
    )
    opens.print("ack of /dispute open, per replica")
    helps.print("baseline: ack of /dispute help under the same load")
    all_open = [x for lat in opens.latencies.values() for x in lat]
    all_help = [x for lat in helps.latencies.values() for x in lat]
    if all_open and all_help:
        print(
            f"  ratio open/help  p50 {percentile(all_open, 50) / percentile(all_help, 50):.2f}x"
            f"  p99 {percentile(all_open, 99) / percentile(all_help, 99):.2f}x"
        )
    net = cpu - idle * drained
    print(
        f"  CPU per opened dispute: {net / args.opens * 1000:.1f} ms"
        f" ({cpu:.1f} s over {len(apps)} replicas, less {idle * drained:.1f} s idle)"
    )

    approvals, steps = Acks(), Acks()
    chosen = ids[: args.approvals]
    found = parents_by_order(ws)

    async def approve(order_id: str) -> None:
        name, driver = next(spread)
        card = next(
            (
                m
                for m in thread_of_fast(ws, found, order_id)
                if "review.start" in json.dumps(m.blocks)
            ),
            None,
        )
        if card is None:
            approvals.failed[name] += 1
            return
        before = ws.top_view("U0MANAGER1")
        await approvals.timed(
            name,
            driver.block_action("review.start", user="U0MANAGER1", message_ts=card.ts),
            also=steps,
            as_="Start review",
        )
        view = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            view = ws.top_view("U0MANAGER1")
            if view is not None and view is not before:
                break
            await asyncio.sleep(0.1)
        if view is None or view is before:
            approvals.failed[name] += 1
            return
        name, driver = next(spread)
        fields = {
            "kind": {"kind": "full_refund"},
            "note": {"note": "load"},
            "override_reason": {"override_reason": "load"},
            "justification": {"justification": "load"},
        }
        submitted = await approvals.timed(
            name,
            driver.view_submission(fields, user="U0MANAGER1", view_id=view.id),
            also=steps,
            as_="proposal modal",
        )
        if submitted is not None and submitted.content not in (b"", b"null"):
            print(f"  {order_id}: the proposal modal answered {submitted.text[:300]}")
            approvals.failed[name] += 1
            return
        deadline = time.monotonic() + 120
        proposal = None
        while time.monotonic() < deadline and proposal is None:
            proposal = next(
                (
                    m
                    for m in thread_of_fast(ws, found, order_id)
                    if "proposal.approve" in json.dumps(m.blocks)
                ),
                None,
            )
            await asyncio.sleep(0.2)
        if proposal is None:
            approvals.failed[name] += 1
            return
        name, driver = next(spread)
        await approvals.timed(
            name,
            driver.block_action("proposal.approve", user="U0SUPER", message_ts=proposal.ts),
            also=steps,
            as_="Approve",
        )
        next(spread)  # the next approval's steps each land on another replica than this one's

    # One person proposes at a time in a modal: proposals go one manager's modal after another.
    started = time.monotonic()
    for order_id in chosen:
        await approve(order_id)
    clicked = time.monotonic() - started
    refunded = await until_count(
        database, "SELECT count(*) FROM refund_requests WHERE status = 'succeeded'", len(chosen)
    )
    print(
        f"  {len(chosen)} proposals and approvals clicked in {clicked:.1f} s;"
        f" refunds settled {refunded:.1f} s later"
    )
    approvals.print("ack of Start review, the proposal modal and Approve, per replica")
    steps.print("the same acks per step (each step on every replica in turn)")

    found = parents_by_order(ws)
    disputes = await scalar(database, "SELECT count(*) FROM disputes")
    threads = await scalar(database, "SELECT count(DISTINCT thread_ts) FROM disputes")
    twice = sum(1 for o in ids if len(found.get(o, [])) > 1)
    missing = sum(1 for o in ids if not found.get(o))
    print(
        f"  disputes {disputes} (orders opened {len(ids)}), threads {threads};"
        f" parent messages posted twice: {twice}, missing: {missing}"
    )
    requests = await scalar(database, "SELECT count(*) FROM refund_requests")
    succeeded = await scalar(
        database, "SELECT count(*) FROM refund_requests WHERE status = 'succeeded'"
    )
    at_stripe = await stripe_refunds(stripe)
    per_request = Counter(r.get("metadata", {}).get("refund_request") for r in at_stripe)
    print(
        f"  refund requests {requests}, succeeded {succeeded}; refunds at localstripe"
        f" {len(at_stripe)}, duplicates {sum(n - 1 for n in per_request.values() if n > 1)}"
        f" (expected {len(chosen)}, none twice)"
    )
    refused: Counter[str] = Counter()
    for entry in ws.rate_limits.counts()["refused"]:
        refused[entry["method"]] += entry["count"]
    print(
        f"  Slack 429s the emulator answered (all waited out, nothing lost above):"
        f" {sum(refused.values())} {dict(refused) or ''}"
    )


def thread_of_fast(ws: Workspace, found: dict[str, list[Message]], order_id: str) -> list[Message]:
    parents = found.get(order_id)
    return list(ws.thread(CHANNEL, parents[0].ts)) if parents else thread_of(ws, order_id)


async def until_count(database: str, sql: str, expected: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT:
        if await scalar(database, sql) >= expected:
            break
        await asyncio.sleep(1)
    return time.monotonic() - started


async def remote_run(args: argparse.Namespace) -> None:
    """Signed opens at a deployment's URL: the ack latencies, and the disputes counted."""
    print(f"== {args.opens} /dispute open at {args.target}")
    ws = Workspace.default()
    acks = Acks()
    async with SlackDriver(args.target, args.signing_secret, ws, "http://127.0.0.1:9") as driver:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda n=n: acks.timed(
                "target",
                driver.command(f"open {args.order_prefix}{n:05d} damaged", user="U0MANAGER1"),
            )
            for n in range(args.opens)
        ]
        await waves(calls)
    acks.print("ack of /dispute open")
    if args.database_url:
        print(
            f"  disputes stored: {await scalar(args.database_url, 'SELECT count(*) FROM disputes')}"
        )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--opens", type=int, default=1000)
    parser.add_argument("--approvals", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--target")
    parser.add_argument("--signing-secret")
    parser.add_argument("--order-prefix", default="ORD-")
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.target:
        if not args.signing_secret:
            parser.error("--target needs --signing-secret")
        await remote_run(args)
    else:
        with tempfile.TemporaryDirectory(prefix="dd-load-") as name:
            await local_run(args, Path(name))
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    asyncio.run(main())
