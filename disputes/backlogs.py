"""What is waiting to go out: refund requests not yet final, customer messages not yet sent,
digest posts Slack has not taken. Counts only, each on an indexed column, for the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from storage.db import Database
from storage.tables import AlertPostRow, CustomerMessageRow, RefundRequestRow

# The statuses a refund request or a customer message leaves by itself (every one is shown,
# zero included, so a graph never has gaps).
REFUND_WAITING = ("pending", "in_flight", "unknown")
MESSAGE_WAITING = ("pending", "sending")


@dataclass(frozen=True, slots=True)
class Backlog:
    refund_requests: dict[str, int]
    customer_messages: dict[str, int]
    alert_posts: int


async def read_backlog(db: Database) -> Backlog:
    """Three counts in one read-only snapshot."""
    async with db.reading() as session:
        refunds = await session.execute(
            select(RefundRequestRow.status, func.count())
            .where(RefundRequestRow.status.in_(REFUND_WAITING))
            .group_by(RefundRequestRow.status)
        )
        messages = await session.execute(
            select(CustomerMessageRow.status, func.count())
            .where(CustomerMessageRow.status.in_(MESSAGE_WAITING))
            .group_by(CustomerMessageRow.status)
        )
        posts = await session.scalar(
            select(func.count()).select_from(AlertPostRow).where(AlertPostRow.posted_at.is_(None))
        )
    by_refund = {status: 0 for status in REFUND_WAITING} | {s: n for s, n in refunds.all()}
    by_message = {status: 0 for status in MESSAGE_WAITING} | {s: n for s, n in messages.all()}
    return Backlog(by_refund, by_message, int(posts or 0))
