"""The one function that moves a dispute through its lifecycle, audited in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.lifecycle import Event, Status, next_status
from storage.tables import DisputeRow


async def transition(
    session: AsyncSession,
    row: DisputeRow,
    event: Event,
    actor: Actor,
    *,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    chain: audit.Chain | None = None,
) -> Status:
    """Apply `event` to the dispute or raise `InvalidTransition`; nothing is written on refusal.
    The audit entry goes to `chain` when given (the caller writes it), else is written here."""
    current = Status(row.status)
    new = next_status(current, event)
    at = at or datetime.now(UTC)
    row.status = new.value
    row.state_times = {**row.state_times, new.value: at.isoformat()}
    row.updated_at = at
    row.active_order_key = row.order_id if new.is_open else None
    if new == Status.RESOLVED and row.customer_email:
        row.closing_due_at = at  # the customer is told, and asked how it went
    entries = chain or audit.Chain(session, row)
    entries.add(
        actor,
        f"status.{event.value}",
        before={"status": current.value},
        after={"status": new.value, **(details or {})},
        at=at,
    )
    if chain is None:
        await entries.write()
    return new
