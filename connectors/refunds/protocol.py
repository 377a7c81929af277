"""The refund port: `refund` and `find`, and the two errors that tell a worker what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


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
    """A refund as the provider holds it; currency is ISO upper case."""

    provider_refund_id: str
    status: RefundStatus
    amount_minor: int
    currency: str
    failure_reason: str | None = None


class RefundError(Exception):
    """A definite answer: the provider refused. Do not resend the same request.

    `provider_refund_id` is set when a refund exists all the same (its amount or currency is not
    what we asked for): money may have moved, and a person must look.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        provider_refund_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.provider_refund_id = provider_refund_id


class RefundUncertain(RefundError):
    """We do not know whether the refund happened: look it up with `find` before sending again."""


@runtime_checkable
class RefundGateway(Protocol):
    name: str

    async def refund(self, order: RefundOrder) -> RefundResult:
        """Send the refund once (same `Idempotency-Key` on every retry); raise `RefundError`."""
        ...

    async def find(self, order: RefundOrder) -> RefundResult | None:
        """Our refund at the provider by the `request_id` we sent, or None when it has none."""
        ...

    async def aclose(self) -> None: ...
