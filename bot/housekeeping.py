"""Periodic chores of a running app, each failing alone without stopping the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from storage.db import Database
from storage.requests import forget_requests_before

log = logging.getLogger(__name__)

# Slack gives up retrying within minutes and signatures expire after 5: a day is ample.
REQUEST_MEMORY = timedelta(days=1)


class Housekeeping:
    def __init__(self, db: Database, *, every: timedelta = timedelta(hours=1)) -> None:
        self.db = db
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        try:
            forgotten = await forget_requests_before(self.db, REQUEST_MEMORY)
        except Exception:
            log.exception("could not forget old Slack request keys")
            return
        if forgotten:
            log.info("forgot %d Slack request keys older than a day", forgotten)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.every.total_seconds())
