"""`FakeGateway` keeps Stripe's rules (keys replay, refunds are capped), can drop them like
localstripe does, and answers with the faults a test plans, call by call."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from connectors.refunds.fake import EPOCH, FakeGateway
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundResult,
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


PAID = {"pi_1": (5000, "eur"), "pi_2": (300, "JPY")}


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(paid=PAID)


def test_is_a_refund_gateway(fake: FakeGateway) -> None:
    assert isinstance(fake, RefundGateway)


async def test_refund_succeeds_and_carries_what_was_asked(fake: FakeGateway) -> None:
    asked = order()
    result = await fake.refund(asked)

    assert result.provider_refund_id == "re_fake_1"
    assert result.status is RefundStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1000, "EUR")
    assert (result.request_id, result.dispute_ref) == ("rr_1", "D-7")
    assert result.created_at is not None and result.created_at.tzinfo is not None
    assert result.matches(asked)
    assert [(r.payment_reference, r.order) for r in fake.refunds] == [("pi_1", asked)]
    assert (fake.calls, fake.posts_made) == (1, 1)


async def test_refunds_on_lists_every_refund_of_the_payment_oldest_first(
    fake: FakeGateway,
) -> None:
    first = await fake.refund(order("rr_1", 100))
    await fake.refund(order("rr_x", 50, payment="pi_2", currency="JPY"))
    second = await fake.refund(order("rr_2", 200))

    listed = await fake.refunds_on("pi_1")

    assert listed == [first, second]
    assert listed[0].created_at is not None and listed[1].created_at is not None
    assert listed[0].created_at < listed[1].created_at
    assert await fake.refunds_on("pi_2") != []
    assert fake.lookups == 2


async def test_refunds_on_a_payment_without_refunds_is_empty(fake: FakeGateway) -> None:
    assert await fake.refunds_on("pi_1") == []


async def test_refunds_on_an_unknown_payment_is_uncertain(fake: FakeGateway) -> None:
    with pytest.raises(RefundUncertain, match="HTTP 404: no such payment: pi_404"):
        await fake.refunds_on("pi_404")


async def test_ids_and_created_at_follow_a_counter(fake: FakeGateway) -> None:
    made = [await fake.refund(order(f"rr_{n}", 10)) for n in range(3)]

    assert [r.provider_refund_id for r in made] == ["re_fake_1", "re_fake_2", "re_fake_3"]
    assert [r.created_at for r in made] == [EPOCH + timedelta(seconds=n) for n in (1, 2, 3)]


async def test_same_key_same_parameters_replays_without_a_second_refund(
    fake: FakeGateway,
) -> None:
    first = await fake.refund(order())
    second = await fake.refund(order())

    assert second == first
    assert len(fake.refunds) == 1
    assert fake.refunded("pi_1") == 1000
    assert (fake.calls, fake.posts_made) == (2, 1)


async def test_same_key_with_other_parameters_is_an_idempotency_error(fake: FakeGateway) -> None:
    await fake.refund(order(amount_minor=1000, key="k"))

    with pytest.raises(RefundError, match="idempotency key reused") as caught:
        await fake.refund(order(amount_minor=1500, key="k"))
    assert caught.value.code == "idempotency_error"
    assert len(fake.refunds) == 1


async def test_without_honour_keys_a_repeated_key_refunds_again() -> None:
    fake = FakeGateway(paid=PAID, honour_keys=False)

    first = await fake.refund(order())
    second = await fake.refund(order())
    other = await fake.refund(order(amount_minor=500))  # same key, other amount: no error

    assert len({first.provider_refund_id, second.provider_refund_id, other.provider_refund_id}) == 3
    assert fake.refunded("pi_1") == 2500
    assert fake.posts_made == 3


async def test_refunds_are_capped_at_what_was_paid_minus_refunded(fake: FakeGateway) -> None:
    await fake.refund(order("rr_1", 4000))

    with pytest.raises(RefundError, match="greater than the 1000 left") as caught:
        await fake.refund(order("rr_2", 1001))
    assert caught.value.code == "charge_exceeds_source_limit"
    assert (await fake.refund(order("rr_3", 1000))).status is RefundStatus.SUCCEEDED
    assert fake.refunded("pi_1") == 5000


async def test_without_cap_refunds_may_exceed_the_payment() -> None:
    fake = FakeGateway(paid=PAID, cap=False)

    await fake.refund(order("rr_1", 5000))
    await fake.refund(order("rr_2", 5000))

    assert fake.refunded("pi_1") == 10_000


async def test_a_failed_refund_frees_its_amount(fake: FakeGateway) -> None:
    made = await fake.refund(order("rr_1", 5000))
    fake.settle(made.provider_refund_id, RefundStatus.FAILED, "lost_or_stolen_card")

    assert (await fake.refund(order("rr_2", 5000))).status is RefundStatus.SUCCEEDED


async def test_unknown_payment_is_refused(fake: FakeGateway) -> None:
    with pytest.raises(RefundError, match="no such payment: pi_404"):
        await fake.refund(order(payment="pi_404"))
    assert fake.refunds == []


async def test_currency_other_than_the_payment_is_refused(fake: FakeGateway) -> None:
    with pytest.raises(RefundError, match="made in JPY, not EUR"):
        await fake.refund(order(payment="pi_2", amount_minor=100))


async def test_a_missing_key_is_refused(fake: FakeGateway) -> None:
    asked = RefundOrder("rr_1", "", "pi_1", 100, "EUR", "D-7")
    with pytest.raises(RefundError, match="idempotency key is required"):
        await fake.refund(asked)


async def test_fail_next_refuses_that_many_calls_then_refunds(fake: FakeGateway) -> None:
    fake.fail_next(2, "card_declined")

    for _ in range(2):
        with pytest.raises(RefundError, match="card_declined") as caught:
            await fake.refund(order())
        assert caught.value.code == "declined"
    assert fake.refunds == []
    assert (await fake.refund(order())).status is RefundStatus.SUCCEEDED
    assert fake.calls == 3


async def test_pending_next_then_settle(fake: FakeGateway) -> None:
    fake.pending_next()

    result = await fake.refund(order())
    assert result.status is RefundStatus.PENDING
    assert fake.refunded("pi_1") == 1000  # pending money is on its way back: it counts

    fake.settle(result.provider_refund_id, RefundStatus.FAILED, "expired_or_canceled_card")
    [listed] = await fake.refunds_on("pi_1")
    assert (listed.status, listed.failure_reason) == (
        RefundStatus.FAILED,
        "expired_or_canceled_card",
    )
    assert fake.refunded("pi_1") == 0


def test_settle_an_unknown_refund_is_a_key_error(fake: FakeGateway) -> None:
    with pytest.raises(KeyError):
        fake.settle("re_nope", RefundStatus.SUCCEEDED)


async def test_timeout_after_refund_is_uncertain_and_the_refund_is_listed(
    fake: FakeGateway,
) -> None:
    fake.timeout_next(1, after_refund=True)

    with pytest.raises(RefundUncertain, match="timed out after"):
        await fake.refund(order())

    [listed] = await fake.refunds_on("pi_1")
    assert listed.matches(order())
    # Sent again with the same key, Stripe's rules replay instead of refunding twice.
    assert await fake.refund(order()) == listed
    assert fake.posts_made == 1


async def test_timeout_before_refund_leaves_nothing(fake: FakeGateway) -> None:
    fake.timeout_next(1, after_refund=False)

    with pytest.raises(RefundUncertain, match="timed out before"):
        await fake.refund(order())

    assert await fake.refunds_on("pi_1") == []
    assert fake.posts_made == 0


async def test_timeout_after_a_refusal_is_still_uncertain(fake: FakeGateway) -> None:
    fake.timeout_next(1, after_refund=True)

    with pytest.raises(RefundUncertain):
        await fake.refund(order(amount_minor=9999))  # over the cap: refused, answer lost
    assert fake.refunds == []


async def test_error_5xx_next_is_uncertain_without_a_refund(fake: FakeGateway) -> None:
    fake.error_5xx_next(2)

    for _ in range(2):
        with pytest.raises(RefundUncertain, match="HTTP 500"):
            await fake.refund(order())
    assert fake.refunds == []
    assert (await fake.refund(order())).status is RefundStatus.SUCCEEDED
    assert fake.calls == 3


async def test_error_5xx_after_refund_made_the_refund(fake: FakeGateway) -> None:
    fake.error_5xx_next(1, after_refund=True)

    with pytest.raises(RefundUncertain, match="HTTP 500 after"):
        await fake.refund(order())
    assert fake.posts_made == 1


async def test_refuse_after_refund_raises_a_refusal_though_the_refund_exists(
    fake: FakeGateway,
) -> None:
    fake.refuse_after_refund_next(1, status_code=403)

    with pytest.raises(RefundError) as caught:
        await fake.refund(order())

    assert caught.value.status_code == 403
    [listed] = await fake.refunds_on("pi_1")
    assert listed.matches(order())
    assert fake.refunded("pi_1") == 1000


async def test_delay_next_makes_the_refund_only_when_released(fake: FakeGateway) -> None:
    fake.delay_next(1)

    with pytest.raises(RefundUncertain):
        await fake.refund(order())
    assert await fake.refunds_on("pi_1") == []
    assert fake.delayed == 1

    [outcome] = fake.release_delayed()

    assert isinstance(outcome, RefundResult)
    assert await fake.refunds_on("pi_1") == [outcome]
    assert fake.delayed == 0 and fake.posts_made == 1


async def test_a_delayed_request_after_a_resend_is_a_duplicate_without_honoured_keys() -> None:
    fake = FakeGateway(paid=PAID, honour_keys=False)
    fake.delay_next(1)

    with pytest.raises(RefundUncertain):
        await fake.refund(order())
    assert await fake.refunds_on("pi_1") == []
    resent = await fake.refund(order())
    fake.release_delayed()

    listed = await fake.refunds_on("pi_1")
    assert listed[0].provider_refund_id == resent.provider_refund_id
    assert len(listed) == 2 and all(r.matches(order()) for r in listed)


async def test_a_delayed_request_replays_under_honoured_keys(fake: FakeGateway) -> None:
    fake.delay_next(1)
    with pytest.raises(RefundUncertain):
        await fake.refund(order())
    resent = await fake.refund(order())

    assert fake.release_delayed() == [resent]
    assert len(await fake.refunds_on("pi_1")) == 1


async def test_a_delayed_request_is_capped_as_of_its_release(fake: FakeGateway) -> None:
    fake.delay_next(1)
    with pytest.raises(RefundUncertain):
        await fake.refund(order("rr_1", 3000))
    await fake.refund(order("rr_2", 3000))

    [outcome] = fake.release_delayed()

    assert isinstance(outcome, RefundError)
    assert outcome.code == "charge_exceeds_source_limit"
    assert fake.refunded("pi_1") == 3000


async def test_hold_next_waits_for_release_held(fake: FakeGateway) -> None:
    fake.hold_next(1)

    call = asyncio.create_task(fake.refund(order()))
    await asyncio.wait_for(fake.held.wait(), 1)
    assert fake.holding == 1
    assert fake.refunds == [] and not call.done()

    assert fake.release_held() == 1
    result = await asyncio.wait_for(call, 1)

    assert result.status is RefundStatus.SUCCEEDED
    assert fake.holding == 0 and not fake.held.is_set()
    assert fake.posts_made == 1


async def test_the_same_key_while_held_goes_through_and_the_held_call_replays(
    fake: FakeGateway,
) -> None:
    fake.hold_next(1)
    slow = asyncio.create_task(fake.refund(order()))
    await asyncio.wait_for(fake.held.wait(), 1)

    quick = await fake.refund(order())
    fake.release_held()
    late = await asyncio.wait_for(slow, 1)

    assert late == quick
    assert [r.id for r in fake.refunds] == [quick.provider_refund_id]
    assert (fake.calls, fake.posts_made) == (2, 1)


async def test_the_same_key_while_held_refunds_twice_without_honoured_keys() -> None:
    fake = FakeGateway(paid=PAID, honour_keys=False)
    fake.hold_next(1)
    slow = asyncio.create_task(fake.refund(order()))
    await asyncio.wait_for(fake.held.wait(), 1)

    quick = await fake.refund(order())
    fake.release_held()
    late = await asyncio.wait_for(slow, 1)

    assert quick.provider_refund_id != late.provider_refund_id
    assert fake.refunded("pi_1") == 2000


async def test_a_cancelled_held_call_makes_nothing(fake: FakeGateway) -> None:
    fake.hold_next(1)
    call = asyncio.create_task(fake.refund(order()))
    await asyncio.wait_for(fake.held.wait(), 1)

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert fake.holding == 0 and not fake.held.is_set()
    assert fake.release_held() == 0
    assert fake.refunds == []
    assert (await fake.refund(order())).status is RefundStatus.SUCCEEDED


async def test_lookup_fails_next_is_uncertain_that_many_times(fake: FakeGateway) -> None:
    await fake.refund(order())
    fake.lookup_fails_next(2)
    fake.lookup_fails_next(1, status_code=500)

    for status in (404, 404, 500):
        with pytest.raises(RefundUncertain, match=f"HTTP {status}"):
            await fake.refunds_on("pi_1")
    assert len(await fake.refunds_on("pi_1")) == 1
    assert fake.lookups == 4


async def test_add_refund_puts_a_refund_someone_else_made(fake: FakeGateway) -> None:
    mine = await fake.refund(order("rr_1", 1000))
    theirs = fake.add_refund("pi_1", 4000, "eur")
    duplicate = fake.add_refund(
        "pi_1", 1000, "EUR", request_id="rr_1", dispute_ref="D-7", status=RefundStatus.PENDING
    )

    assert await fake.refunds_on("pi_1") == [mine, theirs, duplicate]
    assert (theirs.request_id, theirs.dispute_ref, theirs.currency) == (None, None, "EUR")
    assert not theirs.matches(order("rr_1", 4000))
    assert duplicate.matches(order("rr_1", 1000))
    assert fake.refunded("pi_1") == 6000  # unchecked: past the cap
    assert fake.posts_made == 1
    with pytest.raises(RefundError, match="greater than"):
        await fake.refund(order("rr_2", 1))


def test_add_refund_on_an_unknown_payment_is_a_key_error(fake: FakeGateway) -> None:
    with pytest.raises(KeyError):
        fake.add_refund("pi_404", 1, "EUR")


async def test_planned_faults_are_taken_in_order(fake: FakeGateway) -> None:
    fake.error_5xx_next(1)
    fake.pending_next(1)
    fake.fail_next(1, "no")

    with pytest.raises(RefundUncertain):
        await fake.refund(order("rr_1"))
    assert (await fake.refund(order("rr_1"))).status is RefundStatus.PENDING
    with pytest.raises(RefundError, match="no"):
        await fake.refund(order("rr_2"))
    assert (await fake.refund(order("rr_2"))).status is RefundStatus.SUCCEEDED


async def test_lookup_faults_can_wait_for_answered_lookups_and_be_cleared() -> None:
    fake = FakeGateway(paid={"pi_1": (100, "USD")})
    fake.lookup_fails_next(2, status_code=403, after=1)
    assert await fake.refunds_on("pi_1") == []
    for _ in range(2):
        with pytest.raises(RefundUncertain, match="403"):
            await fake.refunds_on("pi_1")
    assert await fake.refunds_on("pi_1") == []
    fake.lookup_fails_next(5)
    fake.timeout_next(3)
    fake.clear_faults()
    assert await fake.refunds_on("pi_1") == []
    order = RefundOrder("rr_1", "key-1", "pi_1", 50, "USD", "D-1")
    assert (await fake.refund(order)).amount_minor == 50
