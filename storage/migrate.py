"""Apply the Alembic migrations shipped with the package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(db: Database, revision: str = "head", *, down: bool = False) -> str:
    """Bring the schema to `revision` (the newest by default) in one transaction; returns the
    revision now in force."""
    config = alembic_config()

    def _run(connection: Any) -> None:
        config.attributes["connection"] = connection
        with _foreign_keys_deferred(connection), connection.begin():
            (command.downgrade if down else command.upgrade)(config, revision)
            _check_foreign_keys(connection)

    async with db.engine.connect() as connection:
        await connection.run_sync(_run)
    current = await current_revision(db)
    assert current is not None
    return current


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
