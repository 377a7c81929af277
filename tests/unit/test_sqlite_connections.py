"""Connections opening a new SQLite file together all get it in WAL mode: SQLite refuses the
switch to all but one of them at once, without waiting, and the refused ones try again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from storage.db import prepare_sqlite_connection

OPENERS = 4
NEW_FILES = 60


def _open_together(path: Path) -> list[str]:
    """What each of OPENERS connections, released at the same moment, saw on `path`."""
    start = threading.Barrier(OPENERS)
    seen: list[str] = []

    def open_one() -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            start.wait()
            prepare_sqlite_connection(connection)
            seen.append(connection.execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.Error as exc:
            seen.append(f"error: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


def test_connections_opening_a_new_file_together_all_get_wal(tmp_path: Path) -> None:
    # One new file at a time: the race is only at a file's first switch to WAL.
    for n in range(NEW_FILES):
        assert _open_together(tmp_path / f"new-{n}.db") == ["wal"] * OPENERS


def test_a_connection_has_foreign_keys_and_the_busy_timeout(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "one.db", isolation_level=None)
    try:
        prepare_sqlite_connection(connection)
        pragma = {
            name: connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    finally:
        connection.close()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }
