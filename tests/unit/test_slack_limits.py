"""`RateGate` on a fake clock: 429s pause their key for Retry-After, calls behind it queue and
go in order, other keys go on, nobody waits past their patience, and the posting budget spaces
posts into a channel."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handlers.slack_limits import GaveUp, RateGate, TokenBucket, patience

POST = "chat.postMessage"


class FakeClock:
    """Time moves only in `advance`, waking the sleepers due on the way in order."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), done))
        await done

    async def advance(self, seconds: float) -> None:
        end = self.t + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            when, _, done = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not done.done():
                done.set_result(None)
            await settle()
        self.t = end
        await settle()


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class Limited(Exception):
    """Slack's 429 in these tests."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"429, retry after {seconds}")
        self.seconds = seconds


def retry_after(error: BaseException) -> float | None:
    return error.seconds if isinstance(error, Limited) else None


class FakeSlack:
    """Answers each call from the answers planned for its name (then "ok"), and notes the time
    of every call it receives."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.plans: dict[str, list[BaseException]] = {}
        self.received: list[tuple[str, float]] = []

    def plan(self, name: str, *answers: BaseException) -> None:
        self.plans.setdefault(name, []).extend(answers)

    def send(self, name: str) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            self.received.append((name, self.clock.now()))
            await asyncio.sleep(0)  # in flight: others may be sent meanwhile
            planned = self.plans.get(name)
            if planned:
                raise planned.pop(0)
            return name

        return call

    def times(self, name: str) -> list[float]:
        return [t for n, t in self.received if n == name]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slack(clock: FakeClock) -> FakeSlack:
    return FakeSlack(clock)


def gate_on(clock: FakeClock, **kw: Any) -> RateGate:
    return RateGate(retry_after, clock=clock, **kw)


def start(gate: RateGate, key: tuple[str, str | None], call: Any, **kw: Any) -> asyncio.Task:
    return asyncio.ensure_future(gate.call(key, call, **kw))


async def test_a_429_pauses_for_retry_after_then_the_call_goes_again(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock)
    slack.plan("a", Limited(2))
    task = start(gate, (POST, "C1"), slack.send("a"))
    await clock.advance(1.9)
    assert not task.done() and slack.times("a") == [0.0]
    await clock.advance(0.2)
    assert await task == "a"
    assert slack.times("a") == [0.0, 2.0]
    counted = gate.counters.snapshot()
    assert counted["ratelimited"] == {POST: 1} and counted["waits"] == {POST: 1}
    assert counted["waited_seconds"][POST] == pytest.approx(2.0)
    assert counted["gave_up"] == {}


async def test_calls_behind_a_pause_queue_then_go_in_order_one_at_a_time(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock)
    slack.plan("first", Limited(3))
    first = start(gate, (POST, "C1"), slack.send("first"))
    await clock.advance(0.5)
    rest = [start(gate, (POST, "C1"), slack.send(name)) for name in ("second", "third")]
    await clock.advance(2.0)
    assert [n for n, _ in slack.received] == ["first"]  # nothing is sent into the pause
    await clock.advance(1.0)
    assert await asyncio.gather(first, *rest) == ["first", "second", "third"]
    assert [n for n, _ in slack.received] == ["first", "first", "second", "third"]
    assert {t for _, t in slack.received[1:]} == {3.0}  # they all waited out the same pause
    assert gate.counters.ratelimited[POST] == 1 and gate.counters.waits[POST] == 3
    assert not gate._lanes  # nothing left behind


async def test_a_429_met_while_probing_pauses_the_queue_again(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock)
    slack.plan("a", Limited(1))
    slack.plan("b", Limited(2))
    slack.plan("c", Limited(1))
    tasks = [start(gate, (POST, "C1"), slack.send(name)) for name in "abc"]
    await clock.advance(0)
    assert [n for n, _ in slack.received] == ["a", "b", "c"]  # no limit known yet: all go
    await clock.advance(10)
    assert await asyncio.gather(*tasks) == ["a", "b", "c"]
    # a and c were refused for 1 s, b for 2 s: the key waits for the longest, then lets one
    # call go at a time, oldest first.
    assert slack.received[3:] == [("a", 2.0), ("b", 2.0), ("c", 2.0)]
    assert gate.counters.ratelimited[POST] == 3


async def test_one_busy_channel_or_method_holds_back_no_other(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock)
    slack.plan("busy", Limited(30))
    busy = start(gate, (POST, "C1"), slack.send("busy"))
    await clock.advance(1)
    other_channel = await gate.call((POST, "C2"), slack.send("other channel"))
    other_method = await gate.call(("chat.update", "C1"), slack.send("other method"))
    assert (other_channel, other_method) == ("other channel", "other method")
    assert slack.times("other channel") == slack.times("other method") == [1.0]
    await clock.advance(30)
    assert await busy == "busy"


async def test_a_call_gives_up_at_once_when_the_pause_outlasts_its_patience(
    clock: FakeClock, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    gate = gate_on(clock, max_wait=60)
    slack.plan("a", Limited(30))
    with pytest.raises(GaveUp) as gave_up:
        await gate.call((POST, "C1"), slack.send("a"), patience=5)
    assert isinstance(gave_up.value.last, Limited)
    assert slack.times("a") == [0.0]  # sent once, never again
    # The caller chose to wait less than the gate would: a warning, not an error.
    assert [r.levelname for r in caplog.records if "gave up" in r.message] == ["WARNING"]
    assert "gave up on chat.postMessage in C1" in caplog.text
    # A call that may wait a minute waits the pause out instead.
    waiting = start(gate, (POST, "C1"), slack.send("b"))
    await clock.advance(30)
    assert await waiting == "b"
    assert gate.counters.gave_up[POST] == 1


async def test_a_queued_call_gives_up_when_its_patience_ends_and_is_never_sent(
    clock: FakeClock, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    gate = gate_on(clock, max_wait=10)
    slack.plan("a", Limited(8), Limited(8))
    first = start(gate, (POST, "C1"), slack.send("a"))
    await clock.advance(1)
    second = start(gate, (POST, "C1"), slack.send("b"))  # deadline 11, pause ends at 8
    await clock.advance(7)  # at 8: a goes again and is refused till 16, past b's deadline
    await clock.advance(3)
    assert second.done() and isinstance(second.exception(), GaveUp)
    assert isinstance(first.exception(), GaveUp)  # refused again till 16, past its own 10 s
    assert "ERROR" in caplog.text  # waiting the gate's whole limit in vain is an error
    assert slack.times("a") == [0.0, 8.0] and slack.times("b") == []
    await clock.advance(10)
    assert not gate._lanes  # the lane is dropped once its pause is over


async def test_patience_of_the_caller_narrows_the_wait(clock: FakeClock, slack: FakeSlack) -> None:
    gate = gate_on(clock, max_wait=60)
    slack.plan("a", Limited(10))
    with patience(3), pytest.raises(GaveUp):
        await gate.call((POST, "C1"), slack.send("a"))
    late = start(gate, (POST, "C1"), slack.send("a"))
    await clock.advance(10)
    assert await late == "a"


async def test_other_errors_are_raised_as_they_are_and_never_sent_again(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock)
    slack.plan("a", ValueError("channel_not_found"))
    with pytest.raises(ValueError):
        await gate.call((POST, "C1"), slack.send("a"))
    assert slack.times("a") == [0.0]
    assert gate.counters.snapshot()["ratelimited"] == {} and not gate._lanes


async def test_a_cancelled_waiter_leaves_no_turn_behind(clock: FakeClock, slack: FakeSlack) -> None:
    gate = gate_on(clock)
    slack.plan("a", Limited(2))
    first = start(gate, (POST, "C1"), slack.send("a"))
    await clock.advance(0.5)
    doomed = start(gate, (POST, "C1"), slack.send("doomed"))
    after = start(gate, (POST, "C1"), slack.send("after"))
    await clock.advance(0.5)
    doomed.cancel()
    await clock.advance(2)
    assert await first == "a" and await after == "after"
    assert slack.times("doomed") == [] and not gate._lanes


async def test_the_posting_budget_spaces_posts_into_each_channel(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock, post_rate=2.0)  # two a second, a burst of two
    tasks = [start(gate, (POST, "C1"), slack.send("C1"), budget="C1") for _ in range(5)]
    other = start(gate, (POST, "C2"), slack.send("C2"), budget="C2")
    await clock.advance(5)
    await asyncio.gather(*tasks, other)
    assert slack.times("C1") == [0.0, 0.0, 0.5, 1.0, 1.5]
    assert slack.times("C2") == [0.0]
    assert gate.counters.waits[POST] == 3


async def test_a_post_the_budget_would_hold_too_long_gives_up_unsent(
    clock: FakeClock, slack: FakeSlack
) -> None:
    gate = gate_on(clock, post_rate=0.1, max_wait=5)
    await gate.call((POST, "C1"), slack.send("a"), budget="C1")
    with pytest.raises(GaveUp) as gave_up:
        await gate.call((POST, "C1"), slack.send("b"), budget="C1")
    assert gave_up.value.last is None and slack.times("b") == []
    await clock.advance(10)
    assert await gate.call((POST, "C1"), slack.send("c"), budget="C1") == "c"


def test_a_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(rate=1.0, burst=3, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]
    assert bucket.delay(1.5) == pytest.approx(0.5)
    assert bucket.delay(100.0) == 0.0 and bucket.tokens == 3
