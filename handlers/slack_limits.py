"""Slack's rate limits, waited out per key (a Web API method, or a method and a channel): after
a 429 the key pauses for its Retry-After, calls behind it queue in order and then go one at a
time, and no call waits longer than its patience. An optional budget spaces the posts into
each channel before Slack has to say so. Knows nothing of HTTP: `RateGate.call` runs any call
and asks `retry_after` whether its error was a 429."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str | None]  # a Web API method, and the channel for the posting methods

_patience: ContextVar[float | None] = ContextVar("slack_patience", default=None)


@contextlib.contextmanager
def patience(seconds: float | None) -> Iterator[None]:
    """Slack calls made inside wait at most `seconds` for a rate limit (None: the gate's
    own limit), so a person waiting for an answer hears back soon."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


class Clock(Protocol):
    def now(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GaveUp(Exception):
    """A call was not sent: Slack's limit would have kept it waiting past its patience."""

    def __init__(self, key: Key, waited: float, more: float, last: BaseException | None) -> None:
        method, channel = key
        where = f" in {channel}" if channel else ""
        super().__init__(
            f"gave up on {method}{where} after waiting {waited:.1f} s for Slack's rate limit "
            f"({more:.1f} s more to wait)"
        )
        self.key = key
        self.last = last  # the 429 that paused the key, when there was one


@dataclass
class LimitCounters:
    """What the limits cost, by Web API method: 429s met, calls that waited and for how long,
    calls given up. Plain numbers for whoever exports them."""

    ratelimited: Counter[str] = field(default_factory=Counter)
    waits: Counter[str] = field(default_factory=Counter)
    waited_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    gave_up: Counter[str] = field(default_factory=Counter)
    # Told of each 429 by method (the app's metrics listen here).
    listeners: list[Callable[[str], None]] = field(default_factory=list)

    def met_429(self, method: str) -> None:
        self.ratelimited[method] += 1
        for listener in self.listeners:
            listener(method)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """{"ratelimited": {method: n}, "waits": …, "waited_seconds": …, "gave_up": …}"""
        return {
            "ratelimited": dict(self.ratelimited),
            "waits": dict(self.waits),
            "waited_seconds": dict(self.waited_seconds),
            "gave_up": dict(self.gave_up),
        }


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; a reservation may run the bucket below
    zero, and waits until its token exists."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self, now: float) -> float:
        """How long a reservation made now would wait."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def reserve(self, now: float) -> float:
        """Take the next token; how long to wait for it."""
        wait = self.delay(now)
        self.tokens -= 1.0
        return wait


@dataclass
class _Lane:
    """The state of one key."""

    paused_until: float = 0.0
    # After a pause: one call at a time until nobody waits, so the queue does not rush Slack.
    probing: bool = False
    in_flight: int = 0
    queue: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None
    last: BaseException | None = None  # the 429 that paused it

    def idle(self, now: float) -> bool:
        return not self.in_flight and not self.queue and now >= self.paused_until


@dataclass(frozen=True, slots=True)
class _Call:
    key: Key
    ticket: int
    start: float
    deadline: float
    hurried: bool  # its patience is shorter than the gate's own


RetryAfter = Callable[[BaseException], float | None]


class RateGate:
    """Runs calls through per-key lanes. `retry_after(error)` says whether an error was
    Slack's 429 and how long it asked to wait (None: any other error, raised as it is). A call
    is sent again only after a 429, which Slack never acted on."""

    def __init__(
        self,
        retry_after: RetryAfter,
        *,
        max_wait: float = 60.0,
        post_rate: float | None = None,
        clock: Clock | None = None,
        counters: LimitCounters | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.max_wait = max_wait
        self.post_rate = post_rate
        self.clock = clock or LoopClock()
        self.counters = counters or LimitCounters()
        self._lanes: dict[Key, _Lane] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._tickets = itertools.count()

    async def call(
        self,
        key: Key,
        send: Callable[[], Awaitable[T]],
        *,
        patience: float | None = None,
        budget: str | None = None,
    ) -> T:
        """`send()` once its key lets it go; again after each 429, until its patience (the
        smallest of `patience`, the caller's `patience()` and `max_wait`) runs out. `budget`
        names the channel whose posting budget (`post_rate`) the call spends."""
        limits = [p for p in (patience, _patience.get(), self.max_wait) if p is not None]
        now = self.clock.now()
        # A call sent again after a 429 keeps its ticket: its place in line.
        call = _Call(key, next(self._tickets), now, now + min(limits), min(limits) < self.max_wait)
        lane = self._lanes.setdefault(key, _Lane())
        try:
            while True:
                await self._enter(lane, call)
                try:
                    if budget is not None and self.post_rate:
                        await self._spend(call, budget)
                    result = await send()
                except Exception as exc:
                    seconds = self.retry_after(exc)
                    if seconds is None:
                        raise
                    self._pause(lane, key, seconds, exc)
                    continue
                finally:
                    self._leave(lane)
                return result
        finally:
            waited = self.clock.now() - call.start
            if waited > 0.001:
                self.counters.waits[key[0]] += 1
                self.counters.waited_seconds[key[0]] += waited
            if self._lanes.get(key) is lane and lane.idle(self.clock.now()):
                del self._lanes[key]

    async def _enter(self, lane: _Lane, call: _Call) -> None:
        """Return holding a turn in the lane (counted in `in_flight`)."""
        now = self.clock.now()
        if now >= lane.paused_until and not lane.probing and not lane.queue:
            lane.in_flight += 1
            return
        if lane.paused_until > call.deadline:
            raise self._give_up(call, lane.paused_until - now, lane.last)
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(lane.queue, (call.ticket, turn))
        self._release(lane)
        timer = asyncio.ensure_future(self.clock.sleep(max(call.deadline - now, 0.0)))
        try:
            await asyncio.wait({turn, timer}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled while waiting: give back a turn just given
            if turn.done() and not turn.cancelled():
                self._leave(lane)
            raise
        finally:
            timer.cancel()
            if not turn.done():
                turn.cancel()  # the lane skips it
        if turn.cancelled():
            more = max(lane.paused_until - self.clock.now(), 0.0)
            raise self._give_up(call, more, lane.last)

    async def _spend(self, call: _Call, channel: str) -> None:
        assert self.post_rate is not None
        now = self.clock.now()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = TokenBucket(self.post_rate, self.post_rate, now)
        wait = bucket.delay(now)
        if now + wait > call.deadline:
            raise self._give_up(call, wait, None)
        bucket.reserve(now)
        if wait > 0:
            await self.clock.sleep(wait)

    def _leave(self, lane: _Lane) -> None:
        lane.in_flight -= 1
        self._release(lane)

    def _pause(self, lane: _Lane, key: Key, seconds: float, error: BaseException) -> None:
        now = self.clock.now()
        self.counters.met_429(key[0])
        until = now + max(seconds, 0.0)
        if not lane.probing or until > lane.paused_until:
            method, channel = key
            log.info(
                "Slack rate-limited %s%s: waiting %.1f s (%d calls waiting)",
                method,
                f" in {channel}" if channel else "",
                seconds,
                len(lane.queue),
            )
        lane.paused_until = max(lane.paused_until, until)
        lane.probing = True
        lane.last = error

    def _release(self, lane: _Lane) -> None:
        """Let the next calls go, if the lane is not paused: all of them, or while probing
        one at a time (the next when the one in flight is done)."""
        now = self.clock.now()
        if now < lane.paused_until:
            if lane.timer is None or lane.timer.done():
                lane.timer = asyncio.ensure_future(self._reopen(lane, lane.paused_until - now))
            return
        lane.queue = [entry for entry in lane.queue if not entry[1].done()]  # gave up
        heapq.heapify(lane.queue)
        while lane.queue and not (lane.probing and lane.in_flight):
            _, turn = heapq.heappop(lane.queue)
            lane.in_flight += 1
            turn.set_result(None)
        if lane.probing and not lane.queue and not lane.in_flight:
            lane.probing = False

    async def _reopen(self, lane: _Lane, after: float) -> None:
        await self.clock.sleep(after)
        lane.timer = None
        self._release(lane)
        if lane.idle(self.clock.now()):  # everybody waiting gave up: forget the lane
            for key, known in list(self._lanes.items()):
                if known is lane:
                    del self._lanes[key]

    def _give_up(self, call: _Call, more: float, last: BaseException | None) -> GaveUp:
        self.counters.gave_up[call.key[0]] += 1
        error = GaveUp(call.key, self.clock.now() - call.start, more, last)
        if call.hurried:  # giving up before the gate's own limit is the caller's choice
            log.warning("%s: the caller does not wait longer", error)
        else:
            log.error("%s", error)
        return error
