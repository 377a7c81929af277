"""Which answers of a payment provider are final: look-ups are retried freely, a refund POST is
resent only when it provably never reached the provider. Every resend is the same request,
headers included; attempts, backoff and `Retry-After` are `connectors.http_retry`'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.http_retry import AttemptsExhausted, HttpRetry, WaitTooLong
from connectors.refunds.protocol import RefundUncertain

# 408/425/429: come back later; 409: a request with the same Idempotency-Key is still running.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
# Raised before a single byte of the request was written: the provider cannot have seen it.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def is_retryable(status_code: int) -> bool:
    """A status that says "not now" rather than yes or no."""
    return status_code >= 500 or status_code in _RETRYABLE_4XX


def _any_error(_: httpx.HTTPError) -> bool:
    return True


def _never_sent(exc: httpx.HTTPError) -> bool:
    return isinstance(exc, _NEVER_SENT)


def _only_429(status_code: int) -> bool:
    return status_code == 429


class RefundSender:
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
        self.provider = provider
        self.timeout = timeout
        self._retry = HttpRetry(client, attempts=attempts, backoff=backoff)

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The first response that is not retryable (a 2xx or any other final status)."""
        # Any transport error, or an answer we cannot decode: a look-up moves no money.
        return await self._request(
            method, url, is_retryable, _any_error, "gave no final answer", **kwargs
        )

    async def _request(
        self,
        method: str,
        url: str,
        retry_status: Callable[[int], bool],
        retry_error: Callable[[httpx.HTTPError], bool],
        gave_up: str,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            return await self._retry.request(
                method,
                url,
                retry_status=retry_status,
                retry_error=retry_error,
                describe=self._describe,
                **kwargs,
            )
        except WaitTooLong as exc:
            raise self._asked_to_wait(exc) from None
        except AttemptsExhausted as exc:
            raise RefundUncertain(
                f"{self.provider} {gave_up} after {exc.attempts} attempts: {exc.failure}"
            ) from None

    async def send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A 2xx, or a 4xx that is the provider's refusal (not 408, 409, 425 or 429)."""
        try:
            response = await self._request(
                method, url, _only_429, _never_sent, "did not take the request", **kwargs
            )
        except httpx.HTTPError as exc:  # sent: a reset, a timeout, an undecodable answer
            raise RefundUncertain(
                f"{self.provider}: {self._describe(exc)}; the request was sent and may "
                "have been acted on"
            ) from exc
        status = response.status_code
        if response.is_success or (400 <= status < 500 and status not in _RETRYABLE_4XX):
            return response
        raise RefundUncertain(
            f"{self.provider} answered HTTP {status}{_reason(response)}; "
            "the request may have been acted on"
        )

    def _asked_to_wait(self, exc: WaitTooLong) -> RefundUncertain:
        return RefundUncertain(
            f"{self.provider} answered {exc.failure} and asked to wait {exc.retry_after:g}s"
        )

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
