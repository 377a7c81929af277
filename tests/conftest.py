"""Shared fixtures: databases on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.migrate import migrate
from tests.support.outside import unavailable
from tests.support.postgres import find_bindir, postgres_cluster

# Property tests check behaviour, never speed: a busy 2-core CI machine must not fail them.
hypothesis_settings.register_profile("dispute-desk", deadline=None)
hypothesis_settings.load_profile("dispute-desk")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    bindir = find_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with postgres_cluster(bindir) as url:
        yield url


async def _fresh_postgres_database(server_url: str) -> str:
    name = f"dd_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres_server")
    return await _fresh_postgres_database(server)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend."""
    database = Database(database_url)
    await migrate(database)
    yield database
    await database.dispose()
