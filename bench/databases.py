"""The database a dataset benchmark runs on: the one at `--database-url`, a temporary SQLite
file, or a throwaway PostgreSQL cluster; filled by `bench.dataset`, or (`--skip-fill`) as it
was filled before, as of its latest write."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.dataset import DatasetSpec, fill
from storage.db import Database
from storage.migrate import migrate
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


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="a database to fill (empty), or filled before")
    parser.add_argument("--disputes", type=int, help="default 100,000 (SQLite), 1,000,000")
    parser.add_argument("--skip-fill", action="store_true", help="use the disputes already there")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--open-share", type=float, default=0.10, help="open disputes (all recent) of the fill"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes making the dataset")


@asynccontextmanager
async def dataset_database(
    args: argparse.Namespace, title: str, name: str
) -> AsyncIterator[tuple[Database, datetime, str]]:
    """The database of `add_dataset_arguments`, migrated and filled (or as filled before),
    with its moment and backend; `title` heads what is printed."""
    backend = args.backend
    if args.database_url:
        backend = "sqlite" if args.database_url.startswith("sqlite") else "postgres"
    if args.skip_fill and not args.database_url:
        sys.exit("--skip-fill needs --database-url (a database filled before)")
    disputes = args.disputes or (100_000 if backend == "sqlite" else 1_000_000)
    async with bench_database(backend, args.database_url, name) as db:
        await migrate(db)
        if args.skip_fill:
            now = await moment(db)
            print(f"{title} on {backend}: the disputes already there, as of {now.isoformat()}")
        else:
            print(f"{title} on {backend}: filling {disputes:,} disputes (seed {args.seed})")
            spec = DatasetSpec(disputes, open_share=args.open_share, seed=args.seed)
            filled = await fill(db, spec, progress, workers=args.workers)
            now = filled.now
            print(
                f"  filled {filled.total_rows:,} rows in {filled.seconds:.0f} s "
                f"({filled.rows_per_second:,.0f} rows/s)"
            )
        yield db, now, backend


def progress(done: int, total: int) -> None:
    if done == total or done % max(total // 10, 1) < 1_000:
        print(f"  {done:,} / {total:,} disputes", file=sys.stderr, flush=True)
