"""`REFUND_GATEWAY` values turn into gateways, into None, or into one clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.refunds.factory import refund_gateway_from_settings
from connectors.refunds.http import HttpRefundGateway
from connectors.refunds.protocol import RefundGateway
from connectors.refunds.stripe import StripeGateway

made: list[RefundGateway] = []


@pytest.fixture(autouse=True)
async def close_made() -> AsyncIterator[None]:
    yield
    while made:
        await made.pop().aclose()


def build(
    spec: str | None, key: str | None = None, base: str | None = None
) -> RefundGateway | None:
    gateway = refund_gateway_from_settings(spec, stripe_api_key=key, stripe_api_base=base)
    if gateway is not None:
        made.append(gateway)
    return gateway


@pytest.mark.parametrize("spec", [None, "", "   "])
def test_unset_is_no_gateway(spec: str | None) -> None:
    assert build(spec, key="sk_test_x") is None


def test_stripe_with_key_and_default_base() -> None:
    gateway = build("stripe", key="sk_test_x")

    assert isinstance(gateway, StripeGateway)
    assert isinstance(gateway, RefundGateway)
    assert gateway.api_base == "https://api.stripe.com"


def test_stripe_with_base_url_case_insensitive() -> None:
    gateway = build(" Stripe ", key="sk_test_x", base="http://127.0.0.1:8420/")

    assert isinstance(gateway, StripeGateway)
    assert gateway.api_base == "http://127.0.0.1:8420"


@pytest.mark.parametrize("key", [None, "", "  "])
def test_stripe_without_key_names_the_variable(key: str | None) -> None:
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        build("stripe", key=key)


@pytest.mark.parametrize("base", ["http://127.0.0.1:8420/v1", "ftp://x", "localhost:8420"])
def test_bad_stripe_api_base_names_the_variable(base: str) -> None:
    with pytest.raises(ValueError, match="STRIPE_API_BASE"):
        build("stripe", key="sk_test_x", base=base)


def test_http_gateway_keeps_its_path() -> None:
    gateway = build("http:https://payments.example.com/api/")

    assert isinstance(gateway, HttpRefundGateway)
    assert gateway.url == "https://payments.example.com/api"
    assert gateway.name == "http:https://payments.example.com/api"


@pytest.mark.parametrize("spec", ["http:", "http:payments.example.com", "http:https://x/?a=1"])
def test_bad_http_url_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="REFUND_GATEWAY http:"):
        build(spec)


def test_shopify_is_not_supported_in_this_version() -> None:
    with pytest.raises(ValueError, match="shopify is not supported in this version"):
        build("shopify", key="sk_test_x")


@pytest.mark.parametrize("spec", ["paypal", "stripe:sk_test_x", "fixtures:x"])
def test_anything_else_lists_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        build(spec, key="sk_test_x")

    message = str(caught.value)
    assert "REFUND_GATEWAY must be stripe" in message
    assert "http:<base-url>" in message
    assert repr(spec) in message
