"""`Coalescer`: a burst of requests for one key makes few runs, each showing the state when it
began (the last state wins), never more than an interval late; other keys are not held."""

from __future__ import annotations

import asyncio

import pytest

from handlers.coalesce import Coalescer

INTERVAL = 0.2


class Thread:
    """A stand-in for a dispute's thread: what each run saw, and when."""

    def __init__(self) -> None:
        self.state: dict[int, int] = {}
        self.runs: list[tuple[int, frozenset[str], int, float]] = []
        self.fail = False

    async def run(self, key: int, parts: frozenset[str]) -> int:
        seen = self.state.get(key, 0)
        self.runs.append((key, parts, seen, asyncio.get_running_loop().time()))
        await asyncio.sleep(0.01)  # the Slack calls
        if self.fail:
            raise RuntimeError("slack said no")
        return seen


async def test_a_lone_request_runs_at_once() -> None:
    thread = Thread()
    updates = Coalescer(thread.run, interval=INTERVAL)
    began = asyncio.get_running_loop().time()
    assert await updates.request(1, "cards") == 0
    assert thread.runs[0][3] - began < INTERVAL / 4


async def test_a_burst_makes_few_runs_and_the_last_state_wins() -> None:
    thread = Thread()
    updates = Coalescer(thread.run, interval=INTERVAL)

    async def change(n: int) -> int:
        thread.state[1] = n  # the change is committed, then its update asked for
        return await updates.request(1, "cards" if n % 2 else "parent")

    shown = await asyncio.gather(*(change(n) for n in range(1, 41)))
    assert len(thread.runs) <= 2  # the first at once, the rest together
    assert thread.runs[-1][2] == 40 and thread.runs[-1][1] == {"cards", "parent"}
    assert shown[-1] == 40 and all(seen <= 40 for seen in shown)
    # A change after those runs is shown by one more, an interval after the last began.
    await asyncio.sleep(INTERVAL / 4)
    thread.state[1] = 41
    assert await updates.request(1, "cards") == 41
    assert thread.runs[-1][3] - thread.runs[-2][3] == pytest.approx(INTERVAL, abs=0.05)


async def test_a_request_during_a_run_gets_the_next_run() -> None:
    thread = Thread()
    updates = Coalescer(thread.run, interval=INTERVAL)
    first = asyncio.create_task(updates.request(1, "cards"))
    await asyncio.sleep(0.005)  # the first run has read the state and is posting
    thread.state[1] = 7
    assert await updates.request(1, "cards") == 7  # never the state read before the change
    assert await first == 0 and len(thread.runs) == 2


async def test_keys_do_not_wait_for_each_other() -> None:
    thread = Thread()
    updates = Coalescer(thread.run, interval=INTERVAL)
    await updates.request(1, "cards")
    began = asyncio.get_running_loop().time()
    await updates.request(1, "cards")  # key 1 waits for its interval
    waited_one = asyncio.get_running_loop().time() - began
    began = asyncio.get_running_loop().time()
    await updates.request(2, "cards")
    assert waited_one > INTERVAL / 2 and asyncio.get_running_loop().time() - began < INTERVAL / 4


async def test_a_failed_run_fails_every_request_it_served_and_the_next_may_succeed() -> None:
    thread = Thread()
    updates = Coalescer(thread.run, interval=INTERVAL)
    thread.fail = True
    results = await asyncio.gather(
        *(updates.request(1, "cards") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results) and len(thread.runs) == 1
    thread.fail = False
    assert await updates.request(1, "cards") == 0
    await asyncio.sleep(INTERVAL * 1.5)
    assert updates.pending() == 0  # nothing is kept once the key is quiet
