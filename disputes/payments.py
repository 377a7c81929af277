"""The payment ledger as the app shows and enforces it: what was paid, what the provider holds
as refunded, what the order system claims, and our requests the provider has not shown yet.

    committed  = max(provider's refunds, order system's claim) + our requests not yet seen there
    refundable = paid - committed

A refund that re-sends what the order system claims but the provider never made (a refund not
received) is capped by the provider alone: paid - provider's refunds - our unseen requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from connectors.refunds.protocol import RefundResult, RefundStatus
from domain.orders import Order, Outcome

Clock = Callable[[], datetime]

# Our requests that may hold money: everything but a definite refusal.
LIVE_STATUSES = ("pending", "in_flight", "unknown", "succeeded")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Basis(StrEnum):
    """What caps a refund request."""

    LEDGER = "ledger"  # everything refunded, by whoever
    PROVIDER = "provider"  # the provider's refunds alone: re-sending a refund never received


def request_ref(request_id: int) -> str:
    """A refund request as people see it, in messages: `rr_42`."""
    return f"rr_{request_id}"


def provider_request_id(request_id: int, idempotency_key: str) -> str:
    """A refund request as the provider's metadata carries it: `rr_42_` and the end of its
    idempotency key. Unique beyond this database: another one (a restored backup, a staging
    copy on the same payment account) has its own rr_42, which must never pass for ours."""
    return f"{request_ref(request_id)}_{idempotency_key[-12:]}"


def order_claim_minor(order: Order) -> int:
    """Cash the order system says it refunded on this order's payment."""
    decision = order.decision
    if decision and decision.outcome in {Outcome.REFUNDED, Outcome.PARTIAL_REFUND}:
        return decision.amount_minor or 0
    return 0


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    """One refund the provider holds on the payment; `ours` names the dispute when we made it."""

    id: str
    amount_minor: int
    currency: str
    status: str
    created_at: datetime | None
    request_id: str | None
    ours: str | None = None

    @property
    def holds_money(self) -> bool:
        return RefundStatus(self.status).holds_money

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "request_id": self.request_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderRefund:
        created = data.get("created_at")
        return cls(
            id=str(data["id"]),
            amount_minor=int(data["amount_minor"]),
            currency=str(data["currency"]),
            status=str(data["status"]),
            created_at=datetime.fromisoformat(created) if created else None,
            request_id=data.get("request_id"),
        )

    @classmethod
    def of(cls, result: RefundResult) -> ProviderRefund:
        return cls(
            id=result.provider_refund_id,
            amount_minor=result.amount_minor,
            currency=result.currency,
            status=result.status.value,
            created_at=result.created_at,
            request_id=result.request_id,
        )


@dataclass(frozen=True, slots=True)
class OurRequest:
    """One of our refund requests on the payment that may hold money."""

    id: int
    dispute_number: int
    amount_minor: int
    status: str
    provider_refund_ids: tuple[str, ...]
    provider_id: str  # as the provider's metadata carries it

    @property
    def ref(self) -> str:
        return request_ref(self.id)


@dataclass(frozen=True, slots=True)
class PaymentLedger:
    payment_reference: str
    currency: str
    paid_minor: int
    order_claim_minor: int
    provider_refunds: tuple[ProviderRefund, ...] | None  # None: never read
    provider_read_at: datetime | None
    provider_error: str | None
    requests: tuple[OurRequest, ...]

    @property
    def provider_read(self) -> bool:
        return self.provider_refunds is not None

    @property
    def provider_minor(self) -> int:
        """What the provider holds as refunded (or on its way) on the payment."""
        return sum(r.amount_minor for r in self.provider_refunds or () if r.holds_money)

    def unseen(self, *, excluding: int | None = None) -> list[OurRequest]:
        """Our live requests the provider's refunds (as last read) do not show yet."""
        shown_ids = {r.id for r in self.provider_refunds or ()}
        shown_requests = {r.request_id for r in self.provider_refunds or () if r.request_id}
        return [
            request
            for request in self.requests
            if request.id != excluding
            and request.provider_id not in shown_requests
            and not shown_ids.intersection(request.provider_refund_ids)
        ]

    def committed_minor(self, basis: Basis = Basis.LEDGER, *, excluding: int | None = None) -> int:
        unseen = sum(r.amount_minor for r in self.unseen(excluding=excluding))
        if basis is Basis.PROVIDER:
            return self.provider_minor + unseen
        return max(self.provider_minor, self.order_claim_minor) + unseen

    def refundable_minor(self, basis: Basis = Basis.LEDGER, *, excluding: int | None = None) -> int:
        return max(self.paid_minor - self.committed_minor(basis, excluding=excluding), 0)

    @property
    def discrepancy_minor(self) -> int:
        """What the order system says was refunded but the provider does not hold (when read)."""
        if not self.provider_read:
            return 0
        return max(self.order_claim_minor - self.provider_minor, 0)

    @property
    def missing_minor(self) -> int:
        return self.missing(excluding=None)

    def missing(self, *, excluding: int | None = None) -> int:
        """A refund the order system claims that never reached the customer, less our own
        requests already on their way to make it good."""
        unseen = sum(r.amount_minor for r in self.unseen(excluding=excluding))
        held = self.provider_minor if self.provider_read else 0
        return max(self.order_claim_minor - held - unseen, 0)

    def cap_minor(self, basis: Basis = Basis.LEDGER, *, excluding: int | None = None) -> int:
        """The most a request on this basis may refund: what is refundable, and for a refund
        not received no more than what never reached the customer."""
        room = self.refundable_minor(basis, excluding=excluding)
        if basis is Basis.PROVIDER:
            return min(room, self.missing(excluding=excluding))
        return room
