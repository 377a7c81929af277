"""The app's CPU per opened dispute, against the CPU of a request that opens nothing.

    .venv/bin/python -m bench.open_cpu [--opens 200] [--rounds 3] [--wave 10]
                                       [--backend sqlite|postgres]

Each round starts a fresh Slack emulator process (`bench.ack_servers`) and a fresh app process
(`python -m bot.cli serve`, as the tests run it) on the database: a SQLite file of its own, or
one throwaway PostgreSQL cluster for the whole run. After 10 opens to warm up and the app's idle
CPU measured over 3 s, it sends N signed `/dispute help` (the baseline: a request verified,
parsed and answered, with no dispute work after the ack) and then N `/dispute open` of orders
in the demo's shapes, each kind in waves of `--wave` concurrent requests. An open's work is all
of it: the ack, intake (the order, the evidence, the policy's decision, the audit chain), the
thread (parent message and two cards, posted under the thread outbox's claim, and the parent
updated once the dispute is evidence-ready) and the answer through `response_url`.

CPU per request is the app process's CPU time (user + system, from /proc) from the first
request of a kind until every answer is in, plus one second, less its idle CPU over that time,
divided by N. Printed for each round, then the medians: per open, per help, their ratio, and the
open less the help (the dispute's own work); and the lowest round's CPU per open, the figure
least disturbed by whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.ack import (
    BOT_TOKEN,
    SignedCommand,
    helper,
    http_request,
    post,
    signed_command,
    wait_for_intake,
    warm_up,
)
from bench.ack_servers import start_emulator
from bench.common import FIXTURES, ROOT, cpu_seconds
from bot.demo_world import ROLES as DEMO_ROLES
from sandbox.app_process import app_process, clean_environment
from tests.support.postgres import find_bindir, postgres_cluster

WARM_UP = 10


@dataclass(frozen=True)
class Round:
    open_ms: float  # CPU per opened dispute
    help_ms: float  # CPU per /dispute help
    answered: int  # opens whose answer came back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.open_cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--opens", type=int, default=200, help="opens (and helps) per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wave", type=int, default=10, help="requests sent together")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        server = None
        if args.backend == "postgres":
            bindir = find_bindir()
            if bindir is None:
                sys.exit("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
            server = stack.enter_context(postgres_cluster(bindir))
        rounds = [asyncio.run(one_round(args, n, server)) for n in range(1, args.rounds + 1)]
    report(args, rounds)
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")
    return 0


async def one_round(args: argparse.Namespace, number: int, database: str | None) -> Round:
    with tempfile.TemporaryDirectory(prefix="dd-open-cpu-") as name:
        tmp = Path(name)
        total = WARM_UP + args.opens
        orders = order_copies(tmp / "orders", f"R{number}", total)
        secret = secrets.token_hex(16)
        grants_file = tmp / "grants.json"
        with contextlib.ExitStack() as stack:
            env = clean_environment(PYTHONPATH=str(ROOT))
            emulator_process = stack.enter_context(
                helper(["emulator", str(grants_file), str(total + args.opens)], env, tmp)
            )
            emulator = await start_emulator(grants_file, emulator_process)
            settings = {"DATABASE_URL": database} if database else {}
            app = stack.enter_context(
                app_process(
                    tmp / "app",
                    emulator["url"] + "/api/",
                    roles=DEMO_ROLES,  # the sandbox's people may open disputes, as in the demo
                    SLACK_BOT_TOKEN=BOT_TOKEN,
                    SLACK_SIGNING_SECRET=secret,
                    ORDER_SOURCE=f"fixtures:{tmp / 'orders'}",
                    INSIGHTS_REPORT_AT="off",
                    **settings,
                )
            )
            grants = iter(emulator["grants"])

            def commands(texts: list[str]) -> list[SignedCommand]:
                return [signed_command(secret, t, next(grants), emulator["url"]) for t in texts]

            def opens(count: int) -> list[SignedCommand]:
                return commands([f"open {next(orders)} box arrived crushed" for _ in range(count)])

            pid = app.process.pid
            await warm_up(app.port, opens(WARM_UP))
            async with httpx.AsyncClient(timeout=30) as client:
                await wait_for_intake(client, emulator["url"], WARM_UP)
                await asyncio.sleep(1.0)
                before = cpu_seconds(pid)
                await asyncio.sleep(3.0)
                idle = (cpu_seconds(pid) - before) / 3.0

                async def done_helping() -> None:
                    await asyncio.sleep(1.0)

                async def done_opening() -> None:
                    await wait_for_intake(client, emulator["url"], total)
                    await asyncio.sleep(1.0)

                helping = await cpu_per_request(
                    app.port, pid, commands(["help"] * args.opens), args.wave, idle, done_helping
                )
                opening = await cpu_per_request(
                    app.port, pid, opens(args.opens), args.wave, idle, done_opening
                )
                answered, _ = await wait_for_intake(client, emulator["url"], total)
    result = Round(opening, helping, answered - WARM_UP)
    print(
        f"  round {number}: open {result.open_ms:.1f} ms, help {result.help_ms:.1f} ms"
        f" ({result.answered}/{args.opens} opens answered)",
        flush=True,
    )
    return result


async def cpu_per_request(
    port: int,
    pid: int,
    commands: list[SignedCommand],
    wave: int,
    idle: float,
    finished: Callable[[], Awaitable[None]],
) -> float:
    """CPU ms per command: sent in waves, until `finished` returns; idle CPU taken off."""
    before, started = cpu_seconds(pid), time.monotonic()
    for start in range(0, len(commands), wave):
        sent = commands[start : start + wave]
        await asyncio.gather(*(post(port, http_request(port, command)) for command in sent))
    await finished()
    used = cpu_seconds(pid) - before - idle * (time.monotonic() - started)
    return used / len(commands) * 1000


def order_copies(folder: Path, prefix: str, count: int) -> Iterator[str]:
    """`count` orders for the fixtures order source, the demo's shapes in turn under new ids,
    each paid with a payment of its own (as new orders are); their ids, in order."""
    folder.mkdir()
    shapes = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("ORD-*.json"))]
    ids = []
    for n in range(count):
        shape = shapes[n % len(shapes)]
        paid = shape["payment"]
        payment = dict(paid, reference=f"{paid['reference']}-{prefix}{n}")
        order = dict(shape, order_id=f"ORD-{prefix}-{n:05d}", payment=payment)
        (folder / f"{order['order_id']}.json").write_text(json.dumps(order))
        ids.append(order["order_id"])
    return iter(ids)


def report(args: argparse.Namespace, rounds: list[Round]) -> None:
    opened = statistics.median(r.open_ms for r in rounds)
    helped = statistics.median(r.help_ms for r in rounds)
    print(f"== {args.opens} opens and {args.opens} helps x {args.rounds} rounds, {args.backend}")
    lowest = min(r.open_ms for r in rounds)
    # The same work takes more CPU while the machine's neighbours are busy (shared caches and
    # cores): the lowest round is the least disturbed, and only ever too high.
    print(f"  CPU per /dispute open: {opened:.1f} ms (median), {lowest:.1f} ms (lowest round)")
    print(f"  CPU per /dispute help: {helped:.1f} ms (median; the baseline)")
    if helped > 0:
        print(f"  open / help: {opened / helped:.1f}x; open less help: {opened - helped:.1f} ms")
    else:  # /proc counts CPU in ticks of 10 ms: a few helps may not add up to one
        print("  open / help: too few helps to measure (try more --opens)")
    missing = [r for r in rounds if r.answered != args.opens]
    if missing:
        print(f"  NOTE: {len(missing)} round(s) with opens unanswered: their CPU is understated")


if __name__ == "__main__":
    sys.exit(main())
