"""Stripe refunds: `POST /v1/refunds` with an Idempotency-Key; `find` by our metadata."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from connectors.refunds.answers import check_answer, read_answer, refused
from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)
from connectors.refunds.retry import RetryingSender, refund_once_or_found

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
    metadata: dict[str, str] | None = None
    failure_reason: str | None = None

    @property
    def refund_request(self) -> str | None:
        return (self.metadata or {}).get("refund_request")


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
        self._sender = RetryingSender(
            self._client, provider="Stripe", timeout=timeout, attempts=attempts, backoff=backoff
        )
        self._send_once = RetryingSender(
            self._client, provider="Stripe", timeout=timeout, attempts=1, backoff=backoff
        )
        self._attempts, self._backoff = attempts, backoff

    async def refund(self, order: RefundOrder) -> RefundResult:
        """Send once; after an unknown outcome, look the refund up before sending again."""
        return await refund_once_or_found(
            lambda: self._refund_once(order),
            lambda: self.find(order),
            attempts=self._attempts,
            backoff=self._backoff,
        )

    async def _refund_once(self, order: RefundOrder) -> RefundResult:
        field, reference = _payment_field(order)
        if order.amount_minor <= 0:
            raise RefundError(f"refund amount must be positive, got {order.amount_minor}")
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        response = await self._send_once.send(
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
            raise _refusal(response)
        refund = read_answer(StripeRefund, response, provider="Stripe")
        return check_answer(
            order, _result(refund), request_id=refund.refund_request, provider="Stripe"
        )

    async def find(self, order: RefundOrder) -> RefundResult | None:
        field, reference = _payment_field(order)
        matches: list[StripeRefund] = []
        params: dict[str, Any] = {field: reference, "limit": PAGE_SIZE}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await self._sender.send("GET", f"{self.api_base}/v1/refunds", params=params)
            if not response.is_success:
                raise _refusal(response)
            page = read_answer(StripeRefundList, response, provider="Stripe")
            matches += [r for r in page.data if r.refund_request == order.request_id]
            if not page.has_more or not page.data:
                break
            last = page.data[-1].id
            if last in seen:
                raise RefundUncertain("Stripe's refund list did not advance past " + last)
            seen.add(last)
            params["starting_after"] = last
        else:
            raise RefundUncertain(f"more than {MAX_PAGES * PAGE_SIZE} refunds on {reference}")
        if not matches:
            return None
        # Two refunds for one request means a duplicate already happened; the first one is ours.
        return _result(min(matches, key=lambda r: r.created))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> StripeGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _payment_field(order: RefundOrder) -> tuple[str, str]:
    reference = order.payment_reference.strip()
    if reference.startswith("pi_"):
        return "payment_intent", reference
    if reference.startswith("ch_"):
        return "charge", reference
    raise RefundError(
        f"Stripe payment reference must start with pi_ or ch_, got {order.payment_reference!r}",
        code="unsupported_payment_reference",
    )


def _refusal(response: httpx.Response) -> RefundError:
    """A 4xx as a definite `RefundError` carrying Stripe's own message and code."""
    try:
        error = StripeErrorResponse.model_validate_json(response.content).error
    except ValidationError:
        error = StripeErrorBody()
    return refused("Stripe", response.status_code, error.message, error.decline_code or error.code)


def _result(refund: StripeRefund) -> RefundResult:
    # An unknown status is not final: pending keeps the request open without resending it.
    status = _STATUSES.get(refund.status, RefundStatus.PENDING)
    return RefundResult(
        provider_refund_id=refund.id,
        status=status,
        amount_minor=refund.amount,
        currency=refund.currency.upper(),
        failure_reason=refund.failure_reason,
    )
