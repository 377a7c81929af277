"""`HttpRefundGateway` against a loopback Starlette server that implements the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.refunds.http import HttpRefundGateway
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundStatus,
    RefundUncertain,
)
from sandbox.order_service import OrderServiceServer


@dataclass
class Shop:
    """The payment back end's state, and faults to answer the next requests with."""

    paid: dict[str, int]
    refunds: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    keys_seen: list[str | None] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # answers to the next refund POSTs
    lookups: int = 0
    answer_override: dict[str, Any] | None = None
    ignore_filter: bool = False  # a sloppy service that lists every refund


def contract_app(shop: Shop) -> Starlette:
    async def create(request: Request) -> JSONResponse:
        shop.keys_seen.append(request.headers.get("Idempotency-Key"))
        if shop.fail_with:
            return JSONResponse(
                {"error": {"message": "planned"}}, status_code=shop.fail_with.pop(0)
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
        paid = shop.paid.get(body["payment_reference"])
        if paid is None:
            return error(404, "no_payment", f"no payment {body['payment_reference']}")
        done = sum(
            r["amount_minor"] for r in shop.refunds if r["payment"] == body["payment_reference"]
        )
        if body["amount_minor"] > paid - done:
            return error(400, "over_refund", f"only {paid - done} left to refund")
        answer = {
            "id": f"rf_{len(shop.refunds) + 1}",
            "status": "succeeded",
            "amount_minor": body["amount_minor"],
            "currency": body["currency"],
            "request_id": body["request_id"],
            **(shop.answer_override or {}),
        }
        shop.refunds.append({**answer, "payment": body["payment_reference"]})
        shop.by_key[key] = (body, answer)
        return JSONResponse(answer, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        shop.lookups += 1
        wanted = request.query_params.get("request_id")
        found = [
            {k: v for k, v in r.items() if k != "payment"}
            for r in shop.refunds
            if shop.ignore_filter or r["request_id"] == wanted
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


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[tuple[Shop, HttpRefundGateway]]:
    shop = Shop(paid={"pay_1": 5000})
    async with OrderServiceServer(contract_app(shop)) as url:
        gateway = HttpRefundGateway(f"{url}/api/", timeout=2.0, attempts=3, backoff=0.001)
        try:
            yield shop, gateway
        finally:
            await gateway.aclose()


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


async def test_refund_then_find() -> None:
    async with serving() as (shop, gateway):
        result = await gateway.refund(order())
        found = await gateway.find(order())

    assert isinstance(gateway, RefundGateway)
    assert result.provider_refund_id == "rf_1"
    assert (result.status, result.amount_minor, result.currency) == (
        RefundStatus.SUCCEEDED,
        1299,
        "EUR",
    )
    assert found == result
    assert shop.keys_seen == ["key-rr_1"]


async def test_find_is_none_when_the_service_has_none() -> None:
    async with serving() as (_, gateway):
        await gateway.refund(order("rr_1"))
        assert await gateway.find(order("rr_2")) is None


async def test_5xx_and_409_are_retried_with_the_same_key() -> None:
    async with serving() as (shop, gateway):
        shop.fail_with = [503, 409]
        result = await gateway.refund(order())

    assert result.status is RefundStatus.SUCCEEDED
    assert shop.keys_seen == ["key-rr_1"] * 3
    assert shop.lookups == 2  # looked for the refund before each resend
    assert len(shop.refunds) == 1


async def test_exhausted_retries_are_uncertain() -> None:
    async with serving() as (shop, gateway):
        shop.fail_with = [500, 502, 429]
        with pytest.raises(RefundUncertain, match="HTTP 429"):
            await gateway.refund(order())

    assert shop.refunds == []


async def test_a_refusal_carries_the_service_message_and_is_not_retried() -> None:
    async with serving() as (shop, gateway):
        await gateway.refund(order("rr_1", 4000))
        with pytest.raises(RefundError) as caught:
            await gateway.refund(order("rr_2", 1001))

    assert not isinstance(caught.value, RefundUncertain)
    assert caught.value.code == "over_refund"
    assert caught.value.status_code == 400
    assert "only 1000 left to refund (over_refund)" in str(caught.value)
    assert shop.keys_seen == ["key-rr_1", "key-rr_2"]


async def test_a_repeated_key_replays_at_a_service_that_keeps_the_contract() -> None:
    async with serving() as (shop, gateway):
        first = await gateway.refund(order())
        again = await gateway.refund(order())
        with pytest.raises(RefundError, match="idempotency_error"):
            await gateway.refund(order(amount_minor=1))

    assert again == first
    assert len(shop.refunds) == 1


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"amount_minor": 1}, "amount 1 instead of 1299"),
        ({"currency": "USD"}, "currency USD instead of EUR"),
        ({"request_id": "rr_9"}, "refund request rr_9 instead of rr_1"),
    ],
)
async def test_an_answer_for_another_refund_is_an_error(override: dict, problem: str) -> None:
    async with serving() as (shop, gateway):
        shop.answer_override = override
        with pytest.raises(RefundError, match=problem) as caught:
            await gateway.refund(order())

    assert caught.value.provider_refund_id == "rf_1"


async def test_an_answer_outside_the_contract_is_uncertain() -> None:
    async with serving() as (shop, gateway):
        shop.answer_override = {"status": "done"}
        with pytest.raises(RefundUncertain, match="status"):
            await gateway.refund(order())


async def test_find_keeps_only_our_request_when_the_service_lists_more() -> None:
    async with serving() as (shop, gateway):
        await gateway.refund(order("rr_1"))
        await gateway.refund(order("rr_2", 100))
        shop.ignore_filter = True
        found = await gateway.find(order("rr_2", 100))

    assert found is not None and found.provider_refund_id == "rf_2"
