"""What the Stripe and the http gateways share, over `httpx.MockTransport`: the checks before a
refund, one POST with the idempotency header, refusals, uncertain answers and closing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs

import httpx
import pytest

from connectors import http_retry
from connectors.refunds.gateway import HttpRefundGatewayBase
from connectors.refunds.http import HttpRefundGateway
from connectors.refunds.protocol import RefundError, RefundOrder, RefundStatus, RefundUncertain
from connectors.refunds.stripe import StripeGateway

Handler = Callable[[httpx.Request], httpx.Response]

STRIPE_REFUND = {"id": "re_1", "amount": 1299, "currency": "eur", "status": "succeeded"}
CONTRACT_REFUND = {"id": "rf_1", "status": "succeeded", "amount_minor": 1299, "currency": "eur"}


class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    async def skip(seconds: float) -> None:
        return None

    monkeypatch.setattr(http_retry, "_sleep", skip)


@pytest.fixture
async def made() -> AsyncIterator[list[HttpRefundGatewayBase]]:
    gateways: list[HttpRefundGatewayBase] = []
    yield gateways
    for gateway in gateways:
        await gateway.aclose()


def stripe(made: list[HttpRefundGatewayBase], handler: Handler) -> StripeGateway:
    gateway = StripeGateway(
        "sk_test_x", api_base="https://stripe.test", transport=httpx.MockTransport(handler)
    )
    made.append(gateway)
    return gateway


def contract(made: list[HttpRefundGatewayBase], handler: Handler) -> HttpRefundGateway:
    gateway = HttpRefundGateway("https://shop.test/api", transport=httpx.MockTransport(handler))
    made.append(gateway)
    return gateway


def order(**changes: object) -> RefundOrder:
    fields: dict[str, object] = {
        "request_id": "rr_1",
        "idempotency_key": "dd-refund-rr_1",
        "payment_reference": "pi_1",
        "amount_minor": 1299,
        "currency": "EUR",
        "dispute_ref": "D-7",
    }
    return RefundOrder(**{**fields, **changes})  # type: ignore[arg-type]


BUILDERS = [pytest.param(stripe, id="stripe"), pytest.param(contract, id="http")]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_minor": 0}, "refund amount must be positive, got 0"),
        ({"amount_minor": -5}, "refund amount must be positive, got -5"),
        ({"idempotency_key": ""}, "an idempotency key is required"),
    ],
)
async def test_a_bad_order_is_refused_before_anything_is_sent(
    made, build, changes, message
) -> None:
    recorder = Recorder()
    with pytest.raises(RefundError, match=message):
        await build(made, recorder).refund(order(**changes))
    assert recorder.requests == []


async def test_stripe_reads_the_payment_reference_before_the_amount(made) -> None:
    recorder = Recorder()
    with pytest.raises(RefundError) as caught:
        await stripe(made, recorder).refund(order(payment_reference="pay_1", amount_minor=0))
    assert caught.value.code == "unsupported_payment_reference"
    assert recorder.requests == []


async def test_stripe_posts_a_form_with_the_idempotency_key(made) -> None:
    recorder = Recorder(httpx.Response(200, json=STRIPE_REFUND))
    result = await stripe(made, recorder).refund(order())
    (sent,) = recorder.requests
    assert (sent.method, str(sent.url)) == ("POST", "https://stripe.test/v1/refunds")
    assert sent.headers["Idempotency-Key"] == "dd-refund-rr_1"
    assert sent.headers["Authorization"] == "Bearer sk_test_x"
    assert sent.headers["Accept"] == "application/json"
    assert parse_qs(sent.content.decode()) == {
        "payment_intent": ["pi_1"],
        "amount": ["1299"],
        "metadata[dispute]": ["D-7"],
        "metadata[refund_request]": ["rr_1"],
    }
    assert (result.provider_refund_id, result.currency) == ("re_1", "EUR")
    assert result.status is RefundStatus.SUCCEEDED


async def test_http_posts_json_with_the_idempotency_key(made) -> None:
    recorder = Recorder(httpx.Response(201, json=CONTRACT_REFUND))
    result = await contract(made, recorder).refund(order(payment_reference="pay_9"))
    (sent,) = recorder.requests
    assert (sent.method, str(sent.url)) == ("POST", "https://shop.test/api/refunds")
    assert sent.headers["Idempotency-Key"] == "dd-refund-rr_1"
    assert json.loads(sent.content) == {
        "request_id": "rr_1",
        "amount_minor": 1299,
        "currency": "EUR",
        "payment_reference": "pay_9",
        "dispute": "D-7",
    }
    assert (result.provider_refund_id, result.amount_minor) == ("rf_1", 1299)


@pytest.mark.parametrize(
    ("build", "body", "message", "code"),
    [
        (
            stripe,
            {"error": {"message": "Charge already refunded", "code": "charge_already_refunded"}},
            "Stripe refused the refund: Charge already refunded (charge_already_refunded)",
            "charge_already_refunded",
        ),
        (
            contract,
            {"error": {"message": "too much", "code": "over_refund"}},
            "http:https://shop.test/api refused the refund: too much (over_refund)",
            "over_refund",
        ),
    ],
    ids=["stripe", "http"],
)
async def test_a_4xx_is_a_refusal_in_the_providers_words(made, build, body, message, code) -> None:
    recorder = Recorder(httpx.Response(400, json=body))
    with pytest.raises(RefundError) as caught:
        await build(made, recorder).refund(order())
    assert (caught.value.message, caught.value.code, caught.value.status_code) == (
        message,
        code,
        400,
    )


@pytest.mark.parametrize("build", BUILDERS)
async def test_a_refusal_without_an_error_body_names_the_status(made, build) -> None:
    with pytest.raises(RefundError, match=r"refused the refund: HTTP 402$"):
        await build(made, Recorder(httpx.Response(402, text="no"))).refund(order())


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("status", [500, 503, 408, 409])
async def test_a_non_answer_to_the_post_is_uncertain_and_not_resent(made, build, status) -> None:
    recorder = Recorder(httpx.Response(status), httpx.Response(200))
    with pytest.raises(RefundUncertain, match=f"HTTP {status}"):
        await build(made, recorder).refund(order())
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("build", BUILDERS)
async def test_a_2xx_that_cannot_be_read_is_uncertain(made, build) -> None:
    with pytest.raises(RefundUncertain, match="a body we cannot read"):
        await build(made, Recorder(httpx.Response(200, json={"id": 7}))).refund(order())


@pytest.mark.parametrize("build", BUILDERS)
async def test_a_failed_look_up_is_uncertain_never_a_refusal(made, build) -> None:
    recorder = Recorder(httpx.Response(400, json={"error": {"message": "bad"}}))
    with pytest.raises(RefundUncertain, match="could not list refunds: HTTP 400: bad"):
        await build(made, recorder).refunds_on("pi_1")


@pytest.mark.parametrize("build", BUILDERS)
async def test_the_gateway_closes_its_client_on_leaving(made, build) -> None:
    async with build(made, Recorder()) as gateway:
        client = gateway._client
        assert not client.is_closed
    assert client.is_closed
