"""Processes starting together on a new SQLite file all connect: the ones SQLite refuses the
switch to WAL try again, pausing without holding up the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from storage.db import Database

ENGINES = 4
NEW_FILES = 25


async def _connect_together(path: Path) -> list[str]:
    databases = [Database(f"sqlite+aiosqlite:///{path}") for _ in range(ENGINES)]

    async def mode(db: Database) -> str:
        async with db.engine.connect() as connection:
            return str(await connection.scalar(text("PRAGMA journal_mode")))

    try:
        return list(await asyncio.gather(*(mode(db) for db in databases)))
    finally:
        for db in databases:
            await db.dispose()


async def test_engines_connecting_to_a_new_file_together_all_connect(tmp_path: Path) -> None:
    for n in range(NEW_FILES):
        assert await _connect_together(tmp_path / f"new-{n}.db") == ["wal"] * ENGINES
