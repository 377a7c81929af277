"""Send one HTTP request with retries: the same request every time, backoff with jitter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from connectors.refunds.protocol import RefundResult, RefundUncertain

# 408/425/429: come back later; 409: a request with the same Idempotency-Key is still running.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = 5.0


def is_retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code in _RETRYABLE_4XX


class RetryingSender:
    """Sends a request up to `attempts` times; `RefundUncertain` when no final answer came."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        timeout: float,
        attempts: int,
        backoff: float,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.client = client
        self.provider = provider
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The first non-retryable response (2xx or a refusal); retries keep every header."""
        failure = ""
        for attempt in range(1, self.attempts + 1):
            response: httpx.Response | None = None
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.TimeoutException:
                failure = f"timed out after {self.timeout:g}s"
            except httpx.TransportError as exc:
                failure = f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if not is_retryable(response.status_code):
                    return response
                failure = f"HTTP {response.status_code}"
            if attempt < self.attempts:
                await asyncio.sleep(self._delay(attempt, response))
        raise RefundUncertain(
            f"{self.provider} gave no final answer after {self.attempts} attempts: {failure}"
        )

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Exponential backoff with jitter; a short `Retry-After` from the provider wins."""
        delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        retry_after = _retry_after(response)
        return max(delay, retry_after) if retry_after is not None else delay


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


async def refund_once_or_found(
    send: Callable[[], Awaitable[RefundResult]],
    find: Callable[[], Awaitable[RefundResult | None]],
    *,
    attempts: int,
    backoff: float,
) -> RefundResult:
    """Send a refund; after an unknown outcome, look for it at the provider before resending.

    Never trusts the provider to deduplicate on the Idempotency-Key: some (localstripe, some
    in-house back ends) refund twice when a request is simply sent again.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await send()
        except RefundUncertain as exc:
            if attempt == attempts:
                raise RefundUncertain(
                    f"{exc} (sent {attempts} times, looked up in between)"
                ) from exc
        await asyncio.sleep(backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        found = await find()
        if found is not None:
            return found
    raise AssertionError("unreachable")
