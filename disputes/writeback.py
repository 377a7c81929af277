"""Telling the order system of a final decision, and recording whether it took it."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.orders.protocol import DecisionUpdate, OrderSource, OrderSourceError
from disputes import audit
from disputes.audit import Actor
from disputes.repository import load_row
from domain.orders import Order
from storage.db import Database

log = logging.getLogger(__name__)
SYSTEM = Actor.system("order-system")


async def write_back(
    db: Database, orders: OrderSource, number: int, update: DecisionUpdate
) -> bool:
    """Send `update` for dispute `number`; the audit trail says whether it was recorded."""
    async with db.reading() as session:
        row = await load_row(session, number)
        order = Order.from_wire(row.order_snapshot) if row.order_snapshot else None
        order_id = row.order_id
    return_id = order.return_request.id if order and order.return_request else None
    try:
        recorded = await orders.record_decision(order_id, return_id, update)
        problem = None if recorded else "the order source does not take decisions"
    except OrderSourceError as exc:
        recorded, problem = False, str(exc)
        log.warning("could not write %s back to %s: %s", update.dispute, orders.name, exc)

    async def note(session: AsyncSession) -> None:
        dispute = await load_row(session, number)
        action = "order.decision_recorded" if recorded else "order.decision_not_recorded"
        after = {**update.to_json(), "return_id": return_id}
        if problem:
            after["problem"] = problem
        await audit.append(session, dispute, SYSTEM, action, after=after)

    await db.run(note)
    return recorded
