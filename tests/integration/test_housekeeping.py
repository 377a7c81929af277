"""Old Slack request keys are forgotten; recent ones still turn duplicates away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.housekeeping import Housekeeping
from storage.db import Database
from storage.requests import claim_request
from storage.tables import ProcessedRequestRow


async def test_keys_older_than_a_day_are_forgotten(db: Database) -> None:
    assert await claim_request(db, "sig:old", "command")
    assert await claim_request(db, "sig:new", "command")
    async with db.transaction() as session:
        await session.execute(
            update(ProcessedRequestRow)
            .where(ProcessedRequestRow.key == "sig:old")
            .values(received_at=datetime.now(UTC) - timedelta(days=2))
        )
    await Housekeeping(db).run_once()
    assert await claim_request(db, "sig:old", "command")  # forgotten: claimable again
    assert not await claim_request(db, "sig:new", "command")  # still remembered
