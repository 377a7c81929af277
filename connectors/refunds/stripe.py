"""Stripe refunds: one `POST /v1/refunds` with an Idempotency-Key, and the refunds a payment holds
from `GET /v1/refunds`, every page of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel

from connectors.refunds.answers import (
    lookup_failed,
    oldest_first,
    read_answer,
    read_error,
    refused,
)
from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)
from connectors.refunds.sending import RefundSender

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


class StripeRefund(BaseModel):
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


class StripeGateway:
    """Refunds through Stripe's API (or anything that speaks it, like localstripe)."""

    name = "stripe"

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
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Stripe-Version": STRIPE_VERSION,
                "Accept": "application/json",
            },
        )
        self._sender = RefundSender(
            self._client, provider="Stripe", timeout=timeout, attempts=attempts, backoff=backoff
        )

    async def refund(self, order: RefundOrder) -> RefundResult:
        """One refund POST; resent (same key) only when it cannot have reached Stripe."""
        try:
            field, reference = _payment_field(order.payment_reference)
        except ValueError as exc:
            raise RefundError(str(exc), code="unsupported_payment_reference") from None
        if order.amount_minor <= 0:
            raise RefundError(f"refund amount must be positive, got {order.amount_minor}")
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        response = await self._sender.send_once(
            "POST",
            f"{self.api_base}/v1/refunds",
            data={
                field: reference,
                "amount": str(order.amount_minor),
                "metadata[dispute]": order.dispute_ref,
                "metadata[refund_request]": order.request_id,
            },
            headers={"Idempotency-Key": order.idempotency_key},
        )
        if not response.is_success:
            error = _error(response)
            raise refused(
                "Stripe", response.status_code, error.message, error.decline_code or error.code
            )
        return read_answer(StripeRefund, response, provider="Stripe").result()

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
            response = await self._sender.send("GET", f"{self.api_base}/v1/refunds", params=params)
            if not response.is_success:
                raise lookup_failed("Stripe", response, _error(response).message)
            page = read_answer(StripeRefundList, response, provider="Stripe")
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

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> StripeGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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


def _error(response: httpx.Response) -> StripeErrorBody:
    answer = read_error(StripeErrorResponse, response)
    return answer.error if answer is not None else StripeErrorBody()
