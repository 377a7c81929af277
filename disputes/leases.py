"""Fenced leases: a scheduled job runs once per cluster while every replica schedules it.

Each job has a row in `scheduler_leases` that one replica holds at a time, until `expires_at`.
Taking it over once it lapsed raises its `fence`, and every write the job makes first checks,
in its own transaction, that this replica still holds the lease with the same fence: a replica
that paused past its lease cannot write after another took over.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database, on_postgresql
from storage.tables import SchedulerLeaseRow


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LostLease(Exception):
    """Another replica holds the lease now: this one stops writing."""


class Lease:
    """The lease called `name`, as one replica (`holder`) takes, holds and gives it up."""

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        holder: str | None = None,
        lease_for: timedelta = timedelta(seconds=60),
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder or default_holder()
        self.lease_for = lease_for
        self.fence: int | None = None  # of the last lease taken

    async def take(self, now: datetime) -> int | None:
        """The fence of the lease this replica now holds (renewed until `now + lease_for`), or
        None while another replica holds it."""

        async def work(session: AsyncSession) -> int | None:
            lease = await self._lock(session)
            if lease.holder == self.holder and lease.expires_at and lease.expires_at > now:
                lease.expires_at = now + self.lease_for
                return lease.fence
            if lease.expires_at is not None and lease.expires_at > now:
                return None
            lease.holder = self.holder
            lease.fence += 1
            lease.expires_at = now + self.lease_for
            return lease.fence

        fence = await self.db.run(work)
        self.fence = fence
        return fence

    async def hold(self, session: AsyncSession, fence: int) -> None:
        """Raise `LostLease` unless this replica still holds the lease with `fence`; on
        PostgreSQL the row stays locked until `session`'s transaction ends."""
        lease = await self._lock(session)
        if lease.holder != self.holder or lease.fence != fence:
            raise LostLease(lease.holder)

    async def release(self) -> None:
        """Give the lease up (at shutdown), so another replica runs the job without waiting
        for it to lapse."""

        async def work(session: AsyncSession) -> None:
            lease = await self._lock(session)
            if lease.holder == self.holder:
                lease.expires_at = None

        await self.db.run(work)

    async def _lock(self, session: AsyncSession) -> SchedulerLeaseRow:
        query = select(SchedulerLeaseRow).where(SchedulerLeaseRow.name == self.name)
        if on_postgresql(session):
            query = query.with_for_update()
        lease = await session.scalar(query)
        if lease is None:
            lease = SchedulerLeaseRow(name=self.name, holder=None, fence=0, expires_at=None)
            session.add(lease)
            # Two first replicas: one inserts, the other retries (`Database.run`) and reads it.
            await session.flush()
        return lease
