"""`HttpRetry`: attempts, backoff with jitter and `Retry-After`, over `httpx.MockTransport`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors import http_retry
from connectors.http_retry import (
    AttemptsExhausted,
    HttpRetry,
    WaitTooLong,
    backoff_delay,
    retry_after,
)

Answer = httpx.Response | Exception


class Script:
    """Answers requests in turn from a list; an exception in the list is raised instead."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause between attempts, recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(http_retry, "_sleep", record)
    return recorded


@pytest.fixture
async def retry_for() -> AsyncIterator[Callable[..., HttpRetry]]:
    clients: list[httpx.AsyncClient] = []

    def make(script: Script, *, attempts: int = 3, backoff: float = 0.001) -> HttpRetry:
        client = httpx.AsyncClient(transport=httpx.MockTransport(script))
        clients.append(client)
        return HttpRetry(client, attempts=attempts, backoff=backoff)

    yield make
    for client in clients:
        await client.aclose()


def server_error(status_code: int) -> bool:
    return status_code >= 500


def only_429(status_code: int) -> bool:
    return status_code == 429


def any_error(_: httpx.HTTPError) -> bool:
    return True


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


async def test_a_retry_after_in_seconds_is_waited(retry_for, sleeps) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200))
    response = await retry_for(script).request("GET", "https://x.test/", retry_status=server_error)
    assert response.status_code == 200
    assert sleeps == [2.0]


async def test_a_retry_after_as_an_http_date_is_waited(retry_for, sleeps) -> None:
    later = http_date(datetime.now(UTC) + timedelta(seconds=3))
    script = Script(httpx.Response(429, headers={"Retry-After": later}), httpx.Response(201))
    response = await retry_for(script).request("POST", "https://x.test/", retry_status=only_429)
    assert response.status_code == 201
    # An HTTP date counts whole seconds: three seconds from now reads as two to three.
    assert len(sleeps) == 1
    assert 1.0 < sleeps[0] <= 3.0


async def test_a_retry_after_date_in_the_past_waits_only_the_backoff(retry_for, sleeps) -> None:
    earlier = http_date(datetime.now(UTC) - timedelta(minutes=5))
    script = Script(httpx.Response(503, headers={"Retry-After": earlier}), httpx.Response(200))
    await retry_for(script, backoff=0.1).request(
        "GET", "https://x.test/", retry_status=server_error
    )
    assert len(sleeps) == 1
    assert 0.05 <= sleeps[0] <= 0.15


async def test_an_unreadable_retry_after_is_ignored(retry_for, sleeps) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "soon"}), httpx.Response(200))
    await retry_for(script, backoff=0.1).request(
        "GET", "https://x.test/", retry_status=server_error
    )
    assert len(sleeps) == 1
    assert 0.05 <= sleeps[0] <= 0.15


@pytest.mark.parametrize(
    "header",
    ["120", http_date(datetime.now(UTC) + timedelta(hours=1))],
    ids=["seconds", "http-date"],
)
async def test_a_retry_after_past_the_maximum_ends_the_call(retry_for, sleeps, header) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200))
    with pytest.raises(WaitTooLong) as caught:
        await retry_for(script).request("POST", "https://x.test/", retry_status=only_429)
    assert caught.value.retry_after > http_retry.MAX_RETRY_AFTER
    assert caught.value.failure == "HTTP 429"
    assert caught.value.attempts == 1
    assert len(script.requests) == 1
    assert sleeps == []


async def test_the_maximum_retry_after_is_the_callers(sleeps) -> None:
    script = Script(httpx.Response(503, headers={"Retry-After": "8"}), httpx.Response(200))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        retry = HttpRetry(client, attempts=2, backoff=0.001, max_retry_after=10.0)
        response = await retry.request("GET", "https://x.test/", retry_status=server_error)
    assert response.status_code == 200
    assert sleeps == [8.0]


def test_jitter_stays_within_half_and_one_and_a_half_of_the_backoff() -> None:
    assert backoff_delay(0.2, 1, uniform=lambda low, high: low) == pytest.approx(0.1)
    assert backoff_delay(0.2, 1, uniform=lambda low, high: high) == pytest.approx(0.3)
    assert backoff_delay(0.2, 3, uniform=lambda low, high: low) == pytest.approx(0.4)
    assert backoff_delay(0.2, 3, uniform=lambda low, high: high) == pytest.approx(1.2)
    delays = {backoff_delay(1.0, 2) for _ in range(500)}
    assert all(1.0 <= delay <= 3.0 for delay in delays)
    assert len(delays) > 1, "the delay is jittered, not fixed"


async def test_attempts_exhausted_after_backing_off_between_each(retry_for, sleeps) -> None:
    script = Script(*[httpx.Response(503) for _ in range(4)])
    with pytest.raises(AttemptsExhausted) as caught:
        await retry_for(script, attempts=4, backoff=1.0).request(
            "GET", "https://x.test/", retry_status=server_error
        )
    assert (caught.value.attempts, caught.value.failure) == (4, "HTTP 503")
    assert len(script.requests) == 4
    # No pause after the last attempt; each pause doubles, within its jitter.
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= slept <= 1.5 * 2 ** (attempt - 1)


async def test_retryable_errors_are_tried_again_then_named(retry_for, sleeps) -> None:
    script = Script(*[httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(AttemptsExhausted) as caught:
        await retry_for(script).request(
            "GET", "https://x.test/", retry_status=server_error, retry_error=any_error
        )
    assert caught.value.failure == "ConnectError: refused"
    assert len(script.requests) == 3
    assert len(sleeps) == 2


async def test_the_last_answer_is_what_is_named(retry_for, sleeps) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(502))
    with pytest.raises(AttemptsExhausted, match="HTTP 502"):
        await retry_for(script, attempts=2).request(
            "GET",
            "https://x.test/",
            retry_status=server_error,
            retry_error=any_error,
            describe=lambda exc: "no connection",
        )


@pytest.mark.parametrize(
    ("status", "retry_status"), [(404, server_error), (200, server_error), (500, only_429)]
)
async def test_an_answer_not_to_retry_comes_back_at_once(
    retry_for, sleeps, status, retry_status
) -> None:
    script = Script(httpx.Response(status, headers={"Retry-After": "1"}), httpx.Response(200))
    response = await retry_for(script).request("GET", "https://x.test/", retry_status=retry_status)
    assert response.status_code == status
    assert len(script.requests) == 1
    assert sleeps == []


async def test_an_error_not_to_retry_is_raised_as_it_came(retry_for, sleeps) -> None:
    script = Script(httpx.ReadTimeout("answer lost"), httpx.Response(200))
    with pytest.raises(httpx.ReadTimeout, match="answer lost"):
        await retry_for(script).request("POST", "https://x.test/", retry_status=only_429)
    assert len(script.requests) == 1
    assert sleeps == []


async def test_every_attempt_sends_the_same_request(retry_for, sleeps) -> None:
    script = Script(httpx.Response(429), httpx.Response(429), httpx.Response(201))
    await retry_for(script).request(
        "POST",
        "https://x.test/refunds",
        retry_status=only_429,
        json={"amount_minor": 1299},
        headers={"Idempotency-Key": "key-1"},
    )
    sent = {(r.url, r.headers["Idempotency-Key"], r.content) for r in script.requests}
    assert len(script.requests) == 3
    assert sent == {(httpx.URL("https://x.test/refunds"), "key-1", b'{"amount_minor":1299}')}


async def test_a_long_retry_after_on_the_last_attempt_is_just_the_last_answer(
    retry_for, sleeps
) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(AttemptsExhausted):
        await retry_for(script, attempts=1).request(
            "POST", "https://x.test/", retry_status=only_429
        )


def test_retry_after_reads_seconds_dates_and_nothing() -> None:
    def answer(value: str | None) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value} if value is not None else {})

    assert retry_after(None) is None
    assert retry_after(answer(None)) is None
    assert retry_after(answer("  ")) is None
    assert retry_after(answer("1.5")) == 1.5
    assert retry_after(answer("-3")) == 0.0
    assert retry_after(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0
    assert retry_after(answer("not a date")) is None


async def test_at_least_one_attempt() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="at least 1"):
            HttpRetry(client, attempts=0, backoff=0.1)
