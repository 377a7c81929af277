"""What every HTTP refund gateway shares: the checks before a refund, sending it once, reading
the answer, turning errors into `RefundError` or `RefundUncertain`, and one pooled client.

A gateway keeps only what its provider does differently: where it posts and in what body, the
idempotency header, the shape of its refund and error objects, and how it lists refunds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel

from connectors.refunds.answers import Model, lookup_failed, read_answer, refused
from connectors.refunds.protocol import RefundError, RefundOrder, RefundResult
from connectors.refunds.sending import RefundSender


class RefundAnswer(BaseModel):
    """A provider's refund object; each gateway's model says how it reads as a `RefundResult`."""

    def result(self) -> RefundResult:
        raise NotImplementedError


@dataclass(frozen=True)
class ProviderError:
    """What a provider's error body says: the message and the code a refusal names."""

    message: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class RefundPost:
    """The refund request a provider wants: its URL and body, as a form or as JSON."""

    url: str
    body: Mapping[str, str | int | None]
    form: bool = False

    def content(self) -> dict[str, Any]:
        return {"data": dict(self.body)} if self.form else {"json": dict(self.body)}


class HttpRefundGatewayBase(ABC):
    """A refund gateway over HTTP; subclasses say what their provider does differently."""

    name: str
    idempotency_header: ClassVar[str] = "Idempotency-Key"
    refund_answer: ClassVar[type[RefundAnswer]]

    def __init__(
        self,
        *,
        label: str,
        sender_label: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,
        attempts: int,
        backoff: float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        # How answers and refusals name the provider; `sender_label` names it in transport news.
        self.label = label
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={**(headers or {}), "Accept": "application/json"},
        )
        self._sender = RefundSender(
            self._client,
            provider=sender_label or label,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
        )

    async def refund(self, order: RefundOrder) -> RefundResult:
        """One refund POST; resent (same key) only when it cannot have reached the provider."""
        # The provider's own reading of the order (e.g. its payment reference) is checked first.
        post = self._refund_post(order)
        if order.amount_minor <= 0:
            raise RefundError(f"refund amount must be positive, got {order.amount_minor}")
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        response = await self._sender.send_once(
            "POST",
            post.url,
            headers={self.idempotency_header: order.idempotency_key},
            **post.content(),
        )
        if not response.is_success:
            error = self._error(response)
            raise refused(self.label, response.status_code, error.message, error.code)
        return read_answer(self.refund_answer, response, provider=self.label).result()

    @abstractmethod
    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        """Every refund the provider holds on the payment, oldest first."""

    async def _look_up(self, model: type[Model], url: str, params: dict[str, Any]) -> Model:
        """One listing, retried while the provider says "not now"; any error status is uncertain."""
        response = await self._sender.send("GET", url, params=params)
        if not response.is_success:
            raise lookup_failed(self.label, response, self._error(response).message)
        return read_answer(model, response, provider=self.label)

    @abstractmethod
    def _refund_post(self, order: RefundOrder) -> RefundPost:
        """The provider's refund request for `order`; `RefundError` when it cannot take it."""

    @abstractmethod
    def _error(self, response: httpx.Response) -> ProviderError:
        """The provider's error body; an empty `ProviderError` when it is not one."""

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
