"""The order-system port: one call, `get_order`, and the errors it may raise."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from domain.orders import Order


class OrderSourceError(Exception):
    """Base of everything an order source raises on purpose."""


class OrderNotFound(OrderSourceError):
    """The order system answered: there is no order with this id."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no such order: {order_id}")
        self.order_id = order_id


class OrderSourceUnavailable(OrderSourceError):
    """The order system could not be asked (down, timing out, refusing); try again later."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidOrderData(OrderSourceError):
    """The order system answered with something that is not a valid §4 order."""

    def __init__(self, order_id: str, detail: str) -> None:
        super().__init__(f"order {order_id} has invalid data: {detail}")
        self.order_id = order_id
        self.detail = detail


@dataclass(frozen=True, slots=True)
class DecisionUpdate:
    """The new decision on a return, written back to the order system once it is final."""

    dispute: str  # "D-7"
    outcome: str  # full_refund, partial_refund, replacement, store_credit, overturn, uphold, ...
    amount_minor: int | None
    currency: str
    refund_status: str | None  # succeeded / failed, when money moved
    provider_refund_id: str | None
    decided_by: str
    idempotency_key: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class OrderSource(Protocol):
    """Reads one order by id from wherever orders live."""

    name: str

    async def get_order(self, order_id: str) -> Order:
        """The order, or `OrderNotFound` / `OrderSourceUnavailable` / `InvalidOrderData`."""
        ...

    async def record_decision(
        self, order_id: str, return_id: str | None, update: DecisionUpdate
    ) -> bool:
        """Tell the order system of the new decision; False when this source cannot."""
        ...

    async def aclose(self) -> None: ...
