"""The refunds bench's trouble: faults planned on the fault-injecting proxy, and workers killed.

`FaultMix` says, per request and by chance, which fault `tests.support.faulty_stripe` applies to
it. A replica's gateway (`WiredGateway`) rolls the mix just before each call and plans the fault
on the proxy, so the fault lands on the next request of that kind to reach the proxy (with four
workers sending at once, that may be another worker's: the rate is what matters). The proxy's
log says what was injected; the gateway counts what the workers were told.

`Replicas` are the refund workers, one engine and one gateway each; `Kills` cancels the task of
the worker that sent every n-th refund POST shortly after it went out, and starts a fresh
replica (engine, gateway, worker) in its place.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundResult,
    RefundUncertain,
)
from disputes.refund_worker import Notify, RefundWorker, Timings
from storage.db import Database
from tests.support.faulty_stripe import REFUND_LOOKUP, REFUND_POST, Fault, FaultyStripe

Roll = Callable[[random.Random], Fault | None]
LOOKUP_ERRORS = (400, 404, 409, 429, 500, 502, 503)


def never(rng: random.Random) -> Fault | None:
    return None


@dataclass(frozen=True)
class FaultMix:
    post: Roll = never
    lookup: Roll = never


def timeouts(rate: float) -> FaultMix:
    """`rate` of refund POSTs time out: half never forwarded, half after the provider acted."""

    def post(rng: random.Random) -> Fault | None:
        roll = rng.random()
        if roll < rate / 2:
            return Fault.drop_before()
        return Fault.lose_answer() if roll < rate else None

    return FaultMix(post=post)


def chaos(*, lost: float, delayed: float, late_by: float, after: float, lookups: float) -> FaultMix:
    """Refund POSTs: `lost` acted on but never answered, `delayed` acted on 0.05 s to
    `late_by` s after `after` (when the client gives up). `lookups` of the refund list answer
    a 4xx or 5xx."""

    def post(rng: random.Random) -> Fault | None:
        roll = rng.random()
        if roll < lost:
            return Fault.lose_answer()
        if roll < lost + delayed:
            return Fault.delay_effect(after + rng.uniform(0.05, late_by))
        return None

    def lookup(rng: random.Random) -> Fault | None:
        return Fault.status(rng.choice(LOOKUP_ERRORS)) if rng.random() < lookups else None

    return FaultMix(post=post, lookup=lookup)


class WiredGateway:
    """A replica's gateway: plans the mix's faults on the proxy, counts what the worker heard."""

    name = "stripe"

    def __init__(
        self,
        inner: RefundGateway,
        *,
        proxy: FaultyStripe | None,
        mix: FaultMix,
        rng: random.Random,
        heard: Counter[str],
        on_post: Callable[[WiredGateway], None],
    ) -> None:
        self.inner = inner
        self.proxy = proxy
        self.mix = mix
        self.rng = rng
        self.heard = heard
        self.on_post = on_post
        self.posting = False  # a refund POST is out and its answer not back
        self.last_sent: str | None = None  # the request id of the last refund POST

    def _plan(self, kind: str, roll: Roll) -> None:
        fault = roll(self.rng)
        if fault is not None and self.proxy is not None:
            self.proxy.plan(kind, fault)

    async def refund(self, order: RefundOrder) -> RefundResult:
        self._plan(REFUND_POST, self.mix.post)
        self.last_sent = order.request_id
        self.on_post(self)
        self.posting = True
        try:
            result = await self.inner.refund(order)
        except RefundError:
            self.heard["POST refused"] += 1
            raise
        except RefundUncertain:
            self.heard["POST unknown"] += 1
            raise
        finally:
            self.posting = False
        self.heard["POST answered"] += 1
        return result

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        self._plan(REFUND_LOOKUP, self.mix.lookup)
        try:
            refunds = await self.inner.refunds_on(payment_reference)
        except RefundUncertain:
            self.heard["look-up failed"] += 1
            raise
        self.heard["look-up answered"] += 1
        return refunds

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Replica:
    db: Database
    gateway: WiredGateway
    worker: RefundWorker


class Replicas:
    """`count` refund workers on one database, each with its own engine and gateway."""

    def __init__(
        self,
        url: str,
        count: int,
        *,
        gateway: Callable[[], WiredGateway],
        notify: Notify,
        timings: Timings,
    ) -> None:
        self.url = url
        self.make_gateway = gateway
        self.notify = notify
        self.timings = timings
        self.slots = [self._fresh() for _ in range(count)]

    def _fresh(self) -> Replica:
        db, gateway = Database(self.url), self.make_gateway()
        worker = RefundWorker(db, gateway, notify=self.notify, timings=self.timings)
        return Replica(db, gateway, worker)

    def start(self) -> None:
        for replica in self.slots:
            replica.worker.start()

    def wake(self, index: int) -> None:
        """The approving replica wakes its own worker after the commit."""
        self.slots[index % len(self.slots)].worker.wake()

    async def replace(self, replica: Replica) -> bool:
        """Cancel the replica's worker wherever it is, drop its engine and gateway as a dead
        process would, and start a fresh replica in its place. False if it was already gone."""
        if replica not in self.slots:
            return False
        index = self.slots.index(replica)
        await replica.worker.stop()
        fresh = self.slots[index] = self._fresh()
        fresh.worker.start()
        await _close(replica)
        return True

    async def stop(self) -> None:
        for replica in self.slots:
            await replica.worker.stop()
        for replica in self.slots:
            await _close(replica)


async def _close(replica: Replica) -> None:
    await replica.gateway.aclose()
    await replica.db.dispose()


@dataclass
class Kills:
    """Every `every`-th refund POST, the worker sending it is killed up to `within` s later."""

    every: int
    within: float
    rng: random.Random
    replicas: Replicas | None = None
    posts: int = 0
    stopped: bool = False
    done: Counter[str] = field(default_factory=Counter)
    victims: list[str] = field(default_factory=list)  # the request each killed worker sent
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def on_post(self, gateway: WiredGateway) -> None:
        self.posts += 1
        if self.every and not self.stopped and self.posts % self.every == 0:
            delay = self.rng.uniform(0, self.within)
            asyncio.get_running_loop().call_later(delay, self._kill, gateway)

    def _kill(self, gateway: WiredGateway) -> None:
        if self.stopped or self.replicas is None:
            return
        victim = next((r for r in self.replicas.slots if r.gateway is gateway), None)
        if victim is None:
            return
        when = "with its POST on the wire" if gateway.posting else "after its POST was answered"
        task = asyncio.create_task(self._replace(victim, when))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self, victim: Replica, when: str) -> None:
        assert self.replicas is not None
        if await self.replicas.replace(victim):
            self.done[when] += 1
            self.victims.append(victim.gateway.last_sent or "")

    @property
    def total(self) -> int:
        return sum(self.done.values())

    async def stop(self) -> None:
        """No more kills; wait for the replacements already under way."""
        self.stopped = True
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
