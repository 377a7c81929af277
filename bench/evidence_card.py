"""How soon the evidence card follows a command.

Run from the project folder:  .venv/bin/python -m bench.evidence_card
(also the second part of `python -m bench.ack`; prints numbers, never asserts on them)

The app in this process (build_runtime + http_server) with the
emulator; 10 sequential commands for distinct orders, timed from sending the command until
the "Evidence ·" reply is in the thread (polled every 10 ms): (a) orders from an `http:`
order system answering in 200 ms, (b) three evidence sources taking 200 ms each. Target:
1.5 x slowest source + 300 ms = 600 ms; 3 x 200 ms is what asking them one by one would cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.common import CHANNEL, FIXTURES, START_TIMEOUT, ms, verdict, wait_until
from bot.demo_world import ROLES as DEMO_ROLES
from bot.runtime import Runtime, build_runtime
from bot.serve import http_server
from bot.settings import Settings, load_settings
from connectors.evidence_source import EvidenceSource
from connectors.orders.evidence_sources import default_evidence_sources
from domain.evidence import EvidenceDraft
from domain.orders import Order
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.world.order_service import OrderServiceServer, create_order_service

CARD_RUNS = 10
SOURCE_DELAY = 0.2
CARD_TIMEOUT = 10.0
TOTAL_TIMEOUT = 60.0


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
    roles = write_roles(folder)
    settings = load_settings(
        slack_bot_token=emulator.workspace.bot_token,
        slack_signing_secret=secret,
        slack_app_token=None,
        slack_api_url=emulator.api_url,
        database_url=f"sqlite+aiosqlite:///{folder / 'app.db'}",
        disputes_channel="#disputes",
        roles_file=roles,
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


def write_roles(folder: Path) -> Path:
    """The demo's roles file in `folder`: the sandbox's people may open disputes."""
    folder.mkdir(parents=True, exist_ok=True)
    roles = folder / "roles.yml"
    roles.write_text(DEMO_ROLES)
    return roles


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


async def run() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dd-bench-") as name:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            await card_benchmark(Path(name))
    print(f"\n(ran in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs)")


def main() -> int:
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
