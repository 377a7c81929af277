"""The money path against localstripe (which ignores Idempotency-Key, like some in-house back
ends) behind a fault-injecting proxy, over real HTTP, on SQLite and PostgreSQL, in real time:
answers lost after the refund, 4xx on look-ups and after a refund, effects that land after the
client gave up, and a provider slower than the lease. Each ends with the three ledgers compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.refunds.stripe import StripeGateway
from disputes.errors import DisputeError
from disputes.refund_records import Timings
from storage.db import Database
from tests.support.faulty_stripe import REFUND_LOOKUP, REFUND_POST, Fault, FaultyStripe, refunds_at
from tests.support.localstripe import (
    API_KEY,
    create_payment,
    localstripe_server,
    require_localstripe,
)
from tests.support.money import MANAGER, SUPERVISOR, MoneyWorld
from tests.support.orders import order

PAID = 129_00
PASS = Fault.slow(0)  # forwarded and answered at once
TIMINGS = Timings(
    lease=timedelta(seconds=1.0),
    settle=timedelta(seconds=1.2),
    attention_after=timedelta(seconds=60),
    max_backoff=timedelta(seconds=0.3),
    poll_seconds=0.1,
)


@pytest.fixture(scope="module")
def stripe() -> Iterator[str]:
    require_localstripe()
    with localstripe_server() as base:
        yield base


@pytest.fixture
async def proxy(stripe: str) -> AsyncIterator[FaultyStripe]:
    async with FaultyStripe(stripe) as running:
        yield running


@pytest.fixture
async def payment(stripe: str) -> str:
    return await create_payment(stripe, PAID, "usd")


@pytest.fixture
async def world(
    db: Database, proxy: FaultyStripe, payment: str, tmp_path: Path
) -> AsyncIterator[MoneyWorld]:
    gateway = StripeGateway(API_KEY, api_base=proxy.url, timeout=0.8, attempts=2, backoff=0.05)
    paid = order(payment={"provider": "stripe", "reference": payment})
    yield MoneyWorld(db, gateway, tmp_path, orders=[paid], timings=TIMINGS, real_time=True)
    await gateway.aclose()


async def approved(world: MoneyWorld) -> int:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, MANAGER, amount="50.00")
    await world.approve(number, proposal, SUPERVISOR)
    return number


async def at_provider(stripe: str, payment: str) -> list[int]:
    return [r["amount"] for r in await refunds_at(stripe, payment)]


async def until_settled(world: MoneyWorld, number: int, within: float = 15.0) -> str:
    """Worker passes, in real time, until the dispute's refund request is final."""
    for _ in range(int(within / 0.1)):
        await world.drain()
        (request, *_) = await world.requests(number)
        if request.status in ("succeeded", "failed"):
            return request.status
        await world.sleep(0.1)
    raise AssertionError(f"not settled: {await world.requests(number)}")


async def test_a_lost_answer_and_failing_lookups_never_make_a_second_refund(
    world: MoneyWorld, proxy: FaultyStripe, stripe: str, payment: str
) -> None:
    number = await approved(world)
    proxy.plan(REFUND_LOOKUP, PASS)  # the ledger read before sending
    proxy.plan(REFUND_POST, Fault.lose_answer(hold=3))  # refunded; the answer never comes
    proxy.plan(REFUND_LOOKUP, Fault.status(404), times=2)
    proxy.plan(REFUND_LOOKUP, Fault.status(401), times=2)
    await world.worker_pass()
    (request,) = await world.requests(number)
    assert request.status == "unknown"
    with pytest.raises(DisputeError, match="not known yet"):
        await world.retry(number, SUPERVISOR)
    assert await until_settled(world, number) == "succeeded"
    await proxy.settle()
    assert await at_provider(stripe, payment) == [50_00]
    assert len(proxy.forwarded_posts()) == 1
    await world.check_books(payment, paid={payment: PAID})


async def test_a_4xx_after_the_refund_is_found_by_retry(
    world: MoneyWorld, proxy: FaultyStripe, stripe: str, payment: str
) -> None:
    number = await approved(world)
    proxy.plan(REFUND_LOOKUP, PASS)  # the ledger read before sending
    proxy.plan(REFUND_POST, Fault.status_after_forward(400))
    proxy.plan(REFUND_LOOKUP, Fault.status(404))  # the check after the refusal fails too
    assert await until_settled(world, number) == "failed"
    await world.sleep(1.3)  # the refusal's settling time
    result = await world.retry(number, SUPERVISOR)
    assert not result.resent and result.found_refund_ids
    assert await world.status(number) == "resolved"
    assert await at_provider(stripe, payment) == [50_00]
    await world.check_books(payment, paid={payment: PAID})


async def test_a_4xx_after_the_refund_is_caught_by_the_check_that_follows(
    world: MoneyWorld, proxy: FaultyStripe, stripe: str, payment: str
) -> None:
    number = await approved(world)
    proxy.plan(REFUND_POST, Fault.status_after_forward(403))
    assert await until_settled(world, number) == "succeeded"
    assert await world.status(number) == "resolved"
    assert await at_provider(stripe, payment) == [50_00]
    await world.check_books(payment, paid={payment: PAID})


@pytest.fixture
async def patient_world(
    db: Database, proxy: FaultyStripe, payment: str, tmp_path: Path
) -> AsyncIterator[MoneyWorld]:
    """A world whose settling time (4 s) leaves a wide margin on both sides of an effect that
    lands 2 s after its POST: well after the client gave up, well before a resend is allowed.
    Its lease (10 s) outlasts a slow machine's database: the send is not given up as stale."""
    gateway = StripeGateway(API_KEY, api_base=proxy.url, timeout=0.8, attempts=2, backoff=0.05)
    paid = order(payment={"provider": "stripe", "reference": payment})
    timings = replace(TIMINGS, settle=timedelta(seconds=4.0), lease=timedelta(seconds=10))
    yield MoneyWorld(db, gateway, tmp_path, orders=[paid], timings=timings, real_time=True)
    await gateway.aclose()


async def test_an_effect_that_lands_after_the_client_gave_up_is_waited_for(
    patient_world: MoneyWorld, proxy: FaultyStripe, stripe: str, payment: str
) -> None:
    world = patient_world
    number = await approved(world)
    proxy.plan(REFUND_POST, Fault.delay_effect(2.0))  # the client gives up at 0.8 s
    await world.worker_pass()
    assert (await world.requests(number))[0].status == "unknown"
    assert await at_provider(stripe, payment) == []  # looked up at once: not there yet
    assert await until_settled(world, number) == "succeeded"
    await proxy.settle()
    assert await at_provider(stripe, payment) == [50_00]
    assert len(proxy.forwarded_posts()) == 1
    await world.check_books(payment, paid={payment: PAID})


async def test_a_provider_slower_than_the_lease_keeps_its_worker(
    world: MoneyWorld, proxy: FaultyStripe, stripe: str, payment: str
) -> None:
    number = await approved(world)
    slow_world_gateway = StripeGateway(API_KEY, api_base=proxy.url, timeout=5.0, attempts=1)
    slow = world.new_worker()
    slow.gateway = slow_world_gateway
    proxy.plan(REFUND_POST, Fault.slow(3.2))  # more than three leases
    first = world.start_pass(slow)
    for _ in range(15):
        await world.sleep(0.2)
        assert not await world.worker_pass()  # the claim is renewed: nobody else takes it
    assert await first
    await slow_world_gateway.aclose()
    (request,) = await world.requests(number)
    assert (request.status, request.fence, request.sends) == ("succeeded", 1, 1)
    assert await at_provider(stripe, payment) == [50_00]
    await world.check_books(payment, paid={payment: PAID})
