"""`StripeGateway` against a real localstripe subprocess, with faults injected on the wire, and
against in-process transports for the answers localstripe never gives."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from connectors import http_retry as retry_module
from connectors.refunds import stripe as stripe_module
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundStatus,
    RefundUncertain,
)
from connectors.refunds.stripe import STRIPE_VERSION, StripeGateway
from tests.support.localstripe import (
    API_KEY,
    create_payment,
    localstripe_server,
    require_localstripe,
)


@pytest.fixture(scope="module")
def localstripe() -> Iterator[str]:
    require_localstripe()
    with localstripe_server() as url:
        yield url


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to the server, except that each planned fault answers one request instead.

    Faults: "500", "429" and "429-long" (answered here, nothing forwarded); "connect" and
    "connect-timeout" (raised before forwarding: no connection); "lost" and "reset" (forwarded,
    so the server acted, then the answer is lost). Only `methods` take faults.
    """

    def __init__(self, *faults: str, methods: tuple[str, ...] = ("POST",)) -> None:
        self.faults = deque(faults)
        self.methods = methods
        self.seen: list[httpx.Request] = []
        self.forwarded: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        planned = request.method in self.methods
        fault = self.faults.popleft() if self.faults and planned else None
        if fault in ("500", "429", "429-long"):
            body = {"error": {"type": "api_error", "message": "planned"}}
            wait = {"429": "1", "429-long": "120"}.get(fault)
            headers = {"Retry-After": wait} if wait else {}
            return httpx.Response(int(fault[:3]), json=body, headers=headers)
        if fault == "connect":
            raise httpx.ConnectError("planned: connection refused", request=request)
        if fault == "connect-timeout":
            raise httpx.ConnectTimeout("planned: no connection", request=request)
        self.forwarded.append(request)
        response = await self._inner.handle_async_request(request)
        if fault in ("lost", "reset"):
            await response.aread()
            await response.aclose()
            if fault == "lost":
                raise httpx.ReadTimeout(
                    "planned: answer lost after the server acted", request=request
                )
            raise httpx.RemoteProtocolError(
                "planned: reset after the server acted", request=request
            )
        return response

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every refund sent."""
        return [r.headers.get("Idempotency-Key") for r in self.seen if r.method == "POST"]

    def posts_forwarded(self) -> int:
        return sum(r.method == "POST" for r in self.forwarded)

    def lookups(self) -> int:
        return sum(r.method == "GET" for r in self.seen)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def gateway_for(localstripe: str) -> AsyncIterator[Callable[..., StripeGateway]]:
    made: list[StripeGateway] = []

    def make(transport: httpx.AsyncBaseTransport | None = None, **options: float) -> StripeGateway:
        options = {"timeout": 5.0, "attempts": 3, "backoff": 0.001, **options}
        gateway = StripeGateway(API_KEY, api_base=localstripe, transport=transport, **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause between attempts, recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(retry_module, "_sleep", record)
    return recorded


def order(payment: str, amount_minor: int, request_id: str | None = None) -> RefundOrder:
    request_id = request_id or f"rr_{uuid.uuid4().hex[:8]}"
    return RefundOrder(
        request_id=request_id,
        idempotency_key=f"dd-refund-{request_id}",
        payment_reference=payment,
        amount_minor=amount_minor,
        currency="EUR",
        dispute_ref="D-7",
    )


async def stored_refunds(base: str, payment: str) -> list[dict]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        response = await client.get(
            f"{base}/v1/refunds", params={"payment_intent": payment, "limit": 100}
        )
    response.raise_for_status()
    return response.json()["data"]


async def refund_by_someone_else(base: str, payment: str, amount_minor: int) -> str:
    """A refund made outside the app (the Stripe dashboard, say): no metadata of ours."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        response = await client.post(
            f"{base}/v1/refunds", data={"payment_intent": payment, "amount": str(amount_minor)}
        )
    response.raise_for_status()
    return str(response.json()["id"])


# -- against localstripe --------------------------------------------------------------------


async def test_one_post_with_our_metadata_and_key(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport()
    gateway = gateway_for(transport)
    asked = order(payment, 1500, "rr_42")
    before = datetime.now(UTC).replace(microsecond=0)

    result = await gateway.refund(asked)

    assert isinstance(gateway, RefundGateway)
    assert result.status is RefundStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1500, "EUR")
    assert (result.request_id, result.dispute_ref) == ("rr_42", "D-7")
    assert result.matches(asked)
    assert result.created_at is not None and result.created_at.tzinfo is UTC
    assert before <= result.created_at <= datetime.now(UTC)
    [stored] = await stored_refunds(localstripe, payment)
    assert stored["id"] == result.provider_refund_id
    assert stored["metadata"] == {"dispute": "D-7", "refund_request": "rr_42"}
    [sent] = transport.seen
    assert sent.headers["Idempotency-Key"] == "dd-refund-rr_42"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Stripe-Version"] == STRIPE_VERSION
    form = dict(httpx.QueryParams(sent.content.decode()))
    assert form == {
        "payment_intent": payment,
        "amount": "1500",
        "metadata[dispute]": "D-7",
        "metadata[refund_request]": "rr_42",
    }
    assert await gateway.refunds_on(payment) == [result]


async def test_refunds_on_lists_every_refund_whoever_made_it(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    gateway = gateway_for()
    mine = await gateway.refund(order(payment, 100, "rr_mine"))
    theirs = await refund_by_someone_else(localstripe, payment, 200)
    other = await gateway.refund(order(payment, 300, "rr_other"))

    listed = await gateway.refunds_on(payment)

    assert {r.provider_refund_id for r in listed} == {
        mine.provider_refund_id,
        theirs,
        other.provider_refund_id,
    }
    [foreign] = [r for r in listed if r.provider_refund_id == theirs]
    assert (foreign.request_id, foreign.dispute_ref, foreign.amount_minor) == (None, None, 200)
    assert not foreign.matches(order(payment, 200))
    assert listed == sorted(listed, key=lambda r: (r.created_at, r.provider_refund_id))


async def test_refunds_on_a_payment_without_refunds_is_empty(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")

    assert await gateway_for().refunds_on(payment) == []


async def test_same_key_twice_makes_two_refunds_on_localstripe_both_listed(
    localstripe: str, gateway_for
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    gateway = gateway_for()
    asked = order(payment, 1000)

    first = await gateway.refund(asked)
    second = await gateway.refund(asked)

    # localstripe ignores Idempotency-Key (real Stripe would replay `first`): both refunds are
    # there, and both carry the request id; telling them apart is the application's job.
    assert second.provider_refund_id != first.provider_refund_id
    listed = await gateway.refunds_on(payment)
    assert {r.provider_refund_id for r in listed} == {
        first.provider_refund_id,
        second.provider_refund_id,
    }
    assert all(r.matches(asked) for r in listed)


async def test_refunds_on_follows_every_page(localstripe: str, gateway_for, monkeypatch) -> None:
    monkeypatch.setattr(stripe_module, "PAGE_SIZE", 2)
    payment = await create_payment(localstripe, 5000, "EUR")
    maker = gateway_for()
    made = [await maker.refund(order(payment, 100, f"rr_page_{n}")) for n in range(5)]
    transport = FaultyTransport()

    listed = await gateway_for(transport).refunds_on(payment)

    assert sorted(r.provider_refund_id for r in listed) == sorted(
        r.provider_refund_id for r in made
    )
    assert {r.request_id for r in listed} == {f"rr_page_{n}" for n in range(5)}
    assert len(transport.seen) == 3
    cursors = [r.url.params.get("starting_after") for r in transport.seen]
    assert cursors[0] is None
    assert cursors[1] is not None and cursors[2] is not None and cursors[1] != cursors[2]
    assert {r.url.params["limit"] for r in transport.seen} == {"2"}
    assert {r.url.params["payment_intent"] for r in transport.seen} == {payment}


async def test_unknown_payment_intent_is_a_definite_refusal_with_stripes_message(
    gateway_for,
) -> None:
    transport = FaultyTransport()
    gateway = gateway_for(transport)

    with pytest.raises(RefundError) as caught:
        await gateway.refund(order("pi_doesnotexist", 100))

    assert caught.value.status_code == 404
    assert str(caught.value) == "Stripe refused the refund: Not Found"
    assert len(transport.seen) == 1  # never resent


async def test_a_404_on_the_list_is_uncertain_not_a_refusal(gateway_for) -> None:
    transport = FaultyTransport()
    gateway = gateway_for(transport)

    with pytest.raises(RefundUncertain, match="could not list refunds: HTTP 404: Not Found"):
        await gateway.refunds_on("pi_doesnotexist")

    assert transport.lookups() == 1


@pytest.mark.parametrize("fault", ["lost", "reset"])
async def test_an_answer_lost_after_sending_is_uncertain_and_not_resent(
    localstripe: str, gateway_for, fault: str
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport(fault)
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    with pytest.raises(RefundUncertain, match="may have been acted on"):
        await gateway.refund(asked)

    assert transport.keys() == [asked.idempotency_key]
    assert transport.posts_forwarded() == 1
    [stored] = await stored_refunds(localstripe, payment)
    [listed] = await gateway.refunds_on(payment)
    assert listed.provider_refund_id == stored["id"] and listed.matches(asked)


async def test_a_500_is_uncertain_after_one_post(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("500")
    gateway = gateway_for(transport)

    with pytest.raises(RefundUncertain, match="HTTP 500"):
        await gateway.refund(order(payment, 700))

    assert len(transport.keys()) == 1
    assert await stored_refunds(localstripe, payment) == []


@pytest.mark.parametrize("fault", ["connect", "connect-timeout"])
async def test_a_connection_never_made_is_resent_with_the_same_key(
    localstripe: str, gateway_for, fault: str
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport(fault)
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    result = await gateway.refund(asked)

    assert result.matches(asked)
    assert transport.keys() == [asked.idempotency_key] * 2
    assert transport.posts_forwarded() == 1
    assert len(await stored_refunds(localstripe, payment)) == 1


async def test_a_429_is_resent_with_the_same_key_after_its_retry_after(
    localstripe: str, gateway_for, sleeps: list[float]
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("429")
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    result = await gateway.refund(asked)

    assert result.matches(asked)
    assert transport.keys() == [asked.idempotency_key] * 2
    assert sleeps == [1.0]
    assert len(await stored_refunds(localstripe, payment)) == 1


async def test_a_429_asking_for_a_long_wait_is_uncertain_at_once(
    localstripe: str, gateway_for, sleeps: list[float]
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("429-long")
    gateway = gateway_for(transport)

    with pytest.raises(RefundUncertain, match="asked to wait 120s"):
        await gateway.refund(order(payment, 700))

    assert len(transport.keys()) == 1 and sleeps == []


async def test_429s_until_the_attempts_run_out_are_uncertain(
    localstripe: str, gateway_for, sleeps: list[float]
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("429", "429", "429")
    gateway = gateway_for(transport)

    with pytest.raises(RefundUncertain, match="after 3 attempts: HTTP 429"):
        await gateway.refund(order(payment, 700))

    assert len(transport.keys()) == 3 and len(sleeps) == 2
    assert await stored_refunds(localstripe, payment) == []


async def test_list_5xx_are_retried_then_answered(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    made = await gateway_for().refund(order(payment, 700))
    transport = FaultyTransport("500", "500", methods=("GET",))

    assert await gateway_for(transport).refunds_on(payment) == [made]
    assert transport.lookups() == 3


async def test_list_5xx_until_the_attempts_run_out_are_uncertain(gateway_for) -> None:
    transport = FaultyTransport("500", "500", "500", methods=("GET",))

    with pytest.raises(RefundUncertain, match="after 3 attempts: HTTP 500"):
        await gateway_for(transport).refunds_on("pi_x")


# -- connections that fail for real ---------------------------------------------------------


class Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_nobody_listening_is_tried_every_attempt_then_uncertain() -> None:
    transport = Counting()
    gateway = StripeGateway(
        API_KEY,
        api_base=f"http://127.0.0.1:{closed_port()}",
        attempts=3,
        backoff=0.001,
        transport=transport,
    )
    async with gateway:
        with pytest.raises(RefundUncertain, match="did not take the request after 3 attempts"):
            await gateway.refund(order("pi_x", 100))
    keys = {r.headers["Idempotency-Key"] for r in transport.seen}
    assert len(transport.seen) == 3 and len(keys) == 1


async def test_a_server_that_never_answers_is_uncertain_after_one_post() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, read nothing back, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = StripeGateway(
        API_KEY, api_base=f"http://127.0.0.1:{port}", timeout=0.2, attempts=2, backoff=0.001
    )
    try:
        with pytest.raises(RefundUncertain, match=r"timed out after 0\.2s; the request was sent"):
            await gateway.refund(order("pi_x", 100))
        assert len(writers) == 1  # the refund was not sent again
        with pytest.raises(RefundUncertain, match=r"after 2 attempts: timed out after 0\.2s"):
            await gateway.refunds_on("pi_x")
        assert len(writers) == 3  # the look-up was tried twice
    finally:
        await gateway.aclose()
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()


# -- answers localstripe never gives --------------------------------------------------------


class Answering(httpx.AsyncBaseTransport):
    """Answers each request with the next planned response (the last one repeats)."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


def reply(body: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body), headers=headers)


def refund_body(**changes: object) -> dict:
    body = {
        "id": "re_1",
        "object": "refund",
        "amount": 700,
        "currency": "eur",
        "status": "succeeded",
        "created": 1714564800,
        "metadata": {"dispute": "D-7", "refund_request": "rr_1"},
    }
    return {**body, **changes}


def page(*refunds: dict, has_more: bool = False) -> dict:
    return {"object": "list", "data": list(refunds), "has_more": has_more}


@pytest.fixture
async def stripe_with() -> AsyncIterator[Callable[..., StripeGateway]]:
    made: list[StripeGateway] = []

    def make(transport: httpx.AsyncBaseTransport, **options: float) -> StripeGateway:
        options = {"attempts": 3, "backoff": 0.001, **options}
        gateway = StripeGateway(API_KEY, transport=transport, **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("pending", RefundStatus.PENDING),
        ("requires_action", RefundStatus.PENDING),
        ("succeeded", RefundStatus.SUCCEEDED),
        ("failed", RefundStatus.FAILED),
        ("canceled", RefundStatus.CANCELED),
        ("something_new", RefundStatus.PENDING),
    ],
)
async def test_stripe_statuses_map_to_ours(stripe_with, stripe_status: str, ours) -> None:
    gateway = stripe_with(Answering(reply(refund_body(status=stripe_status))))

    assert (await gateway.refund(order("pi_x", 700, "rr_1"))).status is ours


async def test_a_failed_refund_is_returned_with_its_reason(stripe_with) -> None:
    body = refund_body(status="failed", failure_reason="expired_or_canceled_card")
    gateway = stripe_with(Answering(reply(body)))

    result = await gateway.refund(order("pi_x", 700, "rr_1"))

    assert (result.status, result.failure_reason) == (
        RefundStatus.FAILED,
        "expired_or_canceled_card",
    )


async def test_the_answer_is_returned_as_given_even_when_it_is_not_what_was_asked(
    stripe_with,
) -> None:
    body = refund_body(amount=7000, currency="usd", metadata={"refund_request": "rr_2"})
    gateway = stripe_with(Answering(reply(body)))
    asked = order("pi_x", 700, "rr_1")

    result = await gateway.refund(asked)

    assert (result.amount_minor, result.currency, result.request_id) == (7000, "USD", "rr_2")
    assert result.dispute_ref is None
    assert not result.matches(asked)


@pytest.mark.parametrize(
    ("metadata", "request_id", "dispute_ref"),
    [
        ({"dispute": "D-7", "refund_request": "rr_1", "other": "x"}, "rr_1", "D-7"),
        ({}, None, None),
        (None, None, None),
        ({"refund_request": "", "dispute": 7}, None, None),
    ],
)
async def test_metadata_maps_to_request_id_and_dispute(
    stripe_with, metadata, request_id, dispute_ref
) -> None:
    gateway = stripe_with(Answering(reply(refund_body(metadata=metadata))))

    result = await gateway.refund(order("pi_x", 700, "rr_1"))

    assert (result.request_id, result.dispute_ref) == (request_id, dispute_ref)


@pytest.mark.parametrize(
    ("created", "created_at"),
    [
        (1714564800, datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        (0, None),
        (None, None),
    ],
)
async def test_created_is_read_as_utc(stripe_with, created, created_at) -> None:
    body = refund_body(created=created)
    if created is None:
        del body["created"]
    gateway = stripe_with(Answering(reply(body)))

    result = await gateway.refund(order("pi_x", 700, "rr_1"))

    assert result.created_at == created_at
    assert result.created_at is None or result.created_at.tzinfo is UTC


async def test_the_list_comes_back_oldest_first_by_created_then_id(stripe_with) -> None:
    listed_by_stripe = page(  # newest first, as Stripe lists
        refund_body(id="re_c", created=300),
        refund_body(id="re_b", created=200),
        refund_body(id="re_a2", created=100),
        refund_body(id="re_a1", created=100),
    )
    gateway = stripe_with(Answering(reply(listed_by_stripe)))

    listed = await gateway.refunds_on("pi_x")

    assert [r.provider_refund_id for r in listed] == ["re_a1", "re_a2", "re_b", "re_c"]


async def test_a_charge_reference_is_sent_as_charge(stripe_with) -> None:
    transport = Answering(reply(refund_body()), reply(page(refund_body())))
    gateway = stripe_with(transport)

    await gateway.refund(order("ch_9", 700, "rr_1"))
    await gateway.refunds_on("ch_9")

    form = dict(httpx.QueryParams(transport.seen[0].content.decode()))
    assert form["charge"] == "ch_9" and "payment_intent" not in form
    assert dict(transport.seen[1].url.params) == {"charge": "ch_9", "limit": "100"}


@pytest.mark.parametrize("status", [408, 409, 425, 502, 503, 301])
async def test_a_post_answered_without_an_answer_is_uncertain_at_once(stripe_with, status) -> None:
    transport = Answering(reply({"error": {"message": "later"}}, status))

    with pytest.raises(RefundUncertain, match=f"HTTP {status}"):
        await stripe_with(transport).refund(order("pi_x", 700))

    assert len(transport.seen) == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid integer: abc"),
        (401, "Invalid API Key provided"),
        (403, "The provided key does not have access"),
        (404, "No such payment_intent: 'pi_x'"),
    ],
)
async def test_a_list_error_is_uncertain_naming_the_status_and_stripes_message(
    stripe_with, status: int, message: str
) -> None:
    transport = Answering(
        reply({"error": {"message": message, "type": "invalid_request_error"}}, status)
    )

    with pytest.raises(RefundUncertain) as caught:
        await stripe_with(transport).refunds_on("pi_x")

    assert str(caught.value) == f"Stripe could not list refunds: HTTP {status}: {message}"
    assert len(transport.seen) == 1


async def test_a_page_that_does_not_advance_is_uncertain(stripe_with) -> None:
    transport = Answering(reply(page(refund_body(id="re_1"), has_more=True)))

    with pytest.raises(RefundUncertain, match="did not advance past re_1"):
        await stripe_with(transport).refunds_on("pi_x")

    assert len(transport.seen) == 2


async def test_an_empty_page_with_more_to_come_is_uncertain(stripe_with) -> None:
    transport = Answering(reply(page(has_more=True)))

    with pytest.raises(RefundUncertain, match="did not advance"):
        await stripe_with(transport).refunds_on("pi_x")


async def test_more_than_max_pages_is_uncertain(stripe_with, monkeypatch) -> None:
    monkeypatch.setattr(stripe_module, "MAX_PAGES", 3)
    pages = iter(range(100))

    def next_page(request: httpx.Request) -> httpx.Response:
        return reply(page(refund_body(id=f"re_{next(pages)}"), has_more=True))

    transport = Answering(next_page)

    with pytest.raises(RefundUncertain, match="more than 300 refunds on pi_x"):
        await stripe_with(transport).refunds_on("pi_x")
    assert len(transport.seen) == 3


async def test_an_unreadable_success_is_uncertain(stripe_with) -> None:
    gateway = stripe_with(Answering(reply({"ok": True})))

    with pytest.raises(RefundUncertain, match="HTTP 200 with a body we cannot read"):
        await gateway.refund(order("pi_x", 700, "rr_1"))
    with pytest.raises(RefundUncertain, match="HTTP 200 with a body we cannot read"):
        await gateway.refunds_on("pi_x")


async def test_a_card_decline_carries_stripes_code(stripe_with) -> None:
    body = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    }
    transport = Answering(reply(body, 402))

    with pytest.raises(RefundError) as caught:
        await stripe_with(transport).refund(order("ch_x", 700))

    assert (caught.value.code, caught.value.status_code) == ("insufficient_funds", 402)
    assert str(caught.value) == (
        "Stripe refused the refund: Your card has insufficient funds. (insufficient_funds)"
    )
    assert len(transport.seen) == 1


async def test_a_refusal_without_a_stripe_body_names_the_status(stripe_with) -> None:
    with pytest.raises(RefundError, match=r"^Stripe refused the refund: HTTP 400$"):
        await stripe_with(Answering(httpx.Response(400, text="<html>"))).refund(order("pi_x", 700))


async def test_a_reference_that_is_neither_pi_nor_ch_is_refused_or_uncertain(stripe_with) -> None:
    transport = Answering(httpx.Response(500))
    gateway = stripe_with(transport)

    with pytest.raises(RefundError, match="must start with pi_ or ch_, got 'py_123'") as caught:
        await gateway.refund(order("py_123", 700))
    assert caught.value.code == "unsupported_payment_reference"
    with pytest.raises(RefundUncertain, match="must start with pi_ or ch_, got 'py_123'"):
        await gateway.refunds_on("py_123")
    assert transport.seen == []


@pytest.mark.parametrize(("amount", "key"), [(0, "k"), (-5, "k"), (100, "")])
async def test_an_order_that_cannot_be_sent_is_refused_without_a_request(
    stripe_with, amount: int, key: str
) -> None:
    transport = Answering(httpx.Response(500))
    asked = RefundOrder("rr_1", key, "pi_x", amount, "EUR", "D-7")

    with pytest.raises(RefundError):
        await stripe_with(transport).refund(asked)
    assert transport.seen == []


async def test_a_retry_after_date_is_honoured_on_a_look_up(stripe_with, sleeps) -> None:
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
    transport = Answering(
        reply({"error": {"message": "slow down"}}, 429, **{"Retry-After": soon}),
        reply(page()),
    )

    assert await stripe_with(transport).refunds_on("pi_x") == []
    [paused] = sleeps
    assert 1.0 < paused <= 3.0
