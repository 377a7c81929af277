"""Thread locks across replicas on PostgreSQL: one dispute's thread is changed by one replica
at a time, other disputes' are not held up, and a lock a stuck replica holds is waited for a
bounded time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from disputes.thread_locks import ThreadLocks
from storage.db import Database
from tests.conftest import _fresh_postgres_database


@pytest.mark.postgres
async def test_thread_locks_hold_across_replicas_on_postgresql(postgres_server: str) -> None:
    url = await _fresh_postgres_database(postgres_server)
    one, two = Database(url), Database(url)
    locks_one, locks_two = ThreadLocks(one), ThreadLocks(two)
    order: list[str] = []
    try:

        async def hold(locks: ThreadLocks, number: int, name: str, seconds: float) -> None:
            async with locks.hold(number):
                order.append(f"{name} in")
                await asyncio.sleep(seconds)
                order.append(f"{name} out")

        first = asyncio.create_task(hold(locks_one, 7, "one", 0.5))
        await asyncio.sleep(0.2)
        await asyncio.gather(hold(locks_two, 7, "two", 0), hold(locks_two, 8, "other", 0))
        await first
        # Another replica waited for dispute 7; dispute 8 did not wait for anybody.
        assert order == ["one in", "other in", "other out", "one out", "two in", "two out"]
    finally:
        await locks_one.aclose()
        await locks_two.aclose()
        await one.dispose()
        await two.dispose()


@pytest.mark.postgres
async def test_a_thread_lock_held_by_a_stuck_replica_is_waited_for_a_bounded_time(
    postgres_server: str,
) -> None:
    url = await _fresh_postgres_database(postgres_server)
    one, two = Database(url), Database(url)
    stuck, patient = ThreadLocks(one), ThreadLocks(two, wait=0.3)
    try:
        async with stuck.hold(7):
            with pytest.raises(DBAPIError, match="lock timeout"):
                async with patient.hold(7):
                    raise AssertionError("taken while another replica holds it")
            async with patient.hold(8):  # another dispute's lock is free
                pass
        async with patient.hold(7):  # released: taken at once
            pass
    finally:
        await stuck.aclose()
        await patient.aclose()
        await one.dispose()
        await two.dispose()
