"""How fast Dispute Desk acks Slack (and then, from bench/evidence_card.py, how soon the
evidence card follows).

Run from the project folder:  .venv/bin/python -m bench.ack
(about a minute; prints numbers, never asserts on them; exits 0 when it ran)

1. Ack latency under a burst. The sandbox emulator (Slack's Web API), the real app
   (`python -m bot.cli serve`, SQLite in a temp folder) and a bare Bolt app that only acks
   (served by the same `bot.http.create_http_app`, same signing secret check) each run in their
   own process; this process is the load generator. After a warm-up, 200 signed
   `/dispute open ORD-…` commands (demo orders and unknown ids, so intake really runs after
   the ack) are released at once, first at the bare app, then at the app. Each goes on its
   own connection through a few lines of asyncio streams: one httpx.AsyncClient with 200
   connections spent ~80-95% of a CPU here and was itself the bottleneck (bare p50 0.7-3.4 s
   against 0.23-0.35 s with raw streams).
   Latency is per request, from send to response. Slack gives up after 3 s; the target is
   every ack well under that, and app p99 <= 1.5 x bare p99. A third burst of
   `/dispute help` (acked with nothing to do after) separates the app's ack path from the
   intake work competing with it. CPU is each process's CPU time over the burst's wall time:
   a server near 100% is saturated (one event loop); a generator near 100% would mean the
   load generator, not the server, set the pace.
2. Command -> evidence card: bench/evidence_card.py (also runs alone).

The app runs as the tests run it (sandbox/app_process.py); the emulator and the bare app are
the helper processes of bench/ack_servers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bench.ack_servers import start_emulator
from bench.common import CHANNEL, FIXTURES, ROOT, cpu_seconds, ms, percentile, verdict
from bench.evidence_card import card_benchmark
from bot.demo_world import ROLES as DEMO_ROLES
from sandbox.app_process import app_process, clean_environment, free_port, running, wait_serving
from sandbox.slack.driver import VERIFICATION_TOKEN
from sandbox.slack.records import APP_ID, BOT_TOKEN, TEAM_DOMAIN, TEAM_ID
from sandbox.slack.workspace import Workspace

USER_NAMES = {user.id: user.name for user in Workspace.default().users.values()}

BURST = 200
WARMUP = 10
UNKNOWN_IDS = tuple(f"ORD-9{n:03d}" for n in range(8))
ACK_DEADLINE_MS = 3000.0
P99_RATIO_TARGET = 1.5

REQUEST_TIMEOUT = 30.0
BURST_TIMEOUT = 60.0
DRAIN_TIMEOUT = 45.0
TOTAL_TIMEOUT = 170.0


def helper(
    args: list[str], env: dict[str, str], cwd: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`python -m bench.ack_servers …`, stopped (stdin closed, SIGTERM) on the way out."""
    log = helper_log(cwd, args[0])
    return running(["bench.ack_servers", *args], env=env, cwd=cwd, log=log, stdin=subprocess.PIPE)


def helper_log(cwd: Path, name: str) -> Path:
    return cwd / f"bench-ack_servers-{name}.log"


# -- part 1: the burst ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCommand:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class BurstResult:
    latencies: list[float]
    failures: int
    send_spread: float  # first to last send: how long the generator took to release them all
    generator_cpu: float  # this process's CPU time over the burst's wall time (1.0 = saturated)
    server_cpu: float  # the same for the server process


def order_ids() -> Iterator[str]:
    known = sorted(path.stem for path in FIXTURES.glob("ORD-*.json"))
    return cycle([*known, *UNKNOWN_IDS])


def signed_command(secret: str, text: str, grant: list[str], emulator_url: str) -> SignedCommand:
    """A `/dispute` slash command with every field Slack sends, signed as Slack signs."""
    user, token, trigger = grant
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": CHANNEL,
        "channel_name": "disputes",
        "user_id": user,
        "user_name": USER_NAMES[user],
        "command": "/dispute",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": f"{emulator_url}/_sandbox/response/{token}",
        "trigger_id": trigger,
    }
    body = urlencode(fields).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return SignedCommand(body, headers)


def open_texts(count: int, ids: Iterator[str]) -> list[str]:
    return [f"open {next(ids)} damaged box arrived crushed" for _ in range(count)]


def http_request(port: int, command: SignedCommand) -> bytes:
    """The whole HTTP/1.1 request for POST /slack/events on 127.0.0.1:`port`."""
    lines = [
        "POST /slack/events HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {len(command.body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in command.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + command.body


async def post(port: int, request: bytes) -> int:
    """Send one request on a fresh connection (as Slack may); the status once fully read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status_line = await reader.readline()
        await reader.read()  # Connection: close, so the response ends at EOF
    finally:
        writer.close()
    return int(status_line.split()[1])


async def warm_up(port: int, commands: list[SignedCommand]) -> None:
    for command in commands:
        status = await asyncio.wait_for(post(port, http_request(port, command)), REQUEST_TIMEOUT)
        if status != 200:
            raise RuntimeError(f"warm-up request answered HTTP {status}")


async def burst(port: int, server_pid: int, commands: list[SignedCommand]) -> BurstResult:
    """Release every command at once; time each from send to response."""
    gate = asyncio.Event()

    async def one(request: bytes) -> tuple[float, float | None]:
        await gate.wait()
        sent = time.perf_counter()
        try:
            status = await asyncio.wait_for(post(port, request), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, ValueError, IndexError):
            return sent, None
        return sent, time.perf_counter() - sent if status == 200 else None

    tasks = [asyncio.create_task(one(http_request(port, command))) for command in commands]
    await asyncio.sleep(0.05)  # every task is parked at the gate
    wall, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), BURST_TIMEOUT)
    wall = time.perf_counter() - wall
    latencies = [took for _, took in results if took is not None]
    sends = [sent for sent, _ in results]
    return BurstResult(
        latencies,
        len(results) - len(latencies),
        max(sends) - min(sends),
        (time.process_time() - cpu) / wall,
        (cpu_seconds(server_pid) - server_cpu) / wall,
    )


async def replies_posted(client: httpx.AsyncClient, emulator_url: str) -> int:
    """How many intake outcomes the app has sent back through response_url so far."""
    state = (await client.get(emulator_url + "/_sandbox/state", timeout=10)).json()
    return sum(1 for eph in state["ephemerals"] if eph["via"] == "response_url")


async def wait_for_intake(
    client: httpx.AsyncClient, emulator_url: str, expected: int
) -> tuple[int, float]:
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < DRAIN_TIMEOUT:
        done = await replies_posted(client, emulator_url)
        if done >= expected:
            break
        await asyncio.sleep(0.5)
    return done, time.monotonic() - started


def report_burst(name: str, result: BurstResult) -> None:
    lat = result.latencies
    if not lat:
        print(f"  {name:<22} no successful requests ({result.failures} failed)")
        return
    print(
        f"  {name:<22} p50 {ms(percentile(lat, 50))}  p99 {ms(percentile(lat, 99))}"
        f"  max {ms(max(lat))}  ({len(lat)} ok, {result.failures} failed;"
        f" sends spread {result.send_spread * 1000:.0f} ms; CPU: server"
        f" {result.server_cpu:.0%}, generator {result.generator_cpu:.0%})"
    )


def report_ratio(app: BurstResult, bare: BurstResult) -> None:
    if not app.latencies or not bare.latencies:
        return
    p50 = percentile(app.latencies, 50) / percentile(bare.latencies, 50)
    p99 = percentile(app.latencies, 99) / percentile(bare.latencies, 99)
    worst = max(app.latencies) * 1000
    print(f"  ratio app/bare         p50 {p50:.2f}x   p99 {p99:.2f}x")
    print(
        f"  target: every ack well under {ACK_DEADLINE_MS:.0f} ms (max {worst:.0f} ms:"
        f" {verdict(worst < ACK_DEADLINE_MS / 2 and not app.failures)});"
        f" p99 ratio <= {P99_RATIO_TARGET} ({verdict(p99 <= P99_RATIO_TARGET)})"
    )


async def ack_benchmark(tmp: Path) -> None:
    print(f"== 1. Ack latency: {BURST} concurrent /dispute open, servers in their own processes")
    secret = secrets.token_hex(16)
    grants_file = tmp / "grants.json"
    needed = 2 * WARMUP + 3 * BURST
    helpers = clean_environment(PYTHONPATH=str(ROOT))
    with contextlib.ExitStack() as stack:
        emu_proc = stack.enter_context(
            helper(["emulator", str(grants_file), str(needed)], helpers, tmp)
        )
        emulator = await start_emulator(grants_file, emu_proc)
        api = emulator["url"] + "/api/"
        app = stack.enter_context(
            app_process(
                tmp / "app",
                api,
                roles=DEMO_ROLES,  # the sandbox's people may open disputes, as in the demo
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=secret,
            )
        )
        app_port, app_proc, bare_port = app.port, app.process, free_port()
        bare_env = {
            **helpers,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": api,
            "PORT": str(bare_port),
        }
        bare_proc = stack.enter_context(helper(["bare"], bare_env, tmp))
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_serving(bare_url, bare_proc, helper_log(tmp, "bare"), healthy=False)

        grants, ids = iter(emulator["grants"]), order_ids()

        def commands(texts: list[str]) -> list[SignedCommand]:
            return [signed_command(secret, t, next(grants), emulator["url"]) for t in texts]

        await warm_up(bare_port, commands(open_texts(WARMUP, ids)))
        await warm_up(app_port, commands(open_texts(WARMUP, ids)))
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
            await wait_for_intake(client, emulator["url"], WARMUP)
            bare = await burst(bare_port, bare_proc.pid, commands(open_texts(BURST, ids)))
            helps = await burst(app_port, app_proc.pid, commands(["help"] * BURST))
            app = await burst(app_port, app_proc.pid, commands(open_texts(BURST, ids)))
            done, waited = await wait_for_intake(client, emulator["url"], WARMUP + BURST)
        report_burst("bare Bolt (ack only)", bare)
        report_burst("Dispute Desk", app)
        report_ratio(app, bare)
        report_burst("(app, /dispute help)", helps)
        print("  (help acks with no work after it: the ack path alone, middleware included)")
        print(
            f"  after the burst: {done - WARMUP}/{BURST} intake replies posted within"
            f" {waited:.1f} s (the work behind the acks)"
        )


# -- entry point ------------------------------------------------------------------------------


async def run_all() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dd-bench-") as name:
        tmp = Path(name)
        async with asyncio.timeout(TOTAL_TIMEOUT):
            await ack_benchmark(tmp)
            await card_benchmark(tmp)
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")


def main() -> int:
    asyncio.run(run_all())
    return 0


if __name__ == "__main__":
    sys.exit(main())
