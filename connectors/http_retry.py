"""Sending one HTTP request up to a few times: backoff with jitter, and `Retry-After` honoured up
to a maximum. The caller says which answers and which errors are worth another attempt; every
other answer comes back at once, every other error is raised as it came."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# The longest Retry-After we wait for inside one call; a longer one ends the call.
MAX_RETRY_AFTER = 5.0

# Module level so that tests can record the pauses instead of sleeping them.
_sleep = asyncio.sleep

StatusTest = Callable[[int], bool]
ErrorTest = Callable[[httpx.HTTPError], bool]
Describe = Callable[[httpx.HTTPError], str]


class NoFinalAnswer(Exception):
    """The request got no answer the caller takes as final; `failure` says what came last."""

    def __init__(self, failure: str, *, attempts: int) -> None:
        super().__init__(failure)
        self.failure = failure
        self.attempts = attempts


class AttemptsExhausted(NoFinalAnswer):
    """Every attempt was made and each ended in a retryable answer or error."""


class WaitTooLong(NoFinalAnswer):
    """The server asked to wait longer than the allowed maximum before the next attempt."""

    def __init__(self, failure: str, *, attempts: int, retry_after: float) -> None:
        super().__init__(failure, attempts=attempts)
        self.retry_after = retry_after


def _never(_: httpx.HTTPError) -> bool:
    return False


def describe_error(exc: httpx.HTTPError) -> str:
    """A transport error in a few words, naming its kind."""
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class HttpRetry:
    """Attempts, backoff and the longest `Retry-After` worth waiting for, for one client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        attempts: int,
        backoff: float,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.client = client
        self.attempts = attempts
        self.backoff = backoff
        self.max_retry_after = max_retry_after

    async def request(
        self,
        method: str,
        url: str,
        *,
        retry_status: StatusTest,
        retry_error: ErrorTest = _never,
        describe: Describe = describe_error,
        **kwargs: Any,
    ) -> httpx.Response:
        """The first answer whose status `retry_status` does not want retried.

        An `httpx.HTTPError` that `retry_error` accepts is tried again; any other is raised
        unchanged. Raises `AttemptsExhausted` or `WaitTooLong` when no final answer came.
        """
        for attempt in range(1, self.attempts + 1):
            response: httpx.Response | None = None
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if not retry_error(exc):
                    raise
                failure = describe(exc)
            else:
                if not retry_status(response.status_code):
                    return response
                failure = f"HTTP {response.status_code}"
            if attempt == self.attempts:
                raise AttemptsExhausted(failure, attempts=attempt)
            await self._pause(attempt, response, failure)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _pause(self, attempt: int, response: httpx.Response | None, failure: str) -> None:
        """Wait before the next attempt, or end the call when the server wants a longer wait."""
        wait = retry_after(response)
        if wait is not None and wait > self.max_retry_after:
            raise WaitTooLong(failure, attempts=attempt, retry_after=wait)
        await _sleep(max(backoff_delay(self.backoff, attempt), wait or 0.0))


def backoff_delay(
    backoff: float, attempt: int, *, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """Exponential backoff with jitter (0.5x to 1.5x), so that many callers do not retry in step."""
    return backoff * 2 ** (attempt - 1) * uniform(0.5, 1.5)


def retry_after(response: httpx.Response | None) -> float | None:
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
