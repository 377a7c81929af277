"""`http:<base-url>`: orders read from `GET <base-url>/orders/<id>`, retried with backoff."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from connectors.http_retry import HttpRetry, NoFinalAnswer, WaitTooLong
from connectors.orders.protocol import (
    DecisionUpdate,
    InvalidOrderData,
    OrderNotFound,
    OrderSourceUnavailable,
)
from domain.orders import Order, describe_validation_error


class HttpOrderSource:
    """An order system behind HTTP; one pooled client for the life of the source."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.name = f"http:{self.base_url}"
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
            headers={"Accept": "application/json"},
        )
        self._retry = HttpRetry(self._client, attempts=attempts, backoff=backoff)

    async def get_order(self, order_id: str) -> Order:
        """404 is `OrderNotFound`, another 4xx a refusal at once; 5xx and lost connections retry."""
        wanted = order_id.strip()
        url = f"{self.base_url}/orders/{quote(wanted, safe='')}"
        try:
            response = await self._retry.request(
                "GET",
                url,
                retry_status=_server_error,
                retry_error=_transport_error,
                describe=self._describe,
            )
        except NoFinalAnswer as exc:
            raise OrderSourceUnavailable(_gave_up("order system unavailable", exc)) from None
        if response.status_code == 404:
            raise OrderNotFound(wanted)
        if response.is_success:
            return _parse(wanted, response)
        raise OrderSourceUnavailable(
            f"order system refused the request: HTTP {response.status_code}"
        )

    async def record_decision(
        self, order_id: str, return_id: str | None, update: DecisionUpdate
    ) -> bool:
        """`POST <base>/returns/<id>/decision`, retried on 5xx and timeouts with one key."""
        target = quote(return_id or order_id, safe="")
        url = f"{self.base_url}/returns/{target}/decision"
        try:
            # The idempotency key makes a resend after a lost answer safe for the order system.
            response = await self._retry.request(
                "POST",
                url,
                retry_status=_server_error,
                retry_error=_transport_error,
                json=update.to_json(),
                headers={"Idempotency-Key": update.idempotency_key},
            )
        except NoFinalAnswer as exc:
            raise OrderSourceUnavailable(
                _gave_up("order system did not take the decision", exc)
            ) from None
        if response.is_success:
            return True
        raise OrderSourceUnavailable(
            f"order system refused the decision: HTTP {response.status_code}"
        )

    def _describe(self, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self.timeout:g}s"
        return f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpOrderSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _server_error(status_code: int) -> bool:
    return status_code >= 500


def _transport_error(exc: httpx.HTTPError) -> bool:
    return isinstance(exc, httpx.TransportError)


def _gave_up(what: str, exc: NoFinalAnswer) -> str:
    if isinstance(exc, WaitTooLong):
        return f"{what}: {exc.failure} and asked to wait {exc.retry_after:g}s"
    return f"{what} after {exc.attempts} attempts: {exc.failure}"


def _parse(order_id: str, response: httpx.Response) -> Order:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidOrderData(order_id, "the response body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidOrderData(order_id, "the response body is not a JSON object")
    try:
        order = Order.model_validate(data)
    except ValidationError as exc:
        raise InvalidOrderData(order_id, describe_validation_error(exc)) from None
    if order.order_id.casefold() != order_id.casefold():
        raise InvalidOrderData(order_id, f"the order system answered with order {order.order_id}")
    return order
