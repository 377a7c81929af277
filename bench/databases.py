"""The database a dataset benchmark runs on: the one at `--database-url`, a temporary SQLite
file, or a throwaway PostgreSQL cluster; and the moment a database filled before is as of."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from storage.db import Database
from storage.tables import DisputeRow
from tests.support.postgres import find_bindir, postgres_cluster


@asynccontextmanager
async def bench_database(backend: str, url: str | None, name: str) -> AsyncIterator[Database]:
    """`url` when given; else a new SQLite file (`backend` "sqlite") or PostgreSQL cluster,
    `name` naming the temporary folder and file."""
    if url:
        async with opened(url) as db:
            yield db
        return
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"dd-{name}-") as folder:
            async with opened(f"sqlite+aiosqlite:///{Path(folder) / f'{name}.db'}") as db:
                yield db
        return
    bindir = find_bindir()
    if bindir is None:
        sys.exit(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: use --database-url"
        )
    with postgres_cluster(bindir) as server:
        async with opened(server) as db:
            yield db


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()


async def moment(db: Database) -> datetime:
    """The moment a filled database is as of: its latest write of a dispute."""
    async with db.reading() as session:
        latest = await session.scalar(select(func.max(DisputeRow.updated_at)))
    if latest is None:
        sys.exit("the database holds no disputes: fill it first (leave out --skip-fill)")
    return latest.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
