"""`StripeGateway` against a real localstripe subprocess, with faults injected on the wire."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

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
    """Forwards to the server, except that each planned fault answers one refund POST instead.

    Faults: "500" and "429" (answered here, nothing forwarded), "timeout" and "reset" (raised
    before forwarding), "lost" (forwarded, so the server acted, then the answer is lost).
    Look-ups (GET) always pass through.
    """

    def __init__(self, *faults: str, methods: tuple[str, ...] = ("POST",)) -> None:
        self.faults = deque(faults)
        self.methods = methods
        self.seen: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        planned = request.method in self.methods
        fault = self.faults.popleft() if self.faults and planned else None
        if fault in ("500", "429"):
            body = {"error": {"type": "api_error", "message": "planned"}}
            return httpx.Response(int(fault), json=body)
        if fault == "timeout":
            raise httpx.ReadTimeout("planned timeout", request=request)
        if fault == "reset":
            raise httpx.RemoteProtocolError("planned reset", request=request)
        response = await self._inner.handle_async_request(request)
        if fault == "lost":
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("planned: answer lost after the server acted", request=request)
        return response

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every refund sent."""
        return [r.headers.get("Idempotency-Key") for r in self.seen if r.method == "POST"]

    def lookups(self) -> int:
        return sum(r.method == "GET" for r in self.seen)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def gateway_for(localstripe: str) -> AsyncIterator:
    made: list[StripeGateway] = []

    def make(transport: httpx.AsyncBaseTransport | None = None, **options: float) -> StripeGateway:
        options = {"timeout": 5.0, "attempts": 3, "backoff": 0.001, **options}
        gateway = StripeGateway(API_KEY, api_base=localstripe, transport=transport, **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


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


async def test_partial_refund_succeeds_with_our_metadata(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport()
    gateway = gateway_for(transport)
    asked = order(payment, 1500, "rr_42")

    result = await gateway.refund(asked)

    assert isinstance(gateway, RefundGateway)
    assert result.status is RefundStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1500, "EUR")
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
    assert await gateway.find(asked) == result


async def test_same_key_twice_duplicates_on_localstripe_and_find_names_the_first(
    localstripe: str, gateway_for
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    gateway = gateway_for()
    asked = order(payment, 1000)

    first = await gateway.refund(asked)
    second = await gateway.refund(asked)

    # localstripe ignores Idempotency-Key (real Stripe would replay `first`): two refunds exist,
    # which is why a worker calls `find` before it sends again.
    assert second.provider_refund_id != first.provider_refund_id
    assert len(await stored_refunds(localstripe, payment)) == 2
    found = await gateway.find(asked)
    assert found is not None
    assert found.provider_refund_id == first.provider_refund_id


async def test_find_is_none_for_an_unknown_request_id(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    gateway = gateway_for()
    await gateway.refund(order(payment, 100, "rr_other"))

    assert await gateway.find(order(payment, 100, "rr_never_sent")) is None


async def test_find_follows_pages(localstripe: str, gateway_for, monkeypatch) -> None:
    monkeypatch.setattr(stripe_module, "PAGE_SIZE", 2)
    payment = await create_payment(localstripe, 5000, "EUR")
    gateway = gateway_for()
    made = [await gateway.refund(order(payment, 100, f"rr_page_{n}")) for n in range(5)]
    transport = FaultyTransport()
    finder = gateway_for(transport)

    for n, result in enumerate(made):
        found = await finder.find(order(payment, 100, f"rr_page_{n}"))
        assert found is not None
        assert found.provider_refund_id == result.provider_refund_id
    cursors = [r.url.params.get("starting_after") for r in transport.seen[:3]]
    assert cursors[0] is None
    assert cursors[1] is not None and cursors[2] is not None
    assert {r.url.params["limit"] for r in transport.seen} == {"2"}


async def test_unknown_payment_intent_is_a_definite_error_with_stripes_message(
    gateway_for,
) -> None:
    transport = FaultyTransport()
    gateway = gateway_for(transport)

    with pytest.raises(RefundError) as caught:
        await gateway.refund(order("pi_doesnotexist", 100))

    assert not isinstance(caught.value, RefundUncertain)
    assert caught.value.status_code == 404
    assert str(caught.value) == "Stripe refused the refund: Not Found"
    assert len(transport.seen) == 1  # never retried


async def test_5xx_then_success_is_retried_with_the_same_key(localstripe: str, gateway_for) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("500", "429")
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    result = await gateway.refund(asked)

    assert result.status is RefundStatus.SUCCEEDED
    assert transport.keys() == [asked.idempotency_key] * 3
    assert transport.lookups() == 2  # looked for the refund before each resend
    assert [r["id"] for r in await stored_refunds(localstripe, payment)] == [
        result.provider_refund_id
    ]


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_timeout_or_reset_before_sending_is_retried_with_the_same_key(
    localstripe: str, gateway_for, fault: str
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport(fault)
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    result = await gateway.refund(asked)

    assert result.status is RefundStatus.SUCCEEDED
    assert transport.keys() == [asked.idempotency_key] * 2
    assert len(await stored_refunds(localstripe, payment)) == 1


async def test_answer_lost_after_the_refund_is_found_not_sent_again(
    localstripe: str, gateway_for
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("lost")
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    result = await gateway.refund(asked)

    # localstripe ignores Idempotency-Key: a blind resend would refund twice. The gateway
    # looks for our refund request first and finds the one the lost answer was about.
    assert transport.keys() == [asked.idempotency_key]
    stored = await stored_refunds(localstripe, payment)
    assert [r["id"] for r in stored] == [result.provider_refund_id]


async def test_exhausted_retries_are_uncertain_and_nothing_was_refunded(
    localstripe: str, gateway_for
) -> None:
    payment = await create_payment(localstripe, 5000, "EUR")
    transport = FaultyTransport("500", "timeout", "500")
    gateway = gateway_for(transport)
    asked = order(payment, 700)

    with pytest.raises(RefundUncertain, match="HTTP 500"):
        await gateway.refund(asked)

    assert transport.keys() == [asked.idempotency_key] * 3
    assert await gateway.find(asked) is None


async def test_find_is_uncertain_when_the_list_cannot_be_read(gateway_for) -> None:
    gateway = gateway_for(FaultyTransport("500", "500", "500", methods=("GET",)))

    with pytest.raises(RefundUncertain):
        await gateway.find(order("pi_x", 100))


async def test_a_server_that_never_answers_times_out_into_uncertain() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, read nothing back, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = StripeGateway(
        API_KEY, api_base=f"http://127.0.0.1:{port}", timeout=0.2, attempts=2, backoff=0.001
    )
    try:
        with pytest.raises(RefundUncertain, match=r"timed out after 0\.2s"):
            await gateway.refund(order("pi_x", 100))
    finally:
        await gateway.aclose()
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()
    assert len(writers) == 3  # the refund, then two tries of the look-up: all timed out


def stripe_answering(body: dict, status: int = 200) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=json.dumps(body)))


def refund_body(**changes: object) -> dict:
    body = {
        "id": "re_1",
        "object": "refund",
        "amount": 700,
        "currency": "eur",
        "status": "succeeded",
        "created": 1,
        "metadata": {"dispute": "D-7", "refund_request": "rr_1"},
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("pending", RefundStatus.PENDING),
        ("requires_action", RefundStatus.PENDING),
        ("succeeded", RefundStatus.SUCCEEDED),
        ("failed", RefundStatus.FAILED),
        ("canceled", RefundStatus.CANCELED),
    ],
)
async def test_stripe_statuses_map_to_ours(stripe_status: str, ours: RefundStatus) -> None:
    transport = stripe_answering(refund_body(status=stripe_status, failure_reason=None))
    async with StripeGateway(API_KEY, transport=transport) as gateway:
        result = await gateway.refund(order("pi_x", 700, "rr_1"))

    assert result.status is ours


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"amount": 7000}, "amount 7000 instead of 700"),
        ({"currency": "usd"}, "currency USD instead of EUR"),
        ({"metadata": {"refund_request": "rr_2"}}, "refund request rr_2 instead of rr_1"),
    ],
)
async def test_an_answer_for_another_refund_is_an_error_naming_it(
    changes: dict, problem: str
) -> None:
    async with StripeGateway(API_KEY, transport=stripe_answering(refund_body(**changes))) as gw:
        with pytest.raises(RefundError, match=problem) as caught:
            await gw.refund(order("pi_x", 700, "rr_1"))

    assert caught.value.provider_refund_id == "re_1"
    assert not isinstance(caught.value, RefundUncertain)


async def test_an_unreadable_success_is_uncertain() -> None:
    async with StripeGateway(API_KEY, transport=stripe_answering({"ok": True})) as gateway:
        with pytest.raises(RefundUncertain, match="HTTP 200 with a body we cannot read"):
            await gateway.refund(order("pi_x", 700, "rr_1"))


async def test_a_card_decline_carries_stripes_code() -> None:
    body = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    }
    async with StripeGateway(API_KEY, transport=stripe_answering(body, 402)) as gateway:
        with pytest.raises(RefundError) as caught:
            await gateway.refund(order("ch_x", 700))

    assert caught.value.code == "insufficient_funds"
    assert str(caught.value) == (
        "Stripe refused the refund: Your card has insufficient funds. (insufficient_funds)"
    )


async def test_a_reference_that_is_not_a_payment_intent_or_charge_is_refused() -> None:
    calls: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(500))
    async with StripeGateway(API_KEY, transport=transport) as gateway:
        with pytest.raises(RefundError, match="must start with pi_ or ch_"):
            await gateway.refund(order("py_123", 700))
    assert calls == []
