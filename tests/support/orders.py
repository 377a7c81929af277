"""Orders and evidence sources for tests."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order

ORDER: dict[str, Any] = {
    "order_id": "ORD-T1",
    "placed_at": "2026-10-01T10:00:00Z",
    "currency": "USD",
    "total": "129.00",
    "customer": {
        "id": "C1",
        "name": "Jane <b>Doe</b>",
        "email": "jane@example.com",
        "tier": "standard",
        "prior_returns_90d": 0,
    },
    "payment": {"provider": "stripe", "reference": "pi_3QtestTEST"},
    "items": [
        {
            "sku": "LAMP-1",
            "name": "Desk lamp",
            "category": "home",
            "quantity": 1,
            "unit_price": "129.00",
        }
    ],
    "shipments": [
        {
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "shipped_at": "2026-10-02T10:00:00Z",
            "delivered_at": "2026-10-05T10:00:00Z",
            "proof_of_delivery": "photo",
            "events": [
                {"at": "2026-10-05T10:00:00Z", "status": "Delivered", "location": "Brooklyn, NY"}
            ],
        }
    ],
    "return_request": {
        "id": "R1",
        "requested_at": "2026-10-06T10:00:00Z",
        "reason": "DAMAGED",
        "customer_note": "Box crushed",
        "items": [{"sku": "LAMP-1", "quantity": 1}],
        "received_at": "2026-10-12T10:00:00Z",
        "decision": {
            "outcome": "partial_refund",
            "amount": "29.00",
            "decided_at": "2026-10-14T10:00:00Z",
        },
    },
    "condition_report": {
        "inspected_at": "2026-10-13T10:00:00Z",
        "grade": "C",
        "opened": True,
        "photos": ["https://returns.example.com/p/1.jpg"],
    },
    "correspondence": [],
}


def order(**changes: Any) -> Order:
    data = copy.deepcopy(ORDER)
    data.update(changes)
    return Order.from_wire(data)


class StaticOrders:
    """An in-memory order source."""

    name = "static"

    def __init__(self, *orders: Order) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.calls = 0
        self.decisions: list[Any] = []  # what the app wrote back, in order

    async def get_order(self, order_id: str) -> Order:
        from connectors.orders.protocol import OrderNotFound

        self.calls += 1
        if order_id not in self.orders:
            raise OrderNotFound(order_id)
        return self.orders[order_id]

    async def record_decision(self, order_id: str, return_id: str | None, update: Any) -> bool:
        self.decisions.append(update)
        return True

    async def aclose(self) -> None:
        return None


class SlowSource:
    """An evidence source that takes `delay` seconds, then yields one draft of `kind`."""

    def __init__(self, name: str, kind: EvidenceKind, delay: float, *, fail: bool = False) -> None:
        self.name = name
        self.kinds = (kind,)
        self.delay = delay
        self.fail = fail

    async def collect(self, order: Order) -> list[EvidenceDraft]:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("carrier API refused the connection")
        return [
            EvidenceDraft(
                self.kinds[0], self.name, f"{self.name} for {order.order_id}", {"from": self.name}
            )
        ]
