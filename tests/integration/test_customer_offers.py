"""The offer the customer agrees to, on SQLite and PostgreSQL: an option the pack puts to the
customer moves no money until they accept; a decline sends the dispute back to review; an
expired or unanswered offer moves nothing; every link answers once; the closing message and its
survey follow the resolution; the outbox delivers each message once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.refunds.fake import FakeGateway
from disputes.audit import Actor
from disputes.customer import InvalidReply, check_reply, file_reply
from disputes.customer_answers import AnswerRefused
from disputes.errors import DisputeNotFound
from disputes.lifecycle import Event
from disputes.links import BadLink
from disputes.transitions import transition
from storage.db import Database
from storage.tables import CustomerMessageRow, CustomerOfferRow, DisputeRow
from tests.support.money import MANAGER, PUBLIC_URL, SUPERVISOR, MoneyWorld
from tests.support.orders import order

PAY = "pi_3QtestTEST"
PAID = 129_00
DAY = 86_400


@pytest.fixture
def gateway() -> FakeGateway:
    gateway = FakeGateway(paid={PAY: (PAID, "USD")})
    gateway.add_refund(PAY, 29_00, "USD")
    return gateway


@pytest.fixture
def world(db: Database, gateway: FakeGateway, tmp_path: Path) -> MoneyWorld:
    return MoneyWorld(db, gateway, tmp_path, orders=[order()], conversation=True)


async def offered(
    world: MoneyWorld, kind: str = "partial_refund", amount: str | None = "50.00"
) -> int:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, MANAGER, kind=kind, amount=amount)
    await world.approve(number, proposal, SUPERVISOR)
    return number


async def messages(world: MoneyWorld, number: int) -> list[CustomerMessageRow]:
    async with world.db.reading() as session:
        found = await session.scalars(
            select(CustomerMessageRow)
            .join(DisputeRow, DisputeRow.id == CustomerMessageRow.dispute_id)
            .where(DisputeRow.number == number)
            .order_by(CustomerMessageRow.id)
        )
        return list(found)


async def test_a_partial_refund_waits_for_the_customer_then_moves_once(world: MoneyWorld) -> None:
    number = await offered(world)
    assert await world.status(number) == "awaiting_customer"
    assert await world.requests(number) == []  # no money before the customer agrees
    assert await world.drain() == 0

    assert await world.deliver() == 1
    (offer,) = world.channel.sent
    assert offer.kind == "offer" and f"D-{number}" in offer.subject
    link = offer.links[0]
    assert link.startswith(f"{PUBLIC_URL}/c/") and link in offer.text

    await world.accept_offer(number)
    assert await world.status(number) == "approved"
    (request,) = await world.requests(number)
    assert request.amount_minor == 50_00
    assert await world.drain() == 1
    assert await world.status(number) == "resolved"
    with pytest.raises(AnswerRefused):
        await world.accept_offer(number)  # a link answers once
    assert len(await world.requests(number)) == 1

    await world.deliver()  # the closing message, with the survey's link
    closing = world.channel.sent[-1]
    assert closing.kind == "closing" and "/c/csat." in closing.text
    assert closing.in_reply_to == offer.message_id
    assert offer.message_id in closing.references
    trail = [action for action, _ in await world.audit(number)]
    assert trail.count("status.customer_accepted") == 1
    assert "customer.message_sent" in trail
    await world.check_books(PAY, paid={PAY: PAID})


async def test_a_decline_goes_back_to_review_with_the_reason_and_moves_nothing(
    world: MoneyWorld,
) -> None:
    number = await offered(world)
    await world.decline_offer(number, "I want the whole amount back")
    assert await world.status(number) == "in_review"
    assert await world.requests(number) == []
    declined = [
        after for action, after in await world.audit(number) if action == "status.customer_declined"
    ]
    assert declined[0]["reason"] == "I want the whole amount back"
    with pytest.raises(AnswerRefused):
        await world.accept_offer(number)
    assert await world.requests(number) == []


async def test_an_expired_offer_waits_for_a_person_and_its_link_moves_nothing(
    world: MoneyWorld,
) -> None:
    number = await offered(world)
    link = await world.offer_link(number)
    world.later(14 * DAY + 1)
    await world.deliver()
    assert await world.status(number) == "offer_expired"
    with pytest.raises(AnswerRefused) as refused:
        await world.answers.accept(link)
    assert refused.value.page.status == "expired"
    assert await world.requests(number) == []
    # A person makes a new proposal from there.
    proposal = await world.propose(number, MANAGER, kind="partial_refund", amount="60.00")
    await world.approve(number, proposal, SUPERVISOR)
    assert await world.status(number) == "awaiting_customer"
    assert await world.offer_link(number) != link


async def test_an_unanswered_offer_gets_one_reminder(world: MoneyWorld) -> None:
    number = await offered(world)
    await world.deliver()
    world.later(72 * 3600 + 1)
    await world.deliver()
    await world.deliver()
    kinds = [m.kind for m in world.channel.sent]
    assert kinds == ["offer", "reminder"]
    assert world.channel.sent[1].links == world.channel.sent[0].links
    assert await world.status(number) == "awaiting_customer"


async def test_forged_and_foreign_links_are_refused(world: MoneyWorld) -> None:
    number = await offered(world)
    token = await world.offer_link(number)
    payload, _, signature = token.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (
        f"{payload}.{flipped}",
        token.replace(f".{number}.", f".{number + 1}.", 1),
        "offer.1.1.1." + "0" * 32 + "." + "A" * 43,
        "",
        token + "x",
    ):
        with pytest.raises(BadLink):
            await world.answers.accept(bad)
    assert await world.status(number) == "awaiting_customer"
    assert await world.requests(number) == []


async def test_a_full_refund_needs_no_agreement_and_the_customer_is_told_after(
    world: MoneyWorld,
) -> None:
    number = await offered(world, kind="full_refund", amount=None)
    assert await world.status(number) == "approved"
    await world.drain()
    assert await world.status(number) == "resolved"
    await world.deliver()
    assert [m.kind for m in world.channel.sent] == ["closing"]


async def test_the_survey_takes_one_rating(world: MoneyWorld) -> None:
    number = await offered(world, kind="full_refund", amount=None)
    await world.drain()
    await world.deliver()
    token = world.channel.sent[-1].links[0].rsplit("/c/", 1)[1]
    page = await world.answers.rate(token, 4, "quick, thanks")
    assert (page.status, page.rating) == ("rated", 4)
    with pytest.raises(AnswerRefused):
        await world.answers.rate(token, 1, "changed my mind")
    rated = [after for action, after in await world.audit(number) if action == "customer.rated"]
    assert rated == [{"survey": rated[0]["survey"], "rating": 4, "comment": "quick, thanks"}]


async def test_a_channel_down_then_up_delivers_once(world: MoneyWorld) -> None:
    number = await offered(world)
    world.channel.fail_next("connection refused")
    await world.deliver()
    assert world.channel.sent == []
    (row,) = await messages(world, number)
    assert (row.status, row.attempts) == ("pending", 1)
    await world.deliver()  # not due yet: backing off
    assert world.channel.sent == []
    world.later(60)
    await world.deliver()
    await world.deliver()
    assert [m.kind for m in world.channel.sent] == ["offer"]
    (row,) = await messages(world, number)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_send_lost_to_a_crash_is_sent_again_under_the_same_message_id(
    world: MoneyWorld,
) -> None:
    number = await offered(world)
    # A worker claimed the message and died before recording anything.
    async with world.db.transaction() as session:
        await session.execute(
            update(CustomerMessageRow).values(
                status="sending",
                fence=CustomerMessageRow.fence + 1,
                attempts=1,
                lease_until=world.clock() + timedelta(seconds=60),
            )
        )
    await world.deliver()
    assert world.channel.sent == []  # its claim still holds
    world.later(61)
    await world.deliver()
    (message,) = world.channel.sent
    (row,) = await messages(world, number)
    assert message.message_id == row.message_id and row.status == "sent"


async def test_a_definite_refusal_is_failed_and_not_retried(world: MoneyWorld) -> None:
    number = await offered(world)
    world.channel.fail_next("550 no such user", retryable=False)
    await world.deliver()
    world.later(3600)
    await world.deliver()
    (row,) = await messages(world, number)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "customer.message_failed" in [a for a, _ in await world.audit(number)]


async def test_two_accepts_at_once_move_money_once(world: MoneyWorld) -> None:
    number = await offered(world)
    token = await world.offer_link(number)
    results = await asyncio.gather(
        world.answers.accept(token), world.answers.accept(token), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, AnswerRefused) for r in results if isinstance(r, BaseException))
    assert len(await world.requests(number)) == 1


async def test_the_offer_row_is_bound_to_its_proposal(world: MoneyWorld) -> None:
    number = await offered(world)
    async with world.db.reading() as session:
        (offer,) = list(await session.scalars(select(CustomerOfferRow)))
    assert offer.status == "open" and offer.reminder_due_at is not None
    await world.accept_offer(number)
    async with world.db.reading() as session:
        (offer,) = list(await session.scalars(select(CustomerOfferRow)))
    assert offer.status == "accepted" and offer.answered_at is not None


async def test_an_offer_taken_back_by_a_person_gets_no_reminder_and_no_expiry(
    world: MoneyWorld,
) -> None:
    number = await offered(world)
    await world.deliver()
    async with world.db.transaction() as session:
        row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
        assert row is not None
        await transition(session, row, Event.ESCALATED, Actor.slack_user(SUPERVISOR))
    assert world.outbox.chores is not None
    world.later(72 * 3600 + 1)
    assert await world.outbox.chores.run_once() == []
    world.later(14 * DAY)
    assert await world.outbox.chores.run_once() == []
    await world.deliver()
    assert [m.kind for m in world.channel.sent] == ["offer"]
    assert await world.status(number) == "escalated"
    with pytest.raises(AnswerRefused):
        await world.accept_offer(number)


async def test_a_reply_naming_our_message_is_filed_with_its_dispute(world: MoneyWorld) -> None:
    number = await offered(world)
    (row,) = await messages(world, number)
    answer = {"from": "jane@example.com", "body": "Could it be more?"}
    reply = check_reply({**answer, "in_reply_to": f"<{row.message_id}>"})
    assert await file_reply(world.db, reply) == number
    case = await world.case(number)
    (filed,) = [e for e in case.evidence if e.payload.get("direction") == "inbound"]
    assert filed.payload["in_reply_to"] == row.message_id
    for wrong in (
        {**answer, "dispute": f"D-{number + 1}", "in_reply_to": row.message_id},  # disagrees
        {**answer, "in_reply_to": "dd.9.unknown@example.com"},  # no message of ours
    ):
        with pytest.raises(DisputeNotFound):
            await file_reply(world.db, check_reply(wrong))
    with pytest.raises(InvalidReply):
        check_reply(answer)  # neither a dispute nor a message it answers
    with pytest.raises(InvalidReply):
        check_reply({**answer, "in_reply_to": "not an id\r\nBcc: x@y.example"})
