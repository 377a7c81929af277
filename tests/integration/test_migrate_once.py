"""Migrations run once however many processes start together: on PostgreSQL under an advisory
lock (the others wait for it), on SQLite behind the one write lock. `serve --no-migrate` only
checks that the schema is current."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.migrate import (
    MIGRATION_LOCK,
    SchemaNotCurrent,
    apply_migrations,
    head_revision,
    migrate,
    require_current_schema,
)


async def test_processes_migrating_together_migrate_once(database_url: str) -> None:
    databases = [Database(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(db) for db in databases))
    finally:
        for db in databases:
            await db.dispose()
    assert {r.after for r in results} == {head_revision()}
    assert [r.before for r in results if r.ran] == [None]
    assert "migrated the database from empty to " + head_revision() in [
        r.describe() for r in results
    ]


@pytest.mark.postgres
async def test_a_process_waits_for_the_one_holding_the_lock(postgres_server: str) -> None:
    from tests.conftest import _fresh_postgres_database

    url = await _fresh_postgres_database(postgres_server)
    other = create_async_engine(url)
    db = Database(url)
    try:
        async with other.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            await holder.commit()
            waiting = asyncio.create_task(apply_migrations(db))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # no table is touched while another process migrates
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            await holder.commit()
            first = await asyncio.wait_for(waiting, 30)
        assert (first.ran, first.waited) == (True, True)
        again = await apply_migrations(db)
        assert (again.ran, again.waited, again.after) == (False, False, head_revision())
        assert again.describe() == f"schema already current at {head_revision()}"
        # The lock went back with the connection: another process takes it at once.
        async with other.connect() as probe:
            taken = await probe.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK}
            )
            assert taken is True
    finally:
        await db.dispose()
        await other.dispose()


async def test_a_schema_that_is_not_current_names_the_command_to_run(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(SchemaNotCurrent, match="no Dispute Desk tables yet: run `dispute-desk"):
            await require_current_schema(db)
        await migrate(db, "0009")
        with pytest.raises(SchemaNotCurrent, match="at revision 0009, this version needs"):
            await require_current_schema(db)
        await migrate(db)
        assert await require_current_schema(db) == head_revision()
        async with db.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(SchemaNotCurrent, match="a newer version migrated it"):
            await require_current_schema(db)
    finally:
        await db.dispose()
