"""Slack's rate limits end to end: the emulator answers 429 per channel and per method (its
limits scaled up so the scenarios fit in seconds), the app waits them out, posts late threads
by itself, and coalesces card updates."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.orders.factory import default_fixtures_path
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import SlackLimits, Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

CHANNEL = "C0DISPUTES"
PEOPLE = ("U0AGENT", "U0MANAGER1", "U0MANAGER2", "U0SUPER")
BURST = 200
# Twenty times Slack's limits: twenty posts a second into a channel, 1,000 chat.update a minute.
SCALE = 20.0
# Longer than a command waits for a thread (5 s): the threads asked for meanwhile are late.
LONG_PAUSE = 6


def write_orders(folder: Path, prefix: str, count: int) -> list[str]:
    """`count` copies of a demo order, each with its own id and payment; their ids."""
    base = json.loads((default_fixtures_path() / "ORD-1001.json").read_text())
    ids = []
    for n in range(count):
        order = copy.deepcopy(base)
        order["order_id"] = f"{prefix}{n:03d}"
        order["payment"]["reference"] = f"pi_{prefix.lower().replace('-', '_')}{n:03d}"
        (folder / f"{order['order_id']}.json").write_text(json.dumps(order))
        ids.append(order["order_id"])
    return ids


def parents_of(ws: Workspace, order_ids: list[str]) -> dict[str, list[str]]:
    """The parent messages posted for each order: their ts."""
    found: dict[str, list[str]] = {order: [] for order in order_ids}
    for message in ws.history(CHANNEL):
        parts = message.text.split(" · ")
        if len(parts) > 1 and parts[1] in found:
            found[parts[1]].append(message.ts)
    return found


def complete(ws: Workspace, order_ids: list[str]) -> bool:
    """Every order has its thread: one parent, with its evidence and policy cards."""
    parents = parents_of(ws, order_ids)
    return all(
        len(found) == 1 and len(ws.thread(CHANNEL, found[0])) == 3 for found in parents.values()
    )


def answers(ws: Workspace, order_ids: list[str]) -> dict[str, list[str]]:
    """What each order's opener was told, through the command's response_url."""
    told: dict[str, list[str]] = {order: [] for order in order_ids}
    for ephemeral in ws.ephemerals:
        for order in order_ids:
            if f"for {order}" in ephemeral.text:
                told[order].append(ephemeral.text)
    return told


async def open_all(
    slack: SlackDriver, order_ids: list[str], *, at_once: int = 50
) -> list[tuple[int, float]]:
    """`/dispute open` for every order, `at_once` in flight: each ack's status and seconds."""
    gate = asyncio.Semaphore(at_once)

    async def one(n: int, order: str) -> tuple[int, float]:
        async with gate:
            began = time.monotonic()
            response = await slack.command(f"open {order}", user=PEOPLE[n % len(PEOPLE)])
            return response.status_code, time.monotonic() - began

    return await asyncio.gather(*(one(n, order) for n, order in enumerate(order_ids)))


@pytest.fixture
def limits(workspace: Workspace) -> Iterator[Workspace]:
    """Slack's limits in the emulator, scaled up, for one test."""
    workspace.set_limits(SlackLimits.slack(scale=SCALE))
    yield workspace
    workspace.set_limits(None)
    workspace.ratelimits.clear()


def thread_rows(app: AppProcess) -> list[tuple[object, ...]]:
    with sqlite3.connect(app.database) as db:
        return db.execute("SELECT number, thread_ts, thread_due_at FROM disputes").fetchall()


async def test_a_burst_of_opens_into_one_channel_ends_with_every_thread_posted_once(
    emulator: EmulatorServer, limits: Workspace, tmp_path: Path
) -> None:
    workspace = limits
    order_ids = write_orders(tmp_path, "ORD-B", BURST)
    with app_process(
        tmp_path / "app", emulator.api_url, ORDER_SOURCE=f"fixtures:{tmp_path}"
    ) as app:
        async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
            # Early in the burst Slack asks for a pause longer than a command waits.
            workspace.arm_ratelimit("chat.postMessage", retry_after=LONG_PAUSE, times=1)
            acks = await open_all(slack, order_ids)
            assert {status for status, _ in acks} == {200}
            assert max(seconds for _, seconds in acks) < 3.0  # every command acked in time
            await eventually(lambda: complete(workspace, order_ids), within=120)
            told = await eventually(
                lambda: (found := answers(workspace, order_ids)) and all(found.values()) and found,
                within=30,
            )
        rows = thread_rows(app)
        output = app.output()

    # 200 disputes, 200 threads, each parent posted once: nothing lost, nothing twice.
    assert len(rows) == BURST and all(ts for _, ts, _ in rows) and not any(d for _, _, d in rows)
    assert len({ts for _, ts, _ in rows}) == BURST
    posted = [p for p in workspace.calls_to("chat.postMessage") if not p.get("thread_ts")]
    per_order = Counter(p["text"].split(" · ")[1] for p in posted if " · ORD-B" in p["text"])
    assert set(per_order) == set(order_ids) and set(per_order.values()) == {1}
    # Every opener was told once: their dispute's link, or that its thread was late.
    assert all(len(texts) == 1 for texts in told.values())
    late = [order for order, (text,) in told.items() if "is late" in text]
    assert late, "the long pause made no thread late"
    assert all("Opened D-" in text for order, (text,) in told.items() if order not in late)
    # The app met Slack's 429s in the channel, waited them out, and gave up on none but the
    # posts a command would have waited too long for (the thread outbox posted those).
    assert "Slack rate-limited chat.postMessage in C0DISPUTES" in output
    assert "gave up on chat.postMessage in C0DISPUTES" in output
    assert "ERROR" not in output


async def test_a_burst_of_notes_updates_the_cards_a_few_times_showing_the_last(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    await slack.command("open ORD-1005", user="U0MANAGER1")
    await eventually(lambda: complete(workspace, ["ORD-1005"]))
    (parent,) = parents_of(workspace, ["ORD-1005"])["ORD-1005"]
    card = workspace.thread(CHANNEL, parent)[1]
    await asyncio.sleep(1.2)  # the thread's first updates are over

    def card_updates() -> int:
        return sum(1 for p in workspace.calls_to("chat.update") if p.get("ts") == card.ts)

    before = card_updates()
    for n in range(30):  # thirty replies in the thread, each filed as a note
        await slack.post_message(CHANNEL, PEOPLE[n % 4], f"note {n}", thread_ts=parent)
    shown = await eventually(
        lambda: "Notes: 30" in json.dumps(workspace.message(CHANNEL, card.ts).blocks), within=20
    )
    assert shown
    await asyncio.sleep(1.5)  # any update still due has gone out
    updates = card_updates() - before
    assert 1 <= updates <= 6, f"{updates} updates of the evidence card for 30 notes"
    assert "Notes: 30" in json.dumps(workspace.message(CHANNEL, card.ts).blocks)


async def test_the_emulators_limits_are_switched_over_http(emulator: EmulatorServer) -> None:
    async with httpx.AsyncClient(base_url=emulator.base_url) as http:
        turned = await http.post("/_sandbox/limits", json={"scale": SCALE})
        assert turned.json()["limits"]["scale"] == SCALE
        off = await http.post("/_sandbox/limits", json={"off": True})
        assert off.json()["limits"] is None
