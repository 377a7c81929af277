"""A loop of work in the background of the app, woken early when there is something to do."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod


class WakeableLoop(ABC):
    """Runs `_loop` as a task from `start()` to `stop()`; `wake()` ends the current `pause`."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """There is work now: don't wait for the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    @abstractmethod
    async def _loop(self) -> None:
        """The work, forever: each pass, then `pause` until the next is due."""
