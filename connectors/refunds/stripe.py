"""Stripe refunds: one `POST /v1/refunds` with an Idempotency-Key, and the refunds a payment holds
from `GET /v1/refunds`, every page of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel

from connectors.refunds.answers import oldest_first, read_error
from connectors.refunds.gateway import (
    HttpRefundGatewayBase,
    ProviderError,
    RefundAnswer,
    RefundPost,
)
from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)

STRIPE_VERSION = "2024-06-20"
PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 refunds of one payment is far past anything real

_STATUSES = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


class StripeRefund(RefundAnswer):
    """The fields of a Stripe refund object we read."""

    id: str
    amount: int
    currency: str
    status: str
    created: int = 0
    metadata: dict[str, Any] | None = None
    failure_reason: str | None = None

    def result(self) -> RefundResult:
        # An unknown status is not final: pending keeps the request open without resending it.
        return RefundResult(
            provider_refund_id=self.id,
            status=_STATUSES.get(self.status, RefundStatus.PENDING),
            amount_minor=self.amount,
            currency=self.currency.upper(),
            failure_reason=self.failure_reason,
            request_id=self._metadata("refund_request"),
            dispute_ref=self._metadata("dispute"),
            created_at=datetime.fromtimestamp(self.created, UTC) if self.created > 0 else None,
        )

    def _metadata(self, key: str) -> str | None:
        value = (self.metadata or {}).get(key)
        return value if isinstance(value, str) and value else None


class StripeRefundList(BaseModel):
    data: list[StripeRefund]
    has_more: bool = False


class StripeErrorBody(BaseModel):
    message: str | None = None
    code: str | None = None
    decline_code: str | None = None
    type: str | None = None


class StripeErrorResponse(BaseModel):
    error: StripeErrorBody


class StripeGateway(HttpRefundGatewayBase):
    """Refunds through Stripe's API (or anything that speaks it, like localstripe)."""

    name = "stripe"
    refund_answer = StripeRefund

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is required")
        self.api_base = api_base.rstrip("/")
        super().__init__(
            label="Stripe",
            headers={"Authorization": f"Bearer {api_key}", "Stripe-Version": STRIPE_VERSION},
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            transport=transport,
        )

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        """Every refund on a payment intent (pi_) or charge (ch_), following every page."""
        try:
            field, reference = _payment_field(payment_reference)
        except ValueError as exc:
            raise RefundUncertain(str(exc)) from None
        params: dict[str, Any] = {field: reference, "limit": PAGE_SIZE}
        listed: dict[str, StripeRefund] = {}
        cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._look_up(StripeRefundList, f"{self.api_base}/v1/refunds", params)
            for refund in page.data:
                listed.setdefault(refund.id, refund)
            if not page.has_more:
                break
            last = page.data[-1].id if page.data else None
            if last is None or last in cursors:
                raise RefundUncertain(
                    f"Stripe's refund list on {reference} did not advance past "
                    f"{params.get('starting_after') or 'its first page'}"
                )
            cursors.add(last)
            params["starting_after"] = last
        else:
            raise RefundUncertain(
                f"Stripe lists more than {MAX_PAGES * PAGE_SIZE} refunds on {reference}"
            )
        # Stripe lists newest first.
        results = [refund.result() for refund in reversed(listed.values())]
        return oldest_first(results, ties_by_id=True)

    def _refund_post(self, order: RefundOrder) -> RefundPost:
        try:
            field, reference = _payment_field(order.payment_reference)
        except ValueError as exc:
            raise RefundError(str(exc), code="unsupported_payment_reference") from None
        return RefundPost(
            f"{self.api_base}/v1/refunds",
            {
                field: reference,
                "amount": str(order.amount_minor),
                "metadata[dispute]": order.dispute_ref,
                "metadata[refund_request]": order.request_id,
            },
            form=True,
        )

    def _error(self, response: httpx.Response) -> ProviderError:
        answer = read_error(StripeErrorResponse, response)
        if answer is None:
            return ProviderError()
        # A card's decline code says more than Stripe's generic error code.
        return ProviderError(answer.error.message, answer.error.decline_code or answer.error.code)


def _payment_field(payment_reference: str) -> tuple[str, str]:
    """The list/create parameter a reference goes in; `ValueError` when it is neither."""
    reference = payment_reference.strip()
    if reference.startswith("pi_"):
        return "payment_intent", reference
    if reference.startswith("ch_"):
        return "charge", reference
    raise ValueError(
        f"Stripe payment reference must start with pi_ or ch_, got {payment_reference!r}"
    )
