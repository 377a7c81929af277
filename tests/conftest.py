"""Shared fixtures: databases on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.migrate import migrate
from tests.support.outside import unavailable
from tests.support.postgres import find_bindir, postgres_cluster

T = TypeVar("T")

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
async def db(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A migrated database on each backend: a copy of one migrated once per test session (the
    migrations themselves are tested from an empty database in test_migrations.py)."""
    if database_url.startswith("sqlite"):
        _copy_sqlite(request.getfixturevalue("sqlite_template"), database_url)
    else:
        await _recreate_from(database_url, request.getfixturevalue("postgres_template"))
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, to copy."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    _run_apart(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """The name of a PostgreSQL database migrated to head, to create databases from."""
    url = _run_apart(_fresh_postgres_database(postgres_server))
    _run_apart(_migrate(url))
    return url.rsplit("/", 1)[1]


def _run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end in a loop of its own (the fixtures asking for a template are
    set up inside the test's running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def _copy_sqlite(template: Path, url: str) -> None:
    target = Path(url.split(":///", 1)[1])
    for suffix in ("", "-wal"):
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", f"{target}{suffix}")


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await migrate(database)
    finally:
        await database.dispose()


async def _recreate_from(url: str, template: str) -> None:
    """The (empty) database at `url` made again as a copy of `template`."""
    server, name = url.rsplit("/", 1)
    engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}"'))
            await connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        await engine.dispose()
