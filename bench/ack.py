"""How fast Dispute Desk acks Slack, and how soon the evidence card follows.

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
2. Command -> evidence card. The app in this process (build_runtime + http_server) with the
   emulator; 10 sequential commands for distinct orders, timed from sending the command until
   the "Evidence ·" reply is in the thread (polled every 10 ms): (a) orders from an `http:`
   order system answering in 200 ms, (b) three evidence sources taking 200 ms each. Target:
   1.5 x slowest source + 300 ms = 600 ms; 3 x 200 ms is what asking them one by one would cost.

Internal: `python -m bench.ack emulator OUT COUNT` and `python -m bench.ack bare` are the
helper processes of part 1; they stop when this process closes their stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.http import create_http_app
from bot.runtime import Runtime, build_runtime
from bot.serve import asgi_server, http_server
from bot.settings import Settings, load_settings
from connectors.evidence import EvidenceDraft, EvidenceSource
from connectors.orders.evidence import default_evidence_sources
from connectors.orders.models import Order
from sandbox.slack.driver import VERIFICATION_TOKEN, SlackDriver
from sandbox.slack.records import APP_ID, BOT_TOKEN, TEAM_DOMAIN, TEAM_ID
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.world.order_service import OrderServiceServer, create_order_service

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "sandbox" / "world" / "fixtures" / "orders"
CHANNEL = "C0DISPUTES"
USER_NAMES = {user.id: user.name for user in Workspace.default().users.values()}
USERS = ("U0AGENT", "U0MANAGER1", "U0MANAGER2", "U0SUPER")

BURST = 200
WARMUP = 10
UNKNOWN_IDS = tuple(f"ORD-9{n:03d}" for n in range(8))
CARD_RUNS = 10
SOURCE_DELAY = 0.2
ACK_DEADLINE_MS = 3000.0
P99_RATIO_TARGET = 1.5

START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
BURST_TIMEOUT = 60.0
DRAIN_TIMEOUT = 45.0
CARD_TIMEOUT = 10.0
TOTAL_TIMEOUT = 170.0


# -- numbers ---------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# -- small waits and processes ------------------------------------------------------------


async def wait_until(check: Callable[[], bool], within: float, interval: float = 0.01) -> bool:
    """Poll `check` until it is true (True) or `within` seconds pass (False)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus any real Slack or database settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@contextlib.contextmanager
def child(module_args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen]:
    """`python -m …` with its output in cwd/<name>.log; stopped (stdin closed, SIGTERM) after."""
    log = cwd / f"{module_args[0].replace('.', '-')}-{module_args[-1]}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.stdin is not None:
        process.stdin.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


async def wait_listening(url: str, process: subprocess.Popen) -> None:
    """Until the server answers HTTP at all (the app listens only once it is fully built)."""
    async with httpx.AsyncClient(timeout=1.0) as client:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url + "/healthz")
                return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start within {START_TIMEOUT:g} s")


# -- helper process: the emulator ---------------------------------------------------------


def run_emulator(out: Path, count: int) -> None:
    """Serve the emulator; hand the generator `count` response_url tokens and trigger ids."""
    workspace = Workspace.default()
    server = EmulatorServer(workspace).start_in_thread()
    users = cycle(USERS)
    grants = []
    for _ in range(count):
        user = next(users)
        grants.append(
            (user, workspace.mint_response_url(CHANNEL, user), workspace.mint_trigger(user))
        )
    staged = out.with_suffix(".tmp")
    staged.write_text(json.dumps({"url": server.base_url, "grants": grants}))
    staged.replace(out)
    sys.stdin.read()  # the generator closes our stdin (or exits): time to stop
    server.stop_thread()


def read_grants(out: Path) -> dict[str, Any] | None:
    return cast(dict[str, Any], json.loads(out.read_text())) if out.exists() else None


async def start_emulator(out: Path, process: subprocess.Popen) -> dict[str, Any]:
    """Wait for the emulator's URL and grants (it writes them once it is serving)."""
    await wait_until(lambda: out.exists() or process.poll() is not None, START_TIMEOUT)
    grants = read_grants(out)
    if grants is None:
        raise RuntimeError(f"the emulator did not start (exit code {process.poll()})")
    return grants


# -- helper process: the bare Bolt app ----------------------------------------------------


def bare_app(settings: Settings) -> AsyncApp:
    """Configured as bot.app.build_bolt_app is, without middleware and with a listener that
    only acks."""
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=True,
        process_before_response=False,
    )

    @app.command("/dispute")
    async def handle(ack: Any) -> None:
        await ack()

    return app


async def serve_bare() -> None:
    settings = load_settings()
    # The bare app is served by exactly the app's Starlette handler and uvicorn configuration.
    server = asgi_server(create_http_app(bare_app(settings), None), settings.host, settings.port)
    threading.Thread(target=_exit_on_eof, args=(server,), daemon=True).start()
    await server.serve()


def _exit_on_eof(server: uvicorn.Server) -> None:
    sys.stdin.read()
    server.should_exit = True


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
    with contextlib.ExitStack() as stack:
        emu_proc = stack.enter_context(
            child(["bench.ack", "emulator", str(grants_file), str(needed)], clean_env(), tmp)
        )
        emulator = await start_emulator(grants_file, emu_proc)
        api = emulator["url"] + "/api/"
        common = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": secret}
        app_port, bare_port = free_port(), free_port()
        app_env = clean_env(
            **common,
            SLACK_API_URL=api,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'app.db'}",
            DISPUTES_CHANNEL="#disputes",
            PORT=str(app_port),
        )
        bare_env = clean_env(**common, SLACK_API_URL=api, PORT=str(bare_port))
        app_proc = stack.enter_context(child(["bot.cli", "serve"], app_env, tmp))
        bare_proc = stack.enter_context(child(["bench.ack", "bare"], bare_env, tmp))
        app_url, bare_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        await wait_listening(app_url, app_proc)
        await wait_listening(bare_url, bare_proc)

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


# -- part 2: command -> evidence card -------------------------------------------------------


class SlowSource:
    """An evidence source that takes `delay` seconds before answering."""

    def __init__(self, inner: EvidenceSource, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.name = inner.name
        self.kinds = inner.kinds

    async def collect(self, order: Order) -> list[EvidenceDraft]:
        await asyncio.sleep(self.delay)
        return await self.inner.collect(order)


def three_slow_sources() -> list[EvidenceSource]:
    sources = default_evidence_sources()
    return [SlowSource(s, SOURCE_DELAY) if i < 3 else s for i, s in enumerate(sources)]


@contextlib.asynccontextmanager
async def in_process_app(
    settings: Settings, evidence_sources: list[EvidenceSource] | None
) -> AsyncIterator[tuple[str, Runtime]]:
    runtime = await build_runtime(settings, evidence_sources=evidence_sources)
    server = http_server(runtime, "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or serving.done(), START_TIMEOUT)
        if not server.started:
            if serving.done():
                serving.result()  # surfaces why it could not start
            raise RuntimeError("the app did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        await runtime.aclose()


def card_posted(workspace: Workspace, order_id: str) -> bool:
    with workspace.lock:
        for message in workspace.messages[CHANNEL]:
            if not message.is_reply or not message.blocks:
                continue
            head = message.blocks[0]
            text = head.get("text", {}).get("text", "") if head.get("type") == "header" else ""
            if text.startswith("Evidence ·") and text.endswith(order_id):
                return True
    return False


async def time_to_card(
    driver: SlackDriver, workspace: Workspace, runtime: Runtime, order_id: str
) -> float | None:
    started = time.perf_counter()
    await driver.command(f"open {order_id} damaged box arrived crushed")
    seen = await wait_until(lambda: card_posted(workspace, order_id), CARD_TIMEOUT, 0.01)
    took = time.perf_counter() - started
    await asyncio.wait_for(runtime.queue.join(), CARD_TIMEOUT)  # start the next one clean
    return took if seen else None


async def card_setting(
    label: str,
    emulator: EmulatorServer,
    folder: Path,
    orders: list[str],
    *,
    order_source: str | None = None,
    evidence_sources: list[EvidenceSource] | None = None,
) -> None:
    secret = secrets.token_hex(16)
    overrides: dict[str, object] = {"order_source": order_source} if order_source else {}
    settings = load_settings(
        slack_bot_token=emulator.workspace.bot_token,
        slack_signing_secret=secret,
        slack_app_token=None,
        slack_api_url=emulator.api_url,
        database_url=f"sqlite+aiosqlite:///{folder / 'app.db'}",
        disputes_channel="#disputes",
        port=0,
        **overrides,
    )
    async with (
        in_process_app(settings, evidence_sources) as (url, runtime),
        SlackDriver(url, secret, emulator.workspace, emulator.base_url) as driver,
    ):
        warm, *measured = orders
        await time_to_card(driver, emulator.workspace, runtime, warm)
        times = [await time_to_card(driver, emulator.workspace, runtime, o) for o in measured]
    report_cards(label, times)


def report_cards(label: str, times: list[float | None]) -> None:
    seen = [t for t in times if t is not None]
    target = 1.5 * SOURCE_DELAY + 0.3
    print(f"  {label}")
    if not seen:
        print(f"    no evidence card within {CARD_TIMEOUT:g} s")
        return
    worst = max(seen)
    print(
        f"    median {ms(statistics.median(seen))}  max {ms(worst)}  ({len(seen)}/{len(times)}"
        f" cards)  target <= {target * 1000:.0f} ms ({verdict(worst <= target)});"
        f" sequential sum of sources {3 * SOURCE_DELAY * 1000:.0f} ms"
    )


async def card_benchmark(tmp: Path) -> None:
    print(f"\n== 2. Command -> evidence card, {CARD_RUNS} sequential commands (app in-process)")
    ids = sorted(path.stem for path in FIXTURES.glob("ORD-*.json"))
    async with EmulatorServer(Workspace.default()) as emulator:
        service = create_order_service(FIXTURES, latency=SOURCE_DELAY)
        async with OrderServiceServer(service) as orders_url:
            await card_setting(
                f"(a) http: order system answering in {SOURCE_DELAY * 1000:.0f} ms",
                emulator,
                tmp / "a",
                ids[: CARD_RUNS + 1],
                order_source=f"http:{orders_url}",
            )
        await card_setting(
            f"(b) three evidence sources taking {SOURCE_DELAY * 1000:.0f} ms each",
            emulator,
            tmp / "b",
            ids[CARD_RUNS + 1 : 2 * CARD_RUNS + 2],
            evidence_sources=three_slow_sources(),
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["emulator"]:
        run_emulator(Path(args[1]), int(args[2]))
    elif args[:1] == ["bare"]:
        asyncio.run(serve_bare())
    else:
        asyncio.run(run_all())
    return 0


if __name__ == "__main__":
    sys.exit(main())
