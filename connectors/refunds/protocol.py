"""The refund port: send one refund, list the refunds a payment holds, and the two errors that
tell a worker what it knows.

A gateway never decides whether a refund is *ours*: it reports what the provider said, with the
request id found in the refund's metadata, and the application matches it (request id, amount,
currency) before it believes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def holds_money(self) -> bool:
        """Money has left, or is on its way back to the customer."""
        return self in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


@dataclass(frozen=True)
class RefundOrder:
    """What we ask a provider to refund; `request_id` is sent along as metadata."""

    request_id: str
    idempotency_key: str
    payment_reference: str
    amount_minor: int
    currency: str
    dispute_ref: str


@dataclass(frozen=True)
class RefundResult:
    """A refund as the provider holds it; currency is ISO upper case.

    `request_id` and `dispute_ref` are what the refund's metadata says (None when it carries
    none: a refund someone else made); `created_at` is when the provider made it, if it says.
    """

    provider_refund_id: str
    status: RefundStatus
    amount_minor: int
    currency: str
    failure_reason: str | None = None
    request_id: str | None = None
    dispute_ref: str | None = None
    created_at: datetime | None = None

    def matches(self, order: RefundOrder) -> bool:
        """This is the refund `order` asked for: same request id, amount and currency."""
        return (
            self.request_id == order.request_id
            and self.amount_minor == order.amount_minor
            and self.currency == order.currency.upper()
        )


class RefundError(Exception):
    """A definite answer to a refund POST: the provider refused it, and no money moved.

    Only ever raised by `refund`; a look-up that fails is never a refusal.
    """

    def __init__(
        self, message: str, *, code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code


class RefundUncertain(Exception):
    """Nobody knows whether money moved (a timeout, a lost answer, a 5xx, an unreadable body),
    or a look-up could not be answered. Ask the provider before sending again."""


@runtime_checkable
class RefundGateway(Protocol):
    name: str

    async def refund(self, order: RefundOrder) -> RefundResult:
        """Send the refund POST once, with `order.idempotency_key`.

        Resends only what cannot have reached the provider (a connection never made, a 429).
        Raises `RefundError` on the provider's definite refusal, `RefundUncertain` otherwise.
        """
        ...

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        """Every refund the provider holds on the payment, whoever made it, oldest first.

        Raises `RefundUncertain` when the provider cannot be read (any error status included).
        """
        ...

    async def aclose(self) -> None: ...
