"""Engine, sessions and transactions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import Executable
from sqlalchemy.util import await_

T = TypeVar("T")

# A pooled PostgreSQL connection idle this long (seconds) is pinged before it is used.
PING_AFTER_IDLE = 1.0
# How long a SQLite connection waits for the database's locks: the busy handler's timeout, and
# the time a new file's switch to WAL is retried for.
SQLITE_BUSY_SECONDS = 30


class Database:
    """One engine per process; `transaction()` is the unit of work."""

    def __init__(
        self, url: str, *, echo: bool = False, ping_after_idle: float = PING_AFTER_IDLE
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            _ensure_sqlite_folder(url)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
        else:
            kwargs.update(pool_size=10, max_overflow=10)
            # Short reads and writes: compiling a statement with PostgreSQL's JIT (from its
            # cost estimate, which a million rows passes) takes longer than running it.
            kwargs["connect_args"] = {"server_settings": {"jit": "off"}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.read_engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, immediate=True)
            # Readers take no write lock: in WAL mode they never wait for the writer.
            self.read_engine = create_async_engine(url, **kwargs)
            _configure_sqlite(self.read_engine, immediate=False)
        else:
            _ping_idle_connections(self.engine, ping_after_idle)
            # Reads on the same pool, each statement on its own: at READ COMMITTED, which is
            # what a transaction here runs at, every statement sees the database as it is when
            # it starts anyway, so a BEGIN and a COMMIT around reads are two round trips that
            # change nothing they see.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # A session class of this database's own, so `before_flush` hooks stay with it.
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self.session_class
        )
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite has one writer; its busy handler lets newcomers overtake long waiters, so
        # writers in this process queue first come, first served instead.
        self._writers = asyncio.Lock() if self.is_sqlite else None

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """The engines whose events see every statement: the reads' own engine on SQLite; on
        PostgreSQL the writers' alone, whose events the reads' engine shares."""
        return (self.engine, self.read_engine) if self.is_sqlite else (self.engine,)

    def before_flush(self, hook: Callable[[Session], None]) -> None:
        """Run `hook` with every writing session of this database before it flushes."""
        event.listen(self.session_class, "before_flush", lambda s, _ctx, _obj: hook(s))

    def after_flush(self, hook: Callable[[Session], None]) -> None:
        """Run `hook` with every writing session of this database after it flushes (its new
        and dirty objects still listed), in the flush's transaction."""
        event.listen(self.session_class, "after_flush", lambda s, _ctx: hook(s))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together or not at all."""
        async with self._write_turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        if self._writers is None:
            yield
            return
        async with self._writers:
            yield

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads: on SQLite one snapshot that never waits for the writer; on
        PostgreSQL each statement sees what is committed when it starts, as at READ
        COMMITTED in a transaction, without its BEGIN and COMMIT."""
        async with self.read_sessions() as session, session.begin():
            yield session

    async def execute_alone(self, statement: Executable, params: dict[str, Any]) -> None:
        """One statement that is a transaction of its own: on PostgreSQL sent without BEGIN
        and COMMIT (it commits as it runs, all or nothing), on SQLite in the writers' turn."""
        if self.is_sqlite:
            async with self.transaction() as session:
                await session.execute(statement, params)
            return
        # The reads' engine: the same pool, each statement committed as it runs.
        async with self.read_engine.connect() as connection:
            await connection.execute(statement, params)

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]], *, attempts: int = 5) -> T:
        """Run `work` in a transaction, retrying when a concurrent writer got there first."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as session:
                    return await work(session)
            except (StaleDataError, IntegrityError, DBAPIError) as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.is_sqlite:  # its own engine; PostgreSQL's reads share the writers' pool
            await self.read_engine.dispose()


def on_postgresql(session: AsyncSession) -> bool:
    """Whether the session's database is PostgreSQL (row locks; SQLite serialises writers)."""
    return session.get_bind().dialect.name == "postgresql"


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    # A unique violation on the audit sequence means another writer appended first.
    return (
        "uq_audit_dispute_seq" in text
        or "audit_entries.dispute_id, audit_entries.seq" in text
        or "database is locked" in text
        or "deadlock" in text
        or "could not serialize" in text
    )


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    """WAL and foreign keys; writers BEGIN IMMEDIATE so they queue instead of failing mid-way."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # The engine connects inside SQLAlchemy's greenlet: a retry's pause yields to the loop.
        prepare_sqlite_connection(dbapi_connection, pause=lambda s: await_(asyncio.sleep(s)))

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before handing it out only when it has been idle for
    `idle_seconds`: a restarted server or a dropped connection is found then, and every pooled
    connection older than it is replaced, as SQLAlchemy's pre-ping does; a connection back in
    the pool a moment ago, as most are when requests keep coming, goes out without the three
    round trips of a ping (BEGIN, the ping, ROLLBACK)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError(f"a pooled connection failed its ping: {exc}") from exc


def prepare_sqlite_connection(
    connection: Any, *, pause: Callable[[float], object] = time.sleep
) -> None:
    """WAL, foreign keys, the busy timeout and NORMAL sync on one DB-API connection.

    Switching a new file to WAL takes its exclusive lock; when several processes open the new
    file at once, SQLite answers "database is locked" to all but one without calling the busy
    handler (waiting could deadlock), so the switch is retried until the busy timeout."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                pause(0.01)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
