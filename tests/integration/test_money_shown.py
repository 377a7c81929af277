"""What a manager is shown about money: the payment ledger as the provider holds it, earlier
disputes on the order, and a refund the order system made that never reached the customer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from blocks.disputes import evidence_card
from bot.settings import default_sla_file
from connectors.orders.factory import default_fixtures_path
from connectors.refunds.fake import FakeGateway
from disputes import sla_clock
from disputes.audit import Actor
from disputes.errors import NotAllowed
from disputes.intake import OpenRequest
from disputes.refunds import OverRefund
from domain.orders import Order
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import DisputeRow
from tests.support.money import MANAGER, MANAGER2, SUPERVISOR, MoneyWorld
from tests.support.orders import order

PAY = "pi_3QtestTEST"


def sandals() -> Order:
    """ORD-1017: the order system refunded 72.00 of 77.95; the customer says nothing came."""
    data = json.loads((default_fixtures_path() / "ORD-1017.json").read_text())
    data["payment"] = {"provider": "stripe", "reference": "pi_sandals"}
    return Order.from_wire(data)


@pytest.fixture
def gateway() -> FakeGateway:
    gateway = FakeGateway(paid={PAY: (129_00, "USD"), "pi_sandals": (77_95, "USD")})
    gateway.add_refund(PAY, 29_00, "USD")  # ORD-T1's original partial refund, at the provider
    return gateway


@pytest.fixture
def world(db: Database, gateway: FakeGateway, tmp_path: Path) -> MoneyWorld:
    return MoneyWorld(db, gateway, tmp_path, orders=[order(), sandals()])


def card_text(case: object) -> str:
    return json.dumps(evidence_card(case).blocks)  # type: ignore[arg-type]


async def test_a_second_dispute_counts_what_the_first_refunded_and_names_it(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    first = await world.open("ORD-T1")
    proposal = await world.propose(first, MANAGER, amount="40.00")
    await world.approve(first, proposal, MANAGER2)
    await world.drain()
    second = await world.open("ORD-T1")
    case = await world.case(second)
    assert case.dispute.disputed_amount_minor == 129_00 - 29_00 - 40_00
    (earlier,) = case.earlier
    assert (earlier.ref, earlier.status.value, earlier.refunded_minor) == ("D-1", "resolved", 40_00)
    text = card_text(case)
    assert "Earlier disputes on this order" in text and "*D-1*" in text

    assert "refunded 40.00 USD" in text
    ledger = case.ledger
    assert ledger is not None and ledger.provider_minor == 69_00
    ours = [r for r in ledger.provider_refunds or () if r.ours]
    assert [(r.ours, r.amount_minor) for r in ours] == [("D-1", 40_00)]
    assert "Refunded at the provider: 69.00 USD" in text and "*D-1*" in text
    assert "Discrepancy" not in text
    await world.check_books(PAY, paid={PAY: 129_00})


async def test_a_refund_not_received_is_shown_and_resent_by_a_supervisor(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await world.open("ORD-1017", MANAGER, reason="refund-not-received")
    case = await world.case(number)
    assert case.dispute.reason.value == "REFUND_NOT_RECEIVED"
    assert case.dispute.disputed_amount_minor == 72_00  # not 0.00
    text = card_text(case)
    assert "Discrepancy" in text and "72.00 USD never reached the customer" in text
    review = await world.review(number)
    assert review.refundable_minor == 72_00  # what never arrived: not capped at 5.95
    proposal = await world.propose(number, MANAGER, kind="full_refund")
    with pytest.raises(NotAllowed, match="supervisor"):
        await world.approve(number, proposal, MANAGER2)
    await world.approve(number, proposal, SUPERVISOR)
    await world.drain()
    assert await world.status(number) == "resolved"
    assert gateway.refunded("pi_sandals") == 72_00
    ledger = await world.ledger("pi_sandals")
    assert ledger is not None
    assert (ledger.discrepancy_minor, ledger.refundable_minor()) == (0, 5_95)
    await world.check_books("pi_sandals", paid={"pi_sandals": 77_95})


async def test_a_refund_not_received_cannot_resend_what_the_provider_already_holds(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    gateway.add_refund("pi_sandals", 72_00, "USD")  # it did arrive: the provider holds it
    number = await world.open("ORD-1017", MANAGER, reason="refund not received")
    case = await world.case(number)
    assert case.dispute.disputed_amount_minor == 0
    assert "Discrepancy" not in card_text(case)
    review = await world.review(number)
    assert review.refundable_minor == 0  # nothing is missing: nothing is re-sent
    await world.check_books("pi_sandals", paid={"pi_sandals": 77_95})


async def test_the_card_says_when_the_provider_could_not_be_read(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    gateway.lookup_fails_next(1, status_code=503)
    number = await world.open("ORD-T1")
    case = await world.case(number)
    text = card_text(case)
    assert "Provider not read" in text and "503" in text
    assert case.dispute.disputed_amount_minor == 100_00  # the order system's 29.00 counted


async def test_a_refund_not_received_resends_only_what_is_missing_even_if_intake_missed_it(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    gateway.lookup_fails_next(1, status_code=503)  # intake cannot read the provider
    gateway.add_refund("pi_sandals", 72_00, "USD")  # which holds the refund all along
    number = await world.open("ORD-1017", MANAGER, reason="refund-not-received")
    assert (await world.case(number)).dispute.disputed_amount_minor == 72_00  # as far as known
    proposal = await world.propose(number, MANAGER, kind="full_refund")  # on what intake knew
    with pytest.raises(OverRefund, match=r"at most 0\.00 USD"):
        await world.approve(number, proposal, SUPERVISOR)  # the provider is read again here
    await world.drain()
    assert gateway.refunded("pi_sandals") == 72_00 and await world.requests(number) == []


async def test_intake_names_an_orders_earlier_dispute_and_marks_it_followed_up(
    world: MoneyWorld,
) -> None:
    sla_clock.watch(world.db, SlaPolicy.load(default_sla_file()))  # as the app keeps its facts
    first = await world.open("ORD-T1")
    proposal = await world.propose(first, MANAGER, amount="40.00")
    await world.approve(first, proposal, MANAGER2)
    await world.drain()
    assert await followed_at(world.db, first) is None
    opened = await world.intake.open(OpenRequest("ORD-T1", None, "", Actor.slack_user(MANAGER)))
    # Counted when the number is taken, read in the same transaction as the dispute is written.
    assert [(e.ref, e.refunded_minor) for e in opened.case.earlier] == [("D-1", 40_00)]
    assert opened.case.earlier == (await world.case(opened.case.dispute.number)).earlier
    assert await followed_at(world.db, first) == opened.case.dispute.created_at
    other = await world.intake.open(OpenRequest("ORD-1017", None, "", Actor.slack_user(MANAGER)))
    assert other.case.earlier == []  # an order's first dispute


async def followed_at(db: Database, number: int) -> object:
    async with db.reading() as session:
        return await session.scalar(
            select(DisputeRow.followed_at).where(DisputeRow.number == number)
        )
