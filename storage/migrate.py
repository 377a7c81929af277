"""Apply the Alembic migrations shipped with the package, once however many processes ask.

On PostgreSQL the migration runs under a session advisory lock: the first process to take it
migrates, the others wait for it and then find the schema current. On SQLite (one machine) the
migration's transaction begins IMMEDIATE, which takes the database's one write lock before the
current revision is read, so a second process waits there and finds the work done."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from storage.db import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The advisory lock every Dispute Desk process takes to migrate (PostgreSQL's lock ids are one
# 64-bit number per database): "DDmigrat" as bytes.
MIGRATION_LOCK = int.from_bytes(b"DDmigrat", "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, slots=True)
class Migration:
    """What one call did: the revision before and after, and whether it had to wait for
    another process holding the migration lock."""

    before: str | None
    after: str
    waited: bool = False

    @property
    def ran(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        """One log line: what happened to the schema."""
        if self.ran:
            return f"migrated the database from {self.before or 'empty'} to {self.after}"
        if self.waited:
            return f"waited for another process's migration; schema already current at {self.after}"
        return f"schema already current at {self.after}"


class SchemaNotCurrent(Exception):
    """The database is not at the revision this version of the app needs."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(db: Database, revision: str = "head", *, down: bool = False) -> str:
    """Bring the schema to `revision` (the newest by default) in one transaction; returns the
    revision now in force."""
    return (await apply_migrations(db, revision, down=down)).after


async def apply_migrations(
    db: Database, revision: str = "head", *, down: bool = False
) -> Migration:
    """`migrate`, saying what it did; one process at a time migrates (module docstring)."""
    config = alembic_config()

    def _run(connection: Any) -> Migration:
        config.attributes["connection"] = connection
        with (
            _migration_lock(connection) as waited,
            _foreign_keys_deferred(connection),
            connection.begin(),
        ):
            before = _revision(connection)
            (command.downgrade if down else command.upgrade)(config, revision)
            _check_foreign_keys(connection)
            after = _revision(connection)
        assert after is not None
        return Migration(before, after, waited)

    async with db.engine.connect() as connection:
        return await connection.run_sync(_run)


async def require_current_schema(db: Database) -> str:
    """The revision in force, or `SchemaNotCurrent` saying what to run when it is not the
    one this version of the app was built for."""
    current = await current_revision(db)
    head = head_revision()
    if current == head:
        return head
    if current is None:
        raise SchemaNotCurrent(
            "the database at DATABASE_URL has no Dispute Desk tables yet: "
            "run `dispute-desk migrate` first (serve --no-migrate does not migrate)"
        )
    if not _is_known(current):
        raise SchemaNotCurrent(
            f"the database at DATABASE_URL is at revision {current}, which this version does "
            f"not know (it needs {head}): a newer version migrated it"
        )
    raise SchemaNotCurrent(
        f"the database at DATABASE_URL is at revision {current}, this version needs {head}: "
        "run `dispute-desk migrate` first (serve --no-migrate does not migrate)"
    )


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(connection: Any) -> Iterator[bool]:
    """PostgreSQL: hold the migration's advisory lock (session level, so it outlives the
    migration's transaction); yields whether another process held it first. SQLite: nothing
    here (the migration's BEGIN IMMEDIATE serialises it)."""
    if connection.dialect.name != "postgresql":
        yield False
        return
    key = {"key": MIGRATION_LOCK}
    waited = not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
    if waited:
        log.info("another process is migrating the database; waiting for it")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
    connection.commit()  # the lock stays with the session; the migration begins afresh
    try:
        yield waited
    finally:
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            connection.commit()
        except Exception:
            # A connection that cannot say so never goes back to the pool holding the lock.
            connection.invalidate()
            raise


@contextmanager
def _foreign_keys_deferred(connection: Any) -> Iterator[None]:
    """SQLite changes a table by copying it; with foreign keys on, dropping a table that other
    rows point at fails. They are off while migrating (outside any transaction, the only place
    SQLite takes it) and checked before the migration commits."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    _pragma(raw, "foreign_keys=OFF")
    try:
        yield
    finally:
        _pragma(raw, "foreign_keys=ON")


def _check_foreign_keys(connection: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"a migration left rows pointing at nothing: {broken[:5]}")


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _pragma(raw: Any, setting: str) -> None:
    cursor = raw.cursor()
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()
