"""`HttpRefundGateway` against a loopback Starlette server that implements the contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors import http_retry as retry_module
from connectors.refunds.http import HttpRefundGateway
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundStatus,
    RefundUncertain,
)
from sandbox.world.order_service import OrderServiceServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Shop:
    """The payment back end's state, and faults to answer the next requests with."""

    paid: dict[str, int]
    refunds: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    keys_seen: list[str | None] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # answers to the next refund POSTs
    lookup_fail_with: list[int] = field(default_factory=list)  # answers to the next GETs
    lookup_queries: list[dict[str, str]] = field(default_factory=list)
    answer_override: dict[str, Any] | None = None
    listing_override: list[dict[str, Any]] | None = None
    ignore_filter: bool = False  # a sloppy service that lists every refund it has
    hold_answer: asyncio.Event | None = None  # refund made, answer held back until set

    def add(self, payment: str, amount_minor: int, **fields: Any) -> dict[str, Any]:
        """A refund made on the back end, by this app or any other way."""
        refund = {
            "id": f"rf_{len(self.refunds) + 1}",
            "status": "succeeded",
            "amount_minor": amount_minor,
            "currency": "EUR",
            "created_at": (T0 + timedelta(minutes=len(self.refunds))).isoformat(),
            **fields,
        }
        self.refunds.append({**refund, "payment": payment})
        return refund


def contract_app(shop: Shop) -> Starlette:
    async def create(request: Request) -> JSONResponse:
        shop.keys_seen.append(request.headers.get("Idempotency-Key"))
        if shop.fail_with:
            status = shop.fail_with.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else {}
            return JSONResponse(
                {"error": {"message": "planned"}}, status_code=status, headers=headers
            )
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        if not key:
            return error(400, "missing_key", "Idempotency-Key is required")
        if key in shop.by_key:
            first_body, answer = shop.by_key[key]
            if first_body != body:
                return error(422, "idempotency_error", "key reused with another body")
            return JSONResponse(answer)
        payment = body["payment_reference"]
        paid = shop.paid.get(payment)
        if paid is None:
            return error(404, "no_payment", f"no payment {payment}")
        done = sum(r["amount_minor"] for r in shop.refunds if r["payment"] == payment)
        if body["amount_minor"] > paid - done:
            return error(400, "over_refund", f"only {paid - done} left to refund")
        answer = {
            **shop.add(
                payment,
                body["amount_minor"],
                currency=body["currency"],
                request_id=body["request_id"],
                dispute=body["dispute"],
            ),
            **(shop.answer_override or {}),
        }
        shop.by_key[key] = (body, answer)
        if shop.hold_answer is not None:
            await shop.hold_answer.wait()
        return JSONResponse(answer, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        shop.lookup_queries.append(dict(request.query_params))
        if shop.lookup_fail_with:
            status = shop.lookup_fail_with.pop(0)
            return error(status, "planned", f"planned {status}")
        if shop.listing_override is not None:
            return JSONResponse({"refunds": shop.listing_override})
        payment = request.query_params.get("payment_reference", "")
        if payment not in shop.paid:
            return error(404, "no_payment", f"no payment {payment}")
        found = [
            {k: v for k, v in r.items() if k != "payment"}
            for r in shop.refunds
            if shop.ignore_filter or r["payment"] == payment
        ]
        return JSONResponse({"refunds": found})

    return Starlette(
        routes=[
            Route("/api/refunds", create, methods=["POST"]),
            Route("/api/refunds", listing, methods=["GET"]),
        ]
    )


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class NoConnectionFirst(httpx.AsyncBaseTransport):
    """Fails the first `n` requests before connecting; forwards the rest."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: list[httpx.Request] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if len(self.seen) <= self.n:
            raise httpx.ConnectError("planned: connection refused", request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class Service:
    """One loopback server for the module; each test gets a fresh `Shop` behind it."""

    def __init__(self) -> None:
        self.shop = new_shop()
        self.url = ""


def new_shop() -> Shop:
    return Shop(paid={"pay_1": 5000, "pay_2": 100})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service() -> AsyncIterator[Service]:
    held = Service()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await contract_app(held.shop)(scope, receive, send)

    async with OrderServiceServer(app) as url:
        held.url = url
        yield held


@pytest.fixture
def shop(service: Service) -> Iterator[Shop]:
    service.shop = shop = new_shop()
    yield shop
    if shop.hold_answer is not None:
        shop.hold_answer.set()  # a held answer must not outlive its test


@pytest_asyncio.fixture(loop_scope="module")
async def gateway_for(service: Service) -> AsyncIterator[Callable[..., HttpRefundGateway]]:
    made: list[HttpRefundGateway] = []

    def make(**options: Any) -> HttpRefundGateway:
        options = {"timeout": 2.0, "attempts": 3, "backoff": 0.001, **options}
        gateway = HttpRefundGateway(f"{service.url}/api/", **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def gateway(shop: Shop, gateway_for: Callable[..., HttpRefundGateway]) -> HttpRefundGateway:
    return gateway_for()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(retry_module, "_sleep", record)
    return recorded


def order(request_id: str = "rr_1", amount_minor: int = 1299, **changes: Any) -> RefundOrder:
    fields = {
        "request_id": request_id,
        "idempotency_key": f"key-{request_id}",
        "payment_reference": "pay_1",
        "amount_minor": amount_minor,
        "currency": "EUR",
        "dispute_ref": "D-7",
    }
    return RefundOrder(**{**fields, **changes})


def refund(refund_id: str) -> dict[str, Any]:
    """A refund object as a service might list it."""
    return {"id": refund_id, "status": "succeeded", "amount_minor": 100, "currency": "EUR"}


async def test_refund_then_refunds_on(shop: Shop, gateway: HttpRefundGateway) -> None:
    result = await gateway.refund(order())
    listed = await gateway.refunds_on("pay_1")

    assert isinstance(gateway, RefundGateway)
    assert result.provider_refund_id == "rf_1"
    assert (result.status, result.amount_minor, result.currency) == (
        RefundStatus.SUCCEEDED,
        1299,
        "EUR",
    )
    assert (result.request_id, result.dispute_ref, result.created_at) == ("rr_1", "D-7", T0)
    assert result.matches(order())
    assert listed == [result]
    assert shop.keys_seen == ["key-rr_1"]
    assert shop.lookup_queries == [{"payment_reference": "pay_1"}]


async def test_refunds_on_lists_every_refund_of_the_payment_whoever_made_it(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    mine = await gateway.refund(order("rr_1", 1000))
    shop.add("pay_1", 500)  # made some other way: no request id, no dispute
    await gateway.refund(order("rr_2", 100, payment_reference="pay_2"))
    other = await gateway.refund(order("rr_3", 200))
    listed = await gateway.refunds_on("pay_1")

    assert [r.provider_refund_id for r in listed] == ["rf_1", "rf_2", "rf_4"]
    assert listed[0] == mine and listed[2] == other
    assert (listed[1].request_id, listed[1].dispute_ref, listed[1].amount_minor) == (
        None,
        None,
        500,
    )


async def test_a_service_that_lists_more_gets_all_of_it_returned(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    await gateway.refund(order("rr_1"))
    await gateway.refund(order("rr_2", 100, payment_reference="pay_2"))
    shop.ignore_filter = True
    listed = await gateway.refunds_on("pay_2")

    # Which refund belongs to which request is for the application to match, not the gateway.
    assert [r.request_id for r in listed] == ["rr_1", "rr_2"]


async def test_refunds_on_a_payment_without_refunds_is_empty(gateway: HttpRefundGateway) -> None:
    assert await gateway.refunds_on("pay_1") == []


async def test_refunds_come_back_oldest_first_by_created_at(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.listing_override = [
        {**refund("rf_b"), "created_at": "2024-05-01T12:00:00+02:00"},
        {**refund("rf_c"), "created_at": "2024-05-01T12:00:00Z"},
        {**refund("rf_a"), "created_at": "2024-05-01T09:00:00"},
        {**refund("rf_d"), "created_at": "2024-05-01T12:00:00Z"},
    ]
    listed = await gateway.refunds_on("pay_1")

    assert [r.provider_refund_id for r in listed] == ["rf_a", "rf_b", "rf_c", "rf_d"]
    assert [r.created_at for r in listed] == [
        datetime(2024, 5, 1, 9, 0, tzinfo=UTC),  # no offset: read as UTC
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        T0,
        T0,
    ]


async def test_without_created_at_the_services_order_is_kept(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.listing_override = [
        {**refund("rf_2"), "created_at": "2024-05-01T12:00:00Z"},
        refund("rf_1"),
    ]
    listed = await gateway.refunds_on("pay_1")

    assert [(r.provider_refund_id, r.created_at) for r in listed] == [("rf_2", T0), ("rf_1", None)]


async def test_unknown_fields_are_ignored_and_optional_ones_may_be_missing(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.listing_override = [
        {"id": "rf_1", "status": "pending", "amount_minor": 10, "currency": "eur", "x": 1}
    ]
    [listed] = await gateway.refunds_on("pay_1")

    assert listed.status is RefundStatus.PENDING and listed.currency == "EUR"
    assert (listed.request_id, listed.dispute_ref, listed.created_at) == (None, None, None)


@pytest.mark.parametrize("status", [500, 503, 408, 409, 425])
async def test_a_post_without_an_answer_is_uncertain_and_not_resent(
    status: int, shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.fail_with = [status]
    with pytest.raises(RefundUncertain, match=f"HTTP {status}"):
        await gateway.refund(order())

    assert shop.keys_seen == ["key-rr_1"]


async def test_an_answer_lost_after_the_service_acted_is_uncertain_and_not_resent(
    shop: Shop, gateway_for: Callable[..., HttpRefundGateway]
) -> None:
    gateway = gateway_for(timeout=0.2)
    shop.hold_answer = asyncio.Event()
    with pytest.raises(RefundUncertain, match=r"timed out after 0\.2s; the request was sent"):
        await gateway.refund(order())
    shop.hold_answer.set()
    listed = await gateway.refunds_on("pay_1")

    assert shop.keys_seen == ["key-rr_1"]
    assert [r.request_id for r in listed] == ["rr_1"]


async def test_a_429_is_resent_with_the_same_key(
    sleeps: list[float], shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.fail_with = [429]
    result = await gateway.refund(order())

    assert result.matches(order())
    assert shop.keys_seen == ["key-rr_1"] * 2
    assert len(shop.refunds) == 1 and len(sleeps) == 1


async def test_a_connection_never_made_is_resent_with_the_same_key(
    shop: Shop, gateway_for: Callable[..., HttpRefundGateway]
) -> None:
    transport = NoConnectionFirst(2)
    gateway = gateway_for(transport=transport)
    result = await gateway.refund(order())

    assert result.matches(order())
    assert [r.headers["Idempotency-Key"] for r in transport.seen] == ["key-rr_1"] * 3
    assert shop.keys_seen == ["key-rr_1"]


async def test_a_refusal_carries_the_service_message_and_is_not_resent(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    await gateway.refund(order("rr_1", 4000))
    with pytest.raises(RefundError) as caught:
        await gateway.refund(order("rr_2", 1001))

    assert caught.value.code == "over_refund"
    assert caught.value.status_code == 400
    assert "only 1000 left to refund (over_refund)" in str(caught.value)
    assert shop.keys_seen == ["key-rr_1", "key-rr_2"]


async def test_a_repeated_key_replays_at_a_service_that_keeps_the_contract(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    first = await gateway.refund(order())
    again = await gateway.refund(order())
    with pytest.raises(RefundError, match="idempotency_error") as caught:
        await gateway.refund(order(amount_minor=1))

    assert again == first
    assert caught.value.status_code == 422
    assert len(shop.refunds) == 1


async def test_the_answer_is_returned_as_given_even_when_it_is_not_what_was_asked(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.answer_override = {"amount_minor": 1, "currency": "usd", "request_id": "rr_9"}
    result = await gateway.refund(order())

    assert (result.amount_minor, result.currency, result.request_id) == (1, "USD", "rr_9")
    assert not result.matches(order())


async def test_a_failed_refund_is_returned_with_its_reason(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.answer_override = {"status": "failed", "failure_reason": "account_closed"}
    result = await gateway.refund(order())

    assert (result.status, result.failure_reason) == (RefundStatus.FAILED, "account_closed")


async def test_an_answer_outside_the_contract_is_uncertain(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.answer_override = {"status": "done"}
    with pytest.raises(RefundUncertain, match="status"):
        await gateway.refund(order())


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_a_look_up_error_is_uncertain_never_a_refusal(
    status: int, shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.lookup_fail_with = [status]
    with pytest.raises(RefundUncertain) as caught:
        await gateway.refunds_on("pay_1")

    assert str(caught.value).endswith(f"could not list refunds: HTTP {status}: planned {status}")
    assert len(shop.lookup_queries) == 1


async def test_a_look_up_of_an_unknown_payment_is_uncertain(gateway: HttpRefundGateway) -> None:
    with pytest.raises(RefundUncertain, match="HTTP 404: no payment pay_404"):
        await gateway.refunds_on("pay_404")


async def test_look_up_5xx_are_retried_then_answered(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    made = await gateway.refund(order())
    shop.lookup_fail_with = [503, 500]
    assert await gateway.refunds_on("pay_1") == [made]

    assert len(shop.lookup_queries) == 3


async def test_look_up_5xx_until_the_attempts_run_out_are_uncertain(
    shop: Shop, gateway: HttpRefundGateway
) -> None:
    shop.lookup_fail_with = [500, 502, 503]
    with pytest.raises(RefundUncertain, match="after 3 attempts: HTTP 503"):
        await gateway.refunds_on("pay_1")


async def test_an_unreadable_look_up_is_uncertain(shop: Shop, gateway: HttpRefundGateway) -> None:
    shop.listing_override = [{"id": "rf_1"}]
    with pytest.raises(RefundUncertain, match="body we cannot read"):
        await gateway.refunds_on("pay_1")


@pytest.mark.parametrize(("amount", "key"), [(0, "k"), (100, "")])
async def test_an_order_that_cannot_be_sent_is_refused_without_a_request(
    amount: int, key: str, shop: Shop, gateway: HttpRefundGateway
) -> None:
    with pytest.raises(RefundError):
        await gateway.refund(order(amount_minor=amount, idempotency_key=key))

    assert shop.keys_seen == []
