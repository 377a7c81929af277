"""Round trips PostgreSQL connections spend on nothing are not spent.

A connection is pinged before use only after it sat idle in the pool: a dropped connection (a
restarted server, a killed backend) is then found by the ping and replaced, while connections
going back and forth under load are handed out without a ping. Reads run without a BEGIN and a
COMMIT: at READ COMMITTED each statement sees what is committed when it starts either way; nor
does a write that is one statement alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from tests.conftest import _fresh_postgres_database

pytestmark = pytest.mark.postgres

IDLE = 0.2  # seconds before a pooled connection is pinged, in these tests


@pytest.fixture
async def url(postgres_server: str) -> str:
    return await _fresh_postgres_database(postgres_server)


@pytest.fixture
def pings() -> list[Any]:
    """The connections a Database's engine pinged, in order."""
    return []


async def _database(url: str, pings: list[Any], **kwargs: Any) -> Database:
    db = Database(url, **kwargs)
    dialect = db.engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    dialect.do_ping = counted  # type: ignore[method-assign]
    return db


@pytest.fixture
async def databases() -> AsyncIterator[list[Database]]:
    made: list[Database] = []
    yield made
    for db in made:
        await db.dispose()


async def _backend(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


async def _drop_connections(url: str) -> None:
    """The server ends every other connection to this database, as a restart would."""
    admin = create_async_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await admin.dispose()


async def test_an_idle_connection_dropped_by_the_server_is_replaced_before_use(
    url: str, pings: list[Any], databases: list[Database]
) -> None:
    db = await _database(url, pings, ping_after_idle=IDLE)
    databases.append(db)
    first = await _backend(db)
    await _drop_connections(url)
    await asyncio.sleep(IDLE * 2)
    second = await _backend(db)  # no error: the ping found the dropped connection
    assert second != first
    assert len(pings) == 1


async def test_connections_in_use_go_out_without_a_ping(
    url: str, pings: list[Any], databases: list[Database]
) -> None:
    db = await _database(url, pings, ping_after_idle=60)
    databases.append(db)
    backends = {await _backend(db) for _ in range(30)}
    assert len(backends) == 1
    assert pings == []


async def test_a_connection_dropped_within_the_window_fails_once_and_is_replaced(
    url: str, pings: list[Any], databases: list[Database]
) -> None:
    db = await _database(url, pings, ping_after_idle=60)
    databases.append(db)
    first = await _backend(db)
    await _drop_connections(url)
    with pytest.raises(DBAPIError) as failed:
        await _backend(db)
    assert failed.value.connection_invalidated
    assert await _backend(db) != first  # the pool replaced it: the next request works


async def test_reads_run_each_statement_on_its_own_and_writes_in_one_transaction(
    url: str, databases: list[Database]
) -> None:
    db = Database(url)
    databases.append(db)
    now = text("SELECT now()")  # the time its transaction started
    async with db.reading() as session:
        assert await session.scalar(text("SHOW transaction_isolation")) == "read committed"
        first = await session.scalar(now)
        await asyncio.sleep(0.01)
        assert await session.scalar(now) > first  # a transaction of its own: no BEGIN
    async with db.transaction() as session:
        first = await session.scalar(now)
        await asyncio.sleep(0.01)
        assert await session.scalar(now) == first  # one transaction


async def test_a_statement_alone_commits_without_a_transaction_around_it(
    url: str, databases: list[Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(url)
    databases.append(db)
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE seen (key text PRIMARY KEY)"))
    started: list[object] = []
    begin = AsyncAdapt_asyncpg_connection._start_transaction

    async def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        if self.isolation_level != "autocommit":  # it sends BEGIN
            started.append(self)
        await begin(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", counted)
    insert = text("INSERT INTO seen (key) VALUES (:key)")
    await db.execute_alone(insert, {"key": "a"})
    assert started == []  # no BEGIN, no COMMIT: one round trip
    with pytest.raises(IntegrityError):
        await db.execute_alone(insert, {"key": "a"})
    await db.execute_alone(insert, {"key": "b"})  # the connection is fine after a failure
    async with db.reading() as session:
        assert list(await session.scalars(text("SELECT key FROM seen ORDER BY key"))) == ["a", "b"]
    async with db.transaction() as session:
        await session.execute(text("SELECT 1"))
    assert len(started) == 1  # what counts the BEGINs counts them
