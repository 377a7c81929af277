"""`http:<base-url>`: orders read from `GET <base-url>/orders/<id>`, retried with backoff."""

from __future__ import annotations

import asyncio
import json
import random
from urllib.parse import quote

import httpx
from pydantic import ValidationError

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

    async def get_order(self, order_id: str) -> Order:
        wanted = order_id.strip()
        url = f"{self.base_url}/orders/{quote(wanted, safe='')}"
        failure = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.get(url)
            except httpx.TimeoutException:
                failure = f"timed out after {self.timeout:g}s"
            except httpx.TransportError as exc:
                failure = f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if response.status_code == 404:
                    raise OrderNotFound(wanted)
                if response.is_success:
                    return _parse(wanted, response)
                if response.status_code < 500:
                    raise OrderSourceUnavailable(
                        f"order system refused the request: HTTP {response.status_code}"
                    )
                failure = f"HTTP {response.status_code}"
            if attempt < self.attempts:
                await asyncio.sleep(self._delay(attempt))
        raise OrderSourceUnavailable(
            f"order system unavailable after {self.attempts} attempts: {failure}"
        )

    async def record_decision(
        self, order_id: str, return_id: str | None, update: DecisionUpdate
    ) -> bool:
        """`POST <base>/returns/<id>/decision`, retried on 5xx and timeouts with one key."""
        target = quote(return_id or order_id, safe="")
        url = f"{self.base_url}/returns/{target}/decision"
        headers = {"Idempotency-Key": update.idempotency_key}
        failure = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(url, json=update.to_json(), headers=headers)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if response.is_success:
                    return True
                if response.status_code < 500:
                    raise OrderSourceUnavailable(
                        f"order system refused the decision: HTTP {response.status_code}"
                    )
                failure = f"HTTP {response.status_code}"
            if attempt < self.attempts:
                await asyncio.sleep(self._delay(attempt))
        raise OrderSourceUnavailable(
            f"order system did not take the decision after {self.attempts} attempts: {failure}"
        )

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter, so that many callers do not retry in step."""
        return self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpOrderSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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
