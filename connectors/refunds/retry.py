"""Sending to a payment provider: look-ups retried freely, a refund POST resent only when it
provably never reached the provider. Every resend is the same request, headers included."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.refunds.protocol import RefundUncertain

# 408/425/429: come back later; 409: a request with the same Idempotency-Key is still running.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
# The longest Retry-After we wait for inside one call; a longer one ends the call.
MAX_RETRY_AFTER = 5.0
# Raised before a single byte of the request was written: the provider cannot have seen it.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_sleep = asyncio.sleep


def is_retryable(status_code: int) -> bool:
    """A status that says "not now" rather than yes or no."""
    return status_code >= 500 or status_code in _RETRYABLE_4XX


class RetryingSender:
    """Sends requests for one provider, up to `attempts` times, with backoff and jitter.

    `send` is for look-ups: it retries transport errors, 5xx, 408, 409, 425 and 429.
    `send_once` is for a refund POST: it resends only a connection that was never made and a
    429, and raises `RefundUncertain` at once on any other non-answer.
    Both raise `RefundUncertain` when no final answer came; a short `Retry-After` is honoured.
    """

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
        """The first response that is not retryable (a 2xx or any other final status)."""
        failure = ""
        for attempt in range(1, self.attempts + 1):
            response: httpx.Response | None = None
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:  # a transport error, or an answer we cannot decode
                failure = self._describe(exc)
            else:
                if not is_retryable(response.status_code):
                    return response
                failure = f"HTTP {response.status_code}"
            await self._pause(attempt, response, failure)
        raise RefundUncertain(
            f"{self.provider} gave no final answer after {self.attempts} attempts: {failure}"
        )

    async def send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A 2xx, or a 4xx that is the provider's refusal (not 408, 409, 425 or 429)."""
        failure = ""
        for attempt in range(1, self.attempts + 1):
            response: httpx.Response | None = None
            try:
                response = await self.client.request(method, url, **kwargs)
            except _NEVER_SENT as exc:
                failure = self._describe(exc)
            except httpx.HTTPError as exc:  # sent: a reset, a timeout, an undecodable answer
                raise RefundUncertain(
                    f"{self.provider}: {self._describe(exc)}; the request was sent and may "
                    "have been acted on"
                ) from exc
            else:
                status = response.status_code
                if response.is_success or (400 <= status < 500 and status not in _RETRYABLE_4XX):
                    return response
                if status != 429:
                    raise RefundUncertain(
                        f"{self.provider} answered HTTP {status}{_reason(response)}; "
                        "the request may have been acted on"
                    )
                failure = "HTTP 429"
            await self._pause(attempt, response, failure)
        raise RefundUncertain(
            f"{self.provider} did not take the request after {self.attempts} attempts: {failure}"
        )

    async def _pause(self, attempt: int, response: httpx.Response | None, failure: str) -> None:
        """Wait before the next attempt; raise when there is none or the provider wants longer."""
        if attempt == self.attempts:
            return
        retry_after = _retry_after(response)
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            raise RefundUncertain(
                f"{self.provider} answered {failure} and asked to wait {retry_after:g}s"
            )
        delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        await _sleep(max(delay, retry_after or 0.0))

    def _describe(self, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not connect within {self.timeout:g}s"
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self.timeout:g}s"
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect: {exc}".rstrip(": ")
        if isinstance(exc, httpx.DecodingError):
            return f"an answer that cannot be decoded: {exc}".rstrip(": ")
        return f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")


def _reason(response: httpx.Response) -> str:
    return f" {response.reason_phrase}" if response.reason_phrase else ""


def _retry_after(response: httpx.Response | None) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date); None when absent or unreadable."""
    if response is None:
        return None
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
