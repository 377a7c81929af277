"""`http:<url>`: refunds through a shop's own payment back end, over a small JSON contract.

    POST {url}/refunds                      header Idempotency-Key: <key>
        {"request_id": "rr_42", "amount_minor": 1299, "currency": "EUR",
         "payment_reference": "pay_9", "dispute": "D-7"}
    200/201 -> a refund object:
        {"id": "rf_1", "status": "pending|succeeded|failed|canceled",
         "amount_minor": 1299, "currency": "EUR", "failure_reason": null,
         "request_id": "rr_42", "dispute": "D-7", "created_at": "2024-05-01T12:00:00Z"}
    4xx but 408/409/425/429 -> refused: {"error": {"code": "...", "message": "..."}}
    429, or no connection   -> sent again with the same key (a short Retry-After is honoured)
    408, 409 (same key still in progress), 425, 5xx, a timeout or a lost answer
                            -> uncertain at once, never resent blindly

    GET {url}/refunds?payment_reference=pay_9
    200 -> {"refunds": [refund objects]}    every refund on the payment, whoever made it;
                                            [] when there is none
    anything else           -> uncertain (a failed look-up is never a refusal)

`failure_reason`, `request_id`, `dispute` and `created_at` (ISO 8601; without an offset it is
read as UTC) are optional; unknown fields are ignored. The list comes back oldest first: sorted by
`created_at` when every refund has one, in the service's order otherwise. The server must replay
its first answer for a repeated Idempotency-Key with the same body, refuse the same key with
another body (422), answer 409 while the first request with a key is still running, and never
refund more than was paid. Whether a refund is the one asked for (request id, amount, currency)
is the application's call, not the gateway's.
"""

from __future__ import annotations

from datetime import datetime

import httpx
from pydantic import BaseModel

from connectors.refunds.answers import as_utc, oldest_first, read_error
from connectors.refunds.gateway import (
    HttpRefundGatewayBase,
    ProviderError,
    RefundAnswer,
    RefundPost,
)
from connectors.refunds.protocol import RefundOrder, RefundResult, RefundStatus


class ContractRefund(RefundAnswer):
    id: str
    status: RefundStatus
    amount_minor: int
    currency: str
    failure_reason: str | None = None
    request_id: str | None = None
    dispute: str | None = None
    created_at: datetime | None = None

    def result(self) -> RefundResult:
        return RefundResult(
            provider_refund_id=self.id,
            status=self.status,
            amount_minor=self.amount_minor,
            currency=self.currency.upper(),
            failure_reason=self.failure_reason,
            request_id=self.request_id or None,
            dispute_ref=self.dispute or None,
            created_at=as_utc(self.created_at),
        )


class ContractRefundList(BaseModel):
    refunds: list[ContractRefund]


class ContractErrorBody(BaseModel):
    code: str | None = None
    message: str | None = None


class ContractError(BaseModel):
    error: ContractErrorBody


class HttpRefundGateway(HttpRefundGatewayBase):
    """A payment back end that speaks the contract above; one pooled client per gateway."""

    refund_answer = ContractRefund

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = f"http:{self.url}"
        super().__init__(
            label=self.name,
            sender_label=f"refund service {self.url}",
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            transport=transport,
        )

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        """Every refund the service lists on the payment, oldest first."""
        listed = await self._look_up(
            ContractRefundList, f"{self.url}/refunds", {"payment_reference": payment_reference}
        )
        return oldest_first([refund.result() for refund in listed.refunds], ties_by_id=False)

    def _refund_post(self, order: RefundOrder) -> RefundPost:
        return RefundPost(
            f"{self.url}/refunds",
            {
                "request_id": order.request_id,
                "amount_minor": order.amount_minor,
                "currency": order.currency.upper(),
                "payment_reference": order.payment_reference,
                "dispute": order.dispute_ref,
            },
        )

    def _error(self, response: httpx.Response) -> ProviderError:
        answer = read_error(ContractError, response)
        if answer is None:
            return ProviderError()
        return ProviderError(answer.error.message, answer.error.code)
