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

from connectors.refunds.answers import (
    as_utc,
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
)
from connectors.refunds.sending import RefundSender


class ContractRefund(BaseModel):
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


class HttpRefundGateway:
    """A payment back end that speaks the contract above; one pooled client per gateway."""

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
        self._client = httpx.AsyncClient(
            timeout=timeout, transport=transport, headers={"Accept": "application/json"}
        )
        self._sender = RefundSender(
            self._client,
            provider=f"refund service {self.url}",
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
        )

    async def refund(self, order: RefundOrder) -> RefundResult:
        """One refund POST; resent (same key) only when it cannot have reached the service."""
        if order.amount_minor <= 0:
            raise RefundError(f"refund amount must be positive, got {order.amount_minor}")
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        response = await self._sender.send_once(
            "POST",
            f"{self.url}/refunds",
            json={
                "request_id": order.request_id,
                "amount_minor": order.amount_minor,
                "currency": order.currency.upper(),
                "payment_reference": order.payment_reference,
                "dispute": order.dispute_ref,
            },
            headers={"Idempotency-Key": order.idempotency_key},
        )
        if not response.is_success:
            error = _error(response)
            raise refused(self.name, response.status_code, error.message, error.code)
        return read_answer(ContractRefund, response, provider=self.name).result()

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        """Every refund the service lists on the payment, oldest first."""
        response = await self._sender.send(
            "GET", f"{self.url}/refunds", params={"payment_reference": payment_reference}
        )
        if not response.is_success:
            raise lookup_failed(self.name, response, _error(response).message)
        listed = read_answer(ContractRefundList, response, provider=self.name).refunds
        return oldest_first([refund.result() for refund in listed], ties_by_id=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpRefundGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _error(response: httpx.Response) -> ContractErrorBody:
    answer = read_error(ContractError, response)
    return answer.error if answer is not None else ContractErrorBody()
