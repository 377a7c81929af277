"""One writer at a time for each dispute's Slack thread: within a process an asyncio lock, and
across replicas on PostgreSQL a transaction-scoped advisory lock held meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import Database

log = logging.getLogger(__name__)

# The first key of the two-key advisory locks on dispute threads ("th"); the second is the
# dispute's number. Two-key locks never collide with one-key (bigint) locks.
THREAD_LOCK_CLASS = 0x7468
_TAKE = text("SELECT pg_advisory_xact_lock(:kind, :number)")


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()

    @contextlib.asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def idle(self) -> bool:
        """Whether no lock is held or waited for."""
        return not self._locks


class ThreadLocks:
    """`hold(number)` serializes the read-render-post sequences of one dispute's thread. The
    process lock comes first, so a process waits for a dispute's advisory lock with one
    connection at most; those connections come from a small pool of their own, so holders never
    starve the work they do of connections. SQLite is one machine: the process lock suffices
    (the thread outbox's claims keep two processes from posting one thread)."""

    def __init__(
        self, db: Database | None = None, *, wait: float = 120.0, connections: int = 8
    ) -> None:
        self.local = KeyedLocks()
        self.db = db
        self.wait = wait  # seconds to wait for another replica's lock before giving up
        self.connections = connections
        self._engine: AsyncEngine | None = None

    @property
    def across_replicas(self) -> bool:
        return self.db is not None and not self.db.is_sqlite

    @contextlib.asynccontextmanager
    async def hold(self, number: int) -> AsyncIterator[None]:
        async with self.local.hold(number):
            if not self.across_replicas:
                yield
                return
            async with self._lock_engine().connect() as connection, connection.begin():
                await connection.execute(_TAKE, {"kind": THREAD_LOCK_CLASS, "number": number})
                yield

    def _lock_engine(self) -> AsyncEngine:
        if self._engine is None:
            assert self.db is not None
            # Its connections only take these locks: each waits `wait` seconds at most (a
            # replica stuck while holding one must not stop this one forever).
            timeout = {"lock_timeout": f"{round(self.wait * 1000)}ms"}
            self._engine = create_async_engine(
                self.db.url,
                pool_size=self.connections,
                max_overflow=self.connections,
                pool_timeout=self.wait,
                connect_args={"server_settings": timeout},
            )
        return self._engine

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
