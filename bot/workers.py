"""A bounded pool of workers for the slow part of a Slack request, after its ack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class WorkQueue:
    """`submit` never blocks the ack; at most `workers` jobs run at once."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
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
        self._queue.put_nowait(job)

    async def join(self) -> None:
        """Wait until every submitted job has finished."""
        await self._idle.wait()

    async def stop(self, *, drain_timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.join(), drain_timeout)
        except TimeoutError:
            log.warning("stopping with %d jobs unfinished", self._pending)
        for _ in self._tasks:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self, number: int) -> None:
        while (job := await self._queue.get()) is not None:
            try:
                await job()
            except Exception:
                log.exception("background job failed in worker %d", number)
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()
