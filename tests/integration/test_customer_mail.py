"""The customer outbox over real SMTP (aiosmtpd on loopback), on SQLite and PostgreSQL: a mail
server that is down and then up gets the offer once; a send lost to a crash is sent again under
its Message-ID, and the mailbox keeps one; one dispute is one conversation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.customers.smtp import SmtpChannel
from connectors.refunds.fake import FakeGateway
from disputes.customer_outbox import CustomerOutbox
from sandbox.app_process import free_port
from sandbox.world.mailbox import Mailbox
from storage.db import Database
from storage.tables import CustomerMessageRow
from tests.support.money import MANAGER, SUPERVISOR, MoneyWorld
from tests.support.orders import order

PAY = "pi_3QtestTEST"


@pytest.fixture
def world(db: Database, tmp_path: Path) -> MoneyWorld:
    gateway = FakeGateway(paid={PAY: (129_00, "USD")})
    return MoneyWorld(db, gateway, tmp_path, orders=[order()], conversation=True)


def outbox_to(world: MoneyWorld, port: int) -> CustomerOutbox:
    channel = SmtpChannel.from_url(
        f"smtp://127.0.0.1:{port}", sender="care@shop.example", timeout=2
    )
    return CustomerOutbox(world.db, channel, chores=world.outbox.chores, clock=world.clock)


async def offered(world: MoneyWorld) -> int:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, MANAGER, kind="partial_refund", amount="50.00")
    await world.approve(number, proposal, SUPERVISOR)
    return number


async def rows(world: MoneyWorld) -> list[CustomerMessageRow]:
    async with world.db.reading() as session:
        return list(
            await session.scalars(select(CustomerMessageRow).order_by(CustomerMessageRow.id))
        )


async def test_a_mail_server_down_then_up_gets_the_offer_once(world: MoneyWorld) -> None:
    port = free_port()
    outbox = outbox_to(world, port)
    number = await offered(world)
    await outbox.run_once()  # nothing listens on the port
    (row,) = await rows(world)
    assert (row.status, row.attempts, row.maybe_sent) == ("pending", 1, False)
    async with Mailbox(port=port) as mailbox:
        await outbox.run_once()  # backing off: not due yet
        assert mailbox.messages == []
        world.later(60)
        await outbox.run_once()
        await outbox.run_once()
        (mail,) = mailbox.messages
        assert mail.to == ("jane@example.com",) and mail.sender == "care@shop.example"
        assert f"(D-{number})" in mail.subject
        assert mail.message_id == row.message_id
        assert "/c/offer." in mail.body and "/c/offer." in (mail.html or "")
    (row,) = await rows(world)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_send_lost_to_a_crash_is_one_mail_in_the_inbox(world: MoneyWorld) -> None:
    async with Mailbox() as mailbox:
        assert mailbox.port is not None
        outbox = outbox_to(world, mailbox.port)
        await offered(world)
        await outbox.run_once()
        assert len(mailbox.messages) == 1
        # The worker that sent it died before its record: the row is still claimed, lapsed.
        async with world.db.transaction() as session:
            await session.execute(
                update(CustomerMessageRow).values(
                    status="sending",
                    fence=CustomerMessageRow.fence + 1,
                    lease_until=world.clock() - timedelta(seconds=1),
                )
            )
        await outbox.run_once()
        assert len(mailbox.messages) == 1 and mailbox.duplicates == 1
    (row,) = await rows(world)
    assert row.status == "sent"


async def test_one_dispute_is_one_conversation(world: MoneyWorld) -> None:
    async with Mailbox() as mailbox:
        assert mailbox.port is not None
        outbox = outbox_to(world, mailbox.port)
        number = await offered(world)
        await outbox.run_once()
        await world.accept_offer(number)
        await world.drain()
        await outbox.run_once()
        offer, closing = mailbox.messages
    assert closing.in_reply_to == offer.message_id
    assert offer.message_id in closing.references
    assert "/c/csat." in closing.body
