"""`FakeGateway` keeps Stripe's rules: keys replay, refunds are capped, faults are planned."""

from __future__ import annotations

import pytest

from connectors.refunds.fake import FakeGateway
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundStatus,
    RefundUncertain,
)


def order(
    request_id: str = "rr_1",
    amount_minor: int = 1000,
    *,
    key: str | None = None,
    payment: str = "pi_1",
    currency: str = "EUR",
) -> RefundOrder:
    return RefundOrder(
        request_id=request_id,
        idempotency_key=key or f"refund-{request_id}",
        payment_reference=payment,
        amount_minor=amount_minor,
        currency=currency,
        dispute_ref="D-7",
    )


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(paid={"pi_1": (5000, "eur"), "pi_2": (300, "JPY")})


def test_is_a_refund_gateway(fake: FakeGateway) -> None:
    assert isinstance(fake, RefundGateway)


async def test_refund_succeeds_and_is_recorded(fake: FakeGateway) -> None:
    result = await fake.refund(order())

    assert result.status is RefundStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1000, "EUR")
    assert [r.order.request_id for r in fake.refunds] == ["rr_1"]
    assert fake.refunds[0].id == result.provider_refund_id


async def test_same_key_same_parameters_replays_without_a_second_refund(
    fake: FakeGateway,
) -> None:
    first = await fake.refund(order())
    second = await fake.refund(order())

    assert second == first
    assert len(fake.refunds) == 1
    assert fake.refunded("pi_1") == 1000


async def test_same_key_with_other_parameters_is_refused(fake: FakeGateway) -> None:
    await fake.refund(order(amount_minor=1000, key="k"))

    with pytest.raises(RefundError, match="idempotency key reused with different parameters"):
        await fake.refund(order(amount_minor=1500, key="k"))
    assert len(fake.refunds) == 1


async def test_refunds_are_capped_at_what_was_paid_minus_refunded(fake: FakeGateway) -> None:
    await fake.refund(order("rr_1", 4000))

    with pytest.raises(RefundError, match="greater than the 1000 left") as caught:
        await fake.refund(order("rr_2", 1001))
    assert not isinstance(caught.value, RefundUncertain)
    assert (await fake.refund(order("rr_3", 1000))).status is RefundStatus.SUCCEEDED
    assert fake.refunded("pi_1") == 5000


async def test_unknown_payment_is_refused(fake: FakeGateway) -> None:
    with pytest.raises(RefundError, match="no such payment: pi_404"):
        await fake.refund(order(payment="pi_404"))
    assert fake.refunds == []


async def test_currency_other_than_the_payment_is_refused(fake: FakeGateway) -> None:
    with pytest.raises(RefundError, match="made in JPY, not EUR"):
        await fake.refund(order(payment="pi_2", amount_minor=100))


async def test_fail_next_refuses_that_many_calls_then_refunds(fake: FakeGateway) -> None:
    fake.fail_next(2, "card_declined")

    for _ in range(2):
        with pytest.raises(RefundError, match="card_declined") as caught:
            await fake.refund(order())
        assert not isinstance(caught.value, RefundUncertain)
    assert fake.refunds == []
    assert (await fake.refund(order())).status is RefundStatus.SUCCEEDED


async def test_pending_next_then_settle(fake: FakeGateway) -> None:
    fake.pending_next()

    result = await fake.refund(order())
    assert result.status is RefundStatus.PENDING
    assert fake.refunded("pi_1") == 1000  # pending money is on its way back: it counts

    fake.settle(result.provider_refund_id, RefundStatus.FAILED, "expired_or_canceled_card")
    found = await fake.find(order())
    assert found is not None
    assert (found.status, found.failure_reason) == (RefundStatus.FAILED, "expired_or_canceled_card")
    assert fake.refunded("pi_1") == 0


async def test_timeout_after_refund_is_uncertain_and_find_returns_the_refund(
    fake: FakeGateway,
) -> None:
    fake.timeout_next(1, after_refund=True)

    with pytest.raises(RefundUncertain):
        await fake.refund(order())

    found = await fake.find(order())
    assert found is not None
    assert found.provider_refund_id == fake.refunds[0].id
    # A retry with the same key replays instead of refunding twice.
    assert await fake.refund(order()) == found
    assert len(fake.refunds) == 1


async def test_timeout_before_refund_leaves_nothing_to_find(fake: FakeGateway) -> None:
    fake.timeout_next(1, after_refund=False)

    with pytest.raises(RefundUncertain):
        await fake.refund(order())

    assert await fake.find(order()) is None
    assert fake.refunds == []


async def test_error_5xx_next_is_uncertain_without_a_refund(fake: FakeGateway) -> None:
    fake.error_5xx_next(2)

    for _ in range(2):
        with pytest.raises(RefundUncertain, match="HTTP 500"):
            await fake.refund(order())
    assert (await fake.refund(order())).status is RefundStatus.SUCCEEDED
    assert fake.calls == 3


async def test_planned_faults_are_taken_in_order(fake: FakeGateway) -> None:
    fake.error_5xx_next(1)
    fake.pending_next(1)

    with pytest.raises(RefundUncertain):
        await fake.refund(order("rr_1"))
    assert (await fake.refund(order("rr_1"))).status is RefundStatus.PENDING
    assert (await fake.refund(order("rr_2"))).status is RefundStatus.SUCCEEDED


async def test_find_is_none_for_an_unknown_request(fake: FakeGateway) -> None:
    await fake.refund(order("rr_1"))

    assert await fake.find(order("rr_9")) is None
