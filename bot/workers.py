"""A bounded pool of workers for the slow part of a Slack request, after its ack."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class AckGate:
    """Tracks Slack requests waiting for their ack, so background work can step aside.

    Work waits until no request is in flight and none arrived for `settle` seconds: during a
    burst, requests still queued in the server are not counted yet, but they keep coming.
    """

    def __init__(self, settle: float = 0.05) -> None:
        self.settle = settle
        self._in_flight = 0
        self._last_arrival = -settle

    def enter(self) -> None:
        self._in_flight += 1
        self._last_arrival = asyncio.get_running_loop().time()

    def leave(self) -> None:
        self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Requests waiting for their ack now."""
        return self._in_flight

    def is_quiet(self) -> bool:
        now = asyncio.get_running_loop().time()
        return self._in_flight == 0 and now - self._last_arrival >= self.settle

    async def wait_quiet(self, patience: float) -> None:
        """Return when acks are quiet, or after `patience` seconds so work never starves."""
        deadline = asyncio.get_running_loop().time() + patience
        # Polled: "quiet" depends on time since the last arrival, which no event signals.
        while not self.is_quiet() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(self.settle / 2)


class WorkQueue:
    """`submit` never blocks the ack; at most `workers` jobs run at once, and a new job
    starts only when no ack is pending (or after `patience`), so a burst of commands
    is acknowledged before the work behind it competes for the event loop. A job runs in a
    copy of the context it was submitted from (the request id of its log lines)."""

    def __init__(self, workers: int, *, gate: AckGate | None = None, patience: float = 1.0) -> None:
        self.workers = workers
        self.gate = gate or AckGate()
        self.patience = patience
        self._queue: asyncio.Queue[tuple[Job, contextvars.Context] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._pending = 0

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work(n)) for n in range(self.workers)]

    def submit(self, job: Job) -> None:
        self._pending += 1
        self._idle.clear()
        self._queue.put_nowait((job, contextvars.copy_context()))

    @property
    def depth(self) -> int:
        """Jobs submitted and not finished: waiting for a worker or running."""
        return self._pending

    async def join(self) -> None:
        """Wait until every submitted job has finished."""
        await self._idle.wait()

    async def stop(self, *, drain_timeout: float = 10.0) -> None:
        """Let the submitted jobs finish, for at most `drain_timeout` seconds; then cancel what
        still runs and drop what is still queued, with a warning."""
        try:
            await asyncio.wait_for(self.join(), drain_timeout)
        except TimeoutError:
            log.warning("stopping with %d jobs unfinished", self._pending)
            for task in self._tasks:
                task.cancel()
        else:
            for _ in self._tasks:
                self._queue.put_nowait(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self, number: int) -> None:
        while (item := await self._queue.get()) is not None:
            job, context = item
            try:
                await self.gate.wait_quiet(self.patience)
                await asyncio.create_task(_call(job), context=context)
            except Exception:
                log.exception("background job failed in worker %d", number)
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()


async def _call(job: Job) -> None:
    await job()
