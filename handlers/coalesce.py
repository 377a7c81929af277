"""Coalescing updates of one thing: at most one run per key and interval, the last state wins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass
class _Batch(Generic[R]):
    """The requests that the next run serves."""

    done: asyncio.Future[R]
    parts: set[str] = field(default_factory=set)


@dataclass
class _Slot(Generic[R]):
    last_run: float
    next: _Batch[R] | None = None
    runner: asyncio.Task[None] | None = None


class Coalescer(Generic[K, R]):
    """`request(key, part)` runs `run(key, parts)` on behalf of every request of that key that
    arrives until the run starts, and returns its result. A key's first request in a while runs
    at once; later ones share one run `interval` seconds after the previous run began. A run
    reads the state when it starts, so it shows every change made before the requests it
    serves: at most `interval` late, never older."""

    def __init__(
        self, run: Callable[[K, frozenset[str]], Awaitable[R]], *, interval: float = 1.0
    ) -> None:
        self.run = run
        self.interval = interval
        self._slots: dict[K, _Slot[R]] = {}

    async def request(self, key: K, part: str) -> R:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(last_run=loop.time() - self.interval)
        if slot.next is None:
            slot.next = _Batch(loop.create_future())
            # Read whether or not anybody still waits, so a failure is never "unretrieved".
            slot.next.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        slot.next.parts.add(part)
        batch = slot.next
        if slot.runner is None:
            slot.runner = asyncio.create_task(self._serve(key, slot))
        return await asyncio.shield(batch.done)

    def pending(self) -> int:
        """How many keys have a run waiting or under way."""
        return len(self._slots)

    async def _serve(self, key: K, slot: _Slot[R]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                wait = slot.last_run + self.interval - loop.time()
                if slot.next is None and wait <= 0:
                    return  # quiet for a whole interval: the next request runs at once
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                assert slot.next is not None
                batch, slot.next = slot.next, None
                slot.last_run = loop.time()
                try:
                    result = await self.run(key, frozenset(batch.parts))
                except asyncio.CancelledError:
                    batch.done.cancel()
                    raise
                except Exception as exc:
                    batch.done.set_exception(exc)
                else:
                    batch.done.set_result(result)
        except asyncio.CancelledError:
            if slot.next is not None:
                slot.next.done.cancel()
            raise
        finally:
            if self._slots.get(key) is slot:
                del self._slots[key]
