"""`HttpOrderSource` against a real loopback order service (sandbox/world/order_service.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from connectors import http_retry
from connectors.orders.factory import default_fixtures_path
from connectors.orders.http import HttpOrderSource
from connectors.orders.protocol import InvalidOrderData, OrderNotFound, OrderSourceUnavailable
from sandbox.world.order_service import OrderServiceServer, create_order_service, load_raw_orders

ORDERS = load_raw_orders(default_fixtures_path())


@asynccontextmanager
async def serving(
    orders: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[tuple[Any, HttpOrderSource]]:
    """The order service on a free port and a source pointed at it (fast backoff)."""
    app = create_order_service(ORDERS if orders is None else orders, **options)
    async with OrderServiceServer(app) as url:
        source = HttpOrderSource(url, timeout=2.0, backoff=0.001)
        try:
            yield app, source
        finally:
            await source.aclose()


async def test_reads_an_order() -> None:
    async with serving() as (app, source):
        order = await source.get_order("ORD-1001")

    assert order.order_id == "ORD-1001"
    assert order.total_minor == 12900
    assert order.condition_report is not None
    assert app.state.requests == 1


async def test_order_id_is_url_quoted() -> None:
    odd = {**ORDERS["ORD-1002"], "order_id": "A/B 7#?"}
    async with serving({"A/B 7#?": odd}) as (_, source):
        order = await source.get_order("A/B 7#?")

    assert order.order_id == "A/B 7#?"


async def test_404_is_order_not_found_without_retry() -> None:
    async with serving() as (app, source):
        with pytest.raises(OrderNotFound) as caught:
            await source.get_order("ORD-0000")

    assert caught.value.order_id == "ORD-0000"
    assert app.state.requests == 1


async def test_5xx_is_retried_until_success() -> None:
    async with serving(fail_first=2, fail_status=500) as (app, source):
        order = await source.get_order("ORD-1003")

    assert order.order_id == "ORD-1003"
    assert app.state.requests == 3


async def test_always_503_is_unavailable_after_all_attempts() -> None:
    async with serving(fail_first=100, fail_status=503) as (app, source):
        with pytest.raises(OrderSourceUnavailable) as caught:
            await source.get_order("ORD-1001")

    assert str(caught.value) == "order system unavailable after 3 attempts: HTTP 503"
    assert app.state.requests == 3


async def test_other_4xx_is_unavailable_naming_the_status_without_retry() -> None:
    async with serving(fail_first=100, fail_status=401) as (app, source):
        with pytest.raises(OrderSourceUnavailable, match="HTTP 401"):
            await source.get_order("ORD-1001")

    assert app.state.requests == 1


async def test_timeout_is_retried_then_unavailable() -> None:
    app = create_order_service(ORDERS, latency=0.3)
    async with OrderServiceServer(app) as url:
        source = HttpOrderSource(url, timeout=0.05, attempts=2, backoff=0.001)
        async with source:
            with pytest.raises(OrderSourceUnavailable, match="after 2 attempts: timed out"):
                await source.get_order("ORD-1001")

    assert app.state.requests == 2


async def test_connection_refused_is_unavailable() -> None:
    app = create_order_service(ORDERS)
    async with OrderServiceServer(app) as url:
        pass  # the port is free again once the server stops
    async with HttpOrderSource(url, attempts=2, backoff=0.001) as source:
        with pytest.raises(OrderSourceUnavailable, match="after 2 attempts: connection failed"):
            await source.get_order("ORD-1001")


async def test_invalid_order_body_is_invalid_order_data() -> None:
    broken = {**ORDERS["ORD-1001"], "total": "129.001"}
    async with serving({"ORD-1001": broken}) as (_, source):
        with pytest.raises(InvalidOrderData) as caught:
            await source.get_order("ORD-1001")

    assert caught.value.order_id == "ORD-1001"
    assert "total" in caught.value.detail


async def test_non_json_body_is_invalid_order_data() -> None:
    async with serving({"ORD-1": "<html>oops</html>"}) as (_, source):
        with pytest.raises(InvalidOrderData, match="not JSON"):
            await source.get_order("ORD-1")


async def test_answer_for_another_order_is_invalid_order_data() -> None:
    async with serving({"ORD-1": ORDERS["ORD-1002"]}) as (_, source):
        with pytest.raises(InvalidOrderData, match="answered with order ORD-1002"):
            await source.get_order("ORD-1")


async def test_one_client_is_reused_across_calls() -> None:
    async with serving() as (_, source):
        client = source._client
        await source.get_order("ORD-1001")
        await source.get_order("ORD-1002")
        assert source._client is client
        assert not client.is_closed
    assert client.is_closed


async def test_mock_transport_is_accepted() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json=ORDERS["ORD-1011"])

    source = HttpOrderSource(
        "https://orders.example.com/api/", transport=httpx.MockTransport(handler)
    )
    order = await source.get_order("ORD-1011")
    await source.aclose()

    assert order.currency == "JPY"
    assert calls == ["https://orders.example.com/api/orders/ORD-1011"]


async def test_a_short_retry_after_is_waited_and_a_long_one_ends_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(http_retry, "_sleep", record)
    waits = ["2", "120"]

    def handler(request: httpx.Request) -> httpx.Response:
        if not waits:
            return httpx.Response(200, json=ORDERS["ORD-1011"])
        return httpx.Response(503, headers={"Retry-After": waits.pop(0)})

    async with HttpOrderSource(
        "https://orders.example.com", backoff=0.001, transport=httpx.MockTransport(handler)
    ) as source:
        with pytest.raises(OrderSourceUnavailable, match="HTTP 503 and asked to wait 120s"):
            await source.get_order("ORD-1011")
        assert slept == [2.0]
        assert (await source.get_order("ORD-1011")).order_id == "ORD-1011"
