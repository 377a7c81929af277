"""`http:<url>`: refunds through a shop's own payment back end, over a small JSON contract.

    POST {url}/refunds                      header Idempotency-Key: <key>
        {"request_id": "rr_42", "amount_minor": 1299, "currency": "EUR",
         "payment_reference": "pay_9", "dispute": "D-7"}
    200/201 -> a refund object:
        {"id": "rf_1", "status": "pending|succeeded|failed|canceled",
         "amount_minor": 1299, "currency": "EUR", "failure_reason": null, "request_id": "rr_42"}
    4xx     -> refused, never retried: {"error": {"code": "...", "message": "..."}}
    408, 409 (same key still in progress), 425, 429, 5xx -> retried with the same key

    GET {url}/refunds?request_id=rr_42  -> 200 {"refunds": [refund objects]}  ([] when none)

The server must replay its first answer for a repeated Idempotency-Key with the same body,
refuse the same key with another body (422), and never refund more than was paid.
`failure_reason` and `request_id` are optional; a `request_id` that is present must match.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ValidationError

from connectors.refunds.answers import check_answer, read_answer, refused
from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
)
from connectors.refunds.retry import RetryingSender, refund_once_or_found


class ContractRefund(BaseModel):
    id: str
    status: RefundStatus
    amount_minor: int
    currency: str
    failure_reason: str | None = None
    request_id: str | None = None

    def result(self) -> RefundResult:
        return RefundResult(
            provider_refund_id=self.id,
            status=self.status,
            amount_minor=self.amount_minor,
            currency=self.currency.upper(),
            failure_reason=self.failure_reason,
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
        self._sender = RetryingSender(
            self._client,
            provider=f"refund service {self.url}",
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
        )
        self._send_once = RetryingSender(
            self._client,
            provider=f"refund service {self.url}",
            timeout=timeout,
            attempts=1,
            backoff=backoff,
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
        if order.amount_minor <= 0:
            raise RefundError(f"refund amount must be positive, got {order.amount_minor}")
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        response = await self._send_once.send(
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
            raise _refusal(response, self.name)
        refund = read_answer(ContractRefund, response, provider=self.name)
        result = refund.result()
        return check_answer(order, result, request_id=refund.request_id, provider=self.name)

    async def find(self, order: RefundOrder) -> RefundResult | None:
        response = await self._sender.send(
            "GET", f"{self.url}/refunds", params={"request_id": order.request_id}
        )
        if not response.is_success:
            raise _refusal(response, self.name)
        listed = read_answer(ContractRefundList, response, provider=self.name).refunds
        ours = [r for r in listed if r.request_id in (None, order.request_id)]
        return ours[0].result() if ours else None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpRefundGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _refusal(response: httpx.Response, provider: str) -> RefundError:
    try:
        error = ContractError.model_validate_json(response.content).error
    except ValidationError:
        error = ContractErrorBody()
    return refused(provider, response.status_code, error.message, error.code)
