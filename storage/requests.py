"""Processed Slack requests: the first claim of a key wins, every later one is a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.tables import ProcessedRequestRow, core

# Built once: it runs with every Slack request that does work after its ack.
_CLAIM = insert(core(ProcessedRequestRow))


async def claim_request(db: Database, key: str, kind: str) -> bool:
    """True the first time `key` is seen, False for a retry or a replay."""
    try:
        await db.execute_alone(_CLAIM, {"key": key, "kind": kind, "received_at": datetime.now(UTC)})
    except IntegrityError:
        return False
    return True


async def release_request(db: Database, key: str) -> None:
    """Forget `key` again: the request it names was refused, so sending it again is no
    duplicate of anything done."""
    async with db.transaction() as session:
        await session.execute(delete(ProcessedRequestRow).where(ProcessedRequestRow.key == key))


async def forget_requests_before(db: Database, age: timedelta) -> int:
    """Drop keys older than any retry or replay Slack could still send."""
    async with db.transaction() as session:
        result = await session.execute(
            delete(ProcessedRequestRow).where(
                ProcessedRequestRow.received_at < datetime.now(UTC) - age
            )
        )
        return cast(CursorResult[Any], result).rowcount or 0
