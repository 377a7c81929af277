"""Money under every fault, on SQLite and PostgreSQL, with an in-memory provider a test can make
misbehave call by call: lost answers, effects that land late, failed look-ups, 4xx after a
refund, expired claims, duplicates. Each test ends by comparing the provider's refunds, our
requests and the audit trail (`check_books`), which also verifies the audit chains."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from connectors.refunds.fake import FakeGateway
from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)
from disputes.errors import DisputeError
from storage.db import Database
from tests.support.money import MANAGER, SUPERVISOR, MoneyWorld, WrappedGateway
from tests.support.orders import order

PAY = "pi_3QtestTEST"
PAID = 129_00  # ORD-T1; its order system says 29.00 was refunded on it already


def provider(**switches: bool) -> FakeGateway:
    gateway = FakeGateway(paid={PAY: (PAID, "USD")}, **switches)
    gateway.add_refund(PAY, 29_00, "USD")  # the order system's own refund, made at the provider
    return gateway


@pytest.fixture
def gateway() -> FakeGateway:
    return provider()


@pytest.fixture
def world(db: Database, gateway: FakeGateway, tmp_path: Path) -> MoneyWorld:
    return MoneyWorld(db, gateway, tmp_path, orders=[order()])


async def approved(world: MoneyWorld, amount: str = "50.00") -> int:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, MANAGER, amount=amount)
    await world.approve(number, proposal, SUPERVISOR)
    return number


def ours(gateway: FakeGateway) -> list[str]:
    """Our refunds at the provider (the order system's own is not ours)."""
    return [r.result.provider_refund_id for r in gateway.refunds if r.result.request_id]


async def test_a_refund_is_sent_once_and_resolves_the_dispute(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    assert await world.drain() == 1
    (request,) = await world.requests(number)
    assert (request.status, request.sends, request.provider_refund_ids) == (
        "succeeded",
        1,
        tuple(ours(gateway)),
    )
    assert await world.status(number) == "resolved"
    assert [o.status for o in world.outcomes] == ["succeeded"]
    await world.check_books(PAY, paid={PAY: PAID})


# 1. A failed look-up is never a refusal, and nothing is sent while the outcome is unknown.


@pytest.mark.parametrize("status_code", [401, 403, 404, 400, 500])
async def test_a_failed_lookup_leaves_the_outcome_unknown_never_failed(
    world: MoneyWorld, gateway: FakeGateway, status_code: int
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=True)  # refunded; the answer is lost
    gateway.lookup_fails_next(3, status_code=status_code, after=1)  # after the read to send
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.status == "unknown" and await world.status(number) == "executing"
    with pytest.raises(DisputeError, match="not known yet"):
        await world.retry(number, SUPERVISOR)  # Retry sends nothing while it is unknown
    world.later(31)
    await world.worker_pass()  # the look-up fails again: still unknown, nothing sent
    world.later(31)
    await world.worker_pass()
    assert (await world.requests(number))[0].status == "unknown"
    world.later(31)
    await world.worker_pass()  # the provider answers: the refund it holds is recorded
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 1)
    assert len(ours(gateway)) == 1 and gateway.calls == 1
    assert [o.status for o in world.outcomes] == ["unknown", "succeeded"]
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_restarted_worker_starts_with_a_lookup_that_may_fail(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=True)
    assert await world.crash_mid_send()  # killed after the provider refunded
    world.later(121)  # the claim expires
    gateway.lookup_fails_next(1, status_code=403)
    restarted = world.new_worker()
    await world.worker_pass(restarted)
    assert (await world.requests(number))[0].status == "unknown"
    world.later(31)
    await world.worker_pass(restarted)
    assert (await world.requests(number))[0].status == "succeeded"
    assert len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


# 2. A 4xx after the provider really refunded: Retry finds it and sends nothing.


async def test_retry_after_a_refusal_that_was_wrong_finds_the_refund(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.refuse_after_refund_next(status_code=400)
    gateway.lookup_fails_next(1, after=1)  # the check after the refusal cannot be made
    await world.worker_pass()
    assert (await world.requests(number))[0].status == "failed"
    assert await world.status(number) == "execution_failed"
    with pytest.raises(DisputeError, match="Retry in 30 s"):
        await world.retry(number, SUPERVISOR)  # the provider may still be acting on it
    world.later(30)
    result = await world.retry(number, SUPERVISOR)
    assert not result.resent and result.found_refund_ids == tuple(ours(gateway))
    assert await world.status(number) == "resolved"
    (told,) = world.orders.decisions  # the order system hears the refund was made
    assert (told.refund_status, told.provider_refund_id) == ("succeeded", ours(gateway)[0])
    assert len(await world.requests(number)) == 1 and len(ours(gateway)) == 1
    assert await world.drain() == 0
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_refusal_is_checked_against_the_provider_at_once(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.refuse_after_refund_next(status_code=403)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert (request.status, request.provider_refund_ids) == ("succeeded", tuple(ours(gateway)))
    assert await world.status(number) == "resolved"
    assert [o.status for o in world.outcomes] == ["succeeded"]
    await world.check_books(PAY, paid={PAY: PAID})


async def test_retry_after_a_true_refusal_sends_a_new_request(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.fail_next(1, "card closed")
    await world.worker_pass()
    world.later(30)
    result = await world.retry(number, SUPERVISOR)
    assert result.resent
    with pytest.raises(DisputeError, match=r"under way|not known yet"):
        await world.retry(number, SUPERVISOR)  # the new request is under way
    await world.drain()
    failed, retried = await world.requests(number)
    assert (failed.status, retried.status) == ("failed", "succeeded")
    assert failed.idempotency_key != retried.idempotency_key
    assert len(ours(gateway)) == 1 and await world.status(number) == "resolved"
    await world.check_books(PAY, paid={PAY: PAID})


# 3. Never resent after one empty look-up: the provider gets its settling time.


async def test_a_provider_that_acts_late_is_not_sent_the_refund_twice(
    db: Database, tmp_path: Path
) -> None:
    gateway = provider(honour_keys=False, cap=False)  # like localstripe: keys ignored
    world = MoneyWorld(db, gateway, tmp_path, orders=[order()])
    number = await approved(world)
    gateway.delay_next()  # the client gives up; the provider acts later
    await world.worker_pass()  # sent, no answer, looked up at once: nothing there yet
    assert (await world.requests(number))[0].status == "unknown"
    world.later(29)
    assert await world.drain() == 0  # not due before the settling time
    gateway.release_delayed()  # the provider acts, 1.5 s after the POST in real life
    world.later(2)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 1)
    assert gateway.calls == 1 and len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


async def test_after_the_settling_time_an_empty_provider_gets_the_same_key_again(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)  # nothing reached the provider
    await world.worker_pass()
    world.later(31)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 2)
    assert [r.order.idempotency_key for r in gateway.refunds if r.result.request_id] == [
        request.idempotency_key
    ]
    await world.check_books(PAY, paid={PAY: PAID})


# 4. An expired claim is fenced: the worker that lost it writes nothing.


async def test_a_worker_that_lost_its_claim_cannot_overwrite_the_outcome(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    slow = world.new_worker()
    gateway.hold_next()  # the provider takes longer than the lease
    first = world.start_pass(slow)
    await asyncio.wait_for(gateway.held.wait(), 10)
    # Nobody renewed the claim (the worker froze): it expires, and the settling time passes.
    world.later(121 + 30)
    await world.worker_pass()  # another worker takes over, looks up, sends, succeeds
    (request,) = await world.requests(number)
    assert (request.status, request.fence) == ("succeeded", 2)
    gateway.release_held()  # the frozen worker's answer arrives (the key replays)
    await first
    (request,) = await world.requests(number)
    assert (request.status, request.fence) == ("succeeded", 2)
    trail = [action for action, _ in await world.audit(number)]
    assert trail.count("refund.succeeded") == 1
    assert len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_lost_claim_cannot_put_a_settled_request_back_to_pending(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    slow = world.new_worker()
    gateway.lookup_fails_next(1, after=1)
    gateway.hold_next()
    first = world.start_pass(slow)
    await asyncio.wait_for(gateway.held.wait(), 10)
    world.later(121)
    await world.worker_pass()  # takes over: the look-up fails, nothing is sent
    (request,) = await world.requests(number)
    assert (request.status, request.fence) == ("unknown", 2)
    gateway.release_held()
    await first  # its answer would settle it, but its claim is gone
    assert (await world.requests(number))[0].status == "unknown"
    world.later(31)
    await world.worker_pass()  # the holder of the claim finds the refund
    assert (await world.requests(number))[0].status == "succeeded"
    assert len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_worker_renews_its_claim_while_the_provider_is_slow(
    db: Database, tmp_path: Path
) -> None:
    from datetime import timedelta

    from disputes.refund_records import Timings

    gateway = provider(honour_keys=False, cap=False)
    timings = Timings(lease=timedelta(seconds=0.9), settle=timedelta(seconds=0.6))
    world = MoneyWorld(db, gateway, tmp_path, orders=[order()], timings=timings, real_time=True)
    number = await approved(world)
    gateway.hold_next()
    first = world.start_pass()
    await asyncio.wait_for(gateway.held.wait(), 10)
    for _ in range(8):  # 3.2 s: more than three leases; the claim is renewed every 0.3 s
        await world.sleep(0.4)
        assert not await world.worker_pass(world.new_worker())
    gateway.release_held()
    await first
    (request,) = await world.requests(number)
    assert (request.status, request.fence, request.sends) == ("succeeded", 1, 1)
    assert len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


# 5. Duplicates at the provider are flagged, never silently taken.


async def test_two_refunds_for_one_request_are_flagged(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)
    gateway.lookup_fails_next(1, after=1)
    await world.worker_pass()
    (request,) = await world.requests(number)
    for _ in range(2):  # a misbehaving provider made it twice
        gateway.add_refund(PAY, 50_00, "USD", request_id=request.provider_id, dispute_ref="D-1")
    world.later(31)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.status == "succeeded" and request.attention == "duplicate"
    assert set(request.provider_refund_ids) == set(ours(gateway)) and len(ours(gateway)) == 2
    duplicate = [
        after for action, after in await world.audit(number) if action == "refund.duplicate"
    ]
    assert [set(d["provider_refund_ids"]) for d in duplicate] == [set(ours(gateway))]
    assert world.outcomes[-1].status == "duplicate"
    await world.check_books(PAY)


# 6. A refusal is recorded once: two workers both declined release nothing twice.


async def test_two_workers_declined_record_one_refusal(
    db: Database, gateway: FakeGateway, tmp_path: Path
) -> None:
    paused = PausedAnswers(gateway)
    world = MoneyWorld(db, paused, tmp_path, orders=[order()])
    number = await approved(world)
    gateway.fail_next(2, "declined")
    paused.pause_next()
    first = world.start_pass(world.new_worker())  # declined; its answer is slow to arrive
    await asyncio.wait_for(paused.paused.wait(), 10)
    world.later(121 + 30)  # its claim expires, and the settling time passes
    await world.worker_pass()  # the next holder of the claim: declined, recorded
    paused.release()
    await first  # the first one's decline arrives after it lost the claim: not recorded
    trail = [action for action, _ in await world.audit(number)]
    assert trail.count("refund.failed") == 1
    ledger = await world.ledger(PAY)
    assert ledger is not None
    assert ledger.refundable_minor() == PAID - 29_00  # nothing committed, nothing negative
    assert ledger.committed_minor() == 29_00
    await world.check_books(PAY, paid={PAY: PAID})


class PausedAnswers(WrappedGateway):
    """A gateway whose next refund answer (whatever it is) waits until the test releases it."""

    def __init__(self, inner: FakeGateway) -> None:
        super().__init__(inner)
        self.paused = asyncio.Event()
        self._next = False
        self._gate = asyncio.Event()

    def pause_next(self) -> None:
        self._next = True

    def release(self) -> None:
        self._gate.set()

    async def refund(self, order: RefundOrder) -> RefundResult:
        gate = self._gate if self._next else None
        self._next = False
        try:
            return await self.inner.refund(order)
        finally:
            if gate is not None:
                self.paused.set()
                await gate.wait()


# 7. Refunds made after the ledger row exists count, before proposing and before sending.


async def test_a_refund_the_shop_made_itself_is_seen_before_proposing_and_sending(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await world.open("ORD-T1")
    gateway.add_refund(PAY, 60_00, "USD")  # the shop refunds 60.00 itself, at the provider
    review = await world.review(number)
    assert review.refundable_minor == PAID - 29_00 - 60_00
    proposal = await world.propose(number, MANAGER, amount="40.00")
    await world.approve(number, proposal, SUPERVISOR)
    gateway.add_refund(PAY, 30_00, "USD")  # ... and again, before the worker sends ours
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.status == "failed" and "past what was paid" in (request.failure_reason or "")
    assert gateway.refunded(PAY) == 29_00 + 60_00 + 30_00  # ours was never sent
    await world.check_books(PAY, paid={PAY: PAID})


# 8. A refund is ours only when request id, amount and currency match.


async def test_someone_elses_refund_is_not_taken_for_ours(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)
    await world.worker_pass()
    gateway.add_refund(PAY, 12_00, "EUR")  # no request id, another amount and currency
    world.later(31)
    await world.worker_pass()  # not ours: the provider holds none of ours, so it is sent
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 2)
    assert len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_refund_under_our_id_with_another_amount_needs_a_person(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)
    await world.worker_pass()
    (request,) = await world.requests(number)
    gateway.add_refund(PAY, 5_00, "USD", request_id=request.provider_id)
    world.later(31)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert (request.status, request.attention, request.sends) == ("unknown", "mismatch", 1)
    assert await world.status(number) == "needs_attention"
    world.later(600)
    await world.drain()
    assert (await world.requests(number))[0].sends == 1  # never sent again
    await world.check_books(PAY)


# 13. A provider down for good: attention after a bounded time, one message per change.


async def test_a_provider_down_for_good_brings_a_person_in_once(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=True)
    gateway.lookup_fails_next(10_000, status_code=503, after=1)
    await world.worker_pass()
    for _ in range(40):  # an hour and a half of look-ups that fail
        world.later(150)
        await world.drain()
    assert await world.status(number) == "needs_attention"
    assert [o.status for o in world.outcomes] == ["unknown", "needs_attention"]
    trail = [action for action, _ in await world.audit(number)]
    assert trail.count("refund.attention") == 1 and trail.count("refund.unknown") == 1
    gateway.clear_faults()
    world.later(300)
    await world.drain()  # the provider is back: the refund it holds settles the dispute
    assert await world.status(number) == "resolved"
    assert [o.status for o in world.outcomes] == ["unknown", "needs_attention", "succeeded"]
    assert gateway.calls == 1
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_refund_pending_at_the_provider_is_followed_to_its_end(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.pending_next()
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.status == "unknown" and request.provider_refund_ids
    world.later(3600)
    await world.drain()
    assert await world.status(number) == "executing"  # on its way: nobody is paged
    gateway.settle(request.provider_refund_ids[0], RefundStatus.SUCCEEDED)
    world.later(300)
    await world.drain()
    assert (await world.requests(number))[0].status == "succeeded"
    await world.check_books(PAY, paid={PAY: PAID})


async def test_the_http_gateways_lookup_never_takes_a_strangers_refund(
    db: Database, tmp_path: Path
) -> None:
    """A sloppy back end lists every refund it holds, someone else's among them (no request
    id, another amount and currency): the customer must still be paid."""
    from connectors.refunds.http import HttpRefundGateway
    from sandbox.world.order_service import OrderServiceServer
    from tests.integration.test_http_refund_gateway import Shop, contract_app

    shop = Shop(paid={PAY: PAID}, ignore_filter=True)
    stranger = shop.add("pay_elsewhere", 12_00)  # EUR, no request id
    shop.fail_with = [503]  # our first POST: no answer, nothing made
    async with OrderServiceServer(contract_app(shop)) as url:
        gateway = HttpRefundGateway(f"{url}/api/", attempts=1, timeout=2.0)
        world = MoneyWorld(db, gateway, tmp_path, orders=[order()])
        number = await approved(world)
        await world.worker_pass()
        assert (await world.requests(number))[0].status == "unknown"
        world.later(31)
        await world.worker_pass()
        (request,) = await world.requests(number)
        await world.check_books(PAY)
        await gateway.aclose()
    ours = [r for r in shop.refunds if r.get("request_id") == request.provider_id]
    assert [(r["amount_minor"], r["currency"]) for r in ours] == [(50_00, "USD")]
    assert request.status == "succeeded" and request.provider_refund_ids == (ours[0]["id"],)
    assert stranger["id"] not in request.provider_refund_ids


class LateDeparture(WrappedGateway):
    """A gateway whose POSTs leave `seconds` after the worker recorded the send (the worker
    waited for the database, or for the network), on the world's clock."""

    def __init__(self, inner: FakeGateway, world: MoneyWorld, seconds: float) -> None:
        super().__init__(inner)
        self.world, self.seconds = world, seconds

    async def refund(self, order: RefundOrder) -> RefundResult:
        self.world.later(self.seconds)
        return await self.inner.refund(order)


async def test_the_settling_time_counts_from_when_the_worker_stopped_waiting(
    db: Database, tmp_path: Path
) -> None:
    gateway = provider(honour_keys=False, cap=False)
    world = MoneyWorld(db, gateway, tmp_path, orders=[order()])
    world.worker.gateway = LateDeparture(gateway, world, 20)  # leaves 20 s after its stamp
    number = await approved(world)
    gateway.delay_next()  # the provider acts within the settling time of receiving it
    await world.worker_pass()
    assert (await world.requests(number))[0].status == "unknown"
    world.later(11)  # 31 s after the stamp, 11 s after the POST left
    await world.drain()
    gateway.release_delayed()  # the provider acts, 25 s after it received the request
    world.later(20)
    await world.drain()
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 1)
    assert len(ours(gateway)) == 1
    await world.check_books(PAY)


async def test_a_request_flagged_for_a_mismatch_is_not_sent_once_that_refund_is_canceled(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)
    await world.worker_pass()
    (request,) = await world.requests(number)
    wrong = gateway.add_refund(PAY, 5_00, "USD", request_id=request.provider_id)
    world.later(31)
    await world.worker_pass()
    assert await world.status(number) == "needs_attention"
    gateway.settle(wrong.provider_refund_id, RefundStatus.CANCELED)  # a person cancels it,
    gateway.add_refund(PAY, 50_00, "USD")  # and refunds the customer by hand
    world.later(301)
    await world.drain()
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("unknown", 1)
    assert len(ours(gateway)) == 1  # the canceled one
    await world.check_books(PAY)


async def test_a_refund_that_never_arrived_is_sent_again_when_the_provider_is_back(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)  # the POST never reached the provider
    gateway.lookup_fails_next(10_000, status_code=503, after=1)
    await world.worker_pass()
    for _ in range(10):
        world.later(150)
        await world.drain()
    assert await world.status(number) == "needs_attention"
    gateway.clear_faults()
    world.later(300)
    await world.drain()
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("succeeded", 2)
    assert await world.status(number) == "resolved" and len(ours(gateway)) == 1
    await world.check_books(PAY, paid={PAY: PAID})


class ProxyRefusesWhileTheProviderActsLate(WrappedGateway):
    """A proxy answers 400 at once; the provider acts on the request later all the same."""

    async def refund(self, order: RefundOrder) -> RefundResult:
        assert isinstance(self.inner, FakeGateway)
        self.inner.delay_next()
        with contextlib.suppress(RefundUncertain):
            await self.inner.refund(order)
        raise RefundError("proxy: HTTP 400 Bad Request", status_code=400)


async def test_retry_waits_for_the_settling_time_of_a_refusal_before_sending_again(
    db: Database, tmp_path: Path
) -> None:
    gateway = provider(honour_keys=False, cap=False)
    world = MoneyWorld(
        db, ProxyRefusesWhileTheProviderActsLate(gateway), tmp_path, orders=[order()]
    )
    number = await approved(world, "60.00")
    await world.worker_pass()  # refused, and the provider holds nothing yet
    assert await world.status(number) == "execution_failed"
    world.later(5)
    with pytest.raises(DisputeError, match="nothing was sent"):
        await world.retry(number, SUPERVISOR)
    world.later(5)
    gateway.release_delayed()  # the provider acts, within its settling time
    world.later(21)
    result = await world.retry(number, SUPERVISOR)  # asks first: it paid after all
    assert not result.resent and await world.status(number) == "resolved"
    assert len(ours(gateway)) == 1 and gateway.refunded(PAY) == 29_00 + 60_00
    await world.check_books(PAY, paid={PAY: PAID})


class FrozenBeforeThePost(WrappedGateway):
    """A worker that stalls after marking its send and before the POST leaves."""

    def __init__(self, inner: FakeGateway) -> None:
        super().__init__(inner)
        self.frozen, self.thaw = asyncio.Event(), asyncio.Event()

    async def refund(self, order: RefundOrder) -> RefundResult:
        self.frozen.set()
        await self.thaw.wait()
        return await self.inner.refund(order)


async def test_a_refund_made_by_a_worker_that_lost_its_claim_is_flagged_as_a_duplicate(
    db: Database, tmp_path: Path
) -> None:
    gateway = provider(honour_keys=False, cap=False)
    world = MoneyWorld(db, gateway, tmp_path, orders=[order()])
    number = await approved(world)
    frozen = FrozenBeforeThePost(gateway)
    stalled = world.new_worker()
    stalled.gateway = frozen
    first = world.start_pass(stalled)
    await asyncio.wait_for(frozen.frozen.wait(), 10)
    world.later(121 + 31)  # its claim expires, and the settling time after it passes
    await world.worker_pass()  # another worker: nothing at the provider; it sends
    frozen.thaw.set()
    await first  # the stalled POST lands after all: a second refund, heard too late
    (request,) = await world.requests(number)
    assert request.status == "succeeded" and request.attention == "duplicate"
    assert set(request.provider_refund_ids) == set(ours(gateway)) and len(ours(gateway)) == 2
    assert world.outcomes[-1].status == "duplicate"
    await world.check_books(PAY)


async def test_a_refund_pending_for_a_week_brings_a_person_in(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.pending_next()
    await world.worker_pass()
    for _ in range(8):
        world.later(86_400)
        await world.drain()
    assert await world.status(number) == "needs_attention"
    assert [o.status for o in world.outcomes] == ["unknown", "needs_attention"]


async def test_an_answer_that_cannot_be_decoded_is_an_unknown_outcome(
    db: Database, tmp_path: Path
) -> None:
    import httpx

    from connectors.refunds.http import HttpRefundGateway

    broken = {"on": False}

    def answer(request: httpx.Request) -> httpx.Response:
        if broken["on"]:  # says gzip, is not
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"{}")
        return httpx.Response(200, json={"refunds": []})

    transport = httpx.MockTransport(answer)
    gateway = HttpRefundGateway("http://shop.test/api", transport=transport, attempts=1)
    world = MoneyWorld(db, gateway, tmp_path, orders=[order()])
    number = await approved(world)
    broken["on"] = True
    await world.worker_pass()  # the read before sending fails: not sent, and said so
    (request,) = await world.requests(number)
    assert (request.status, request.sends) == ("pending", 0)
    assert "cannot be decoded" in (request.failure_reason or "")
    for _ in range(10):
        world.later(150)
        await world.drain()
    assert await world.status(number) == "needs_attention"
    await gateway.aclose()


async def test_a_mismatch_found_after_attention_is_audited_and_told(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await approved(world)
    gateway.timeout_next(after_refund=False)
    gateway.lookup_fails_next(10_000, status_code=503, after=1)
    await world.worker_pass()
    for _ in range(10):
        world.later(150)
        await world.drain()
    assert await world.status(number) == "needs_attention"
    (request,) = await world.requests(number)
    wrong = gateway.add_refund(PAY, 5_00, "USD", request_id=request.provider_id)
    gateway.clear_faults()
    world.later(300)
    await world.drain()
    attention = [
        after for action, after in await world.audit(number) if action == "refund.attention"
    ]
    assert [a["why"] for a in attention] == ["unknown_too_long", "mismatch"]
    assert attention[-1]["provider_refund_ids"] == [wrong.provider_refund_id]
    assert [o.status for o in world.outcomes][-1] == "needs_attention"
    assert (await world.requests(number))[0].sends == 1


async def test_another_databases_request_of_the_same_number_is_not_ours(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    """A restored backup or a staging copy on the same payment account has its own rr_1."""
    gateway.add_refund(PAY, 50_00, "USD", request_id="rr_1_0123456789ab", dispute_ref="D-1")
    number = await approved(world, "20.00")
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.provider_id.startswith("rr_1_") and request.provider_id != "rr_1_0123456789ab"
    assert (request.status, request.sends) == ("succeeded", 1)  # sent: the other was not ours
    ledger = await world.ledger(PAY)
    assert ledger is not None
    assert [r.ours for r in ledger.provider_refunds or () if r.request_id] == [None, "D-1"]
    await world.check_books(PAY)
