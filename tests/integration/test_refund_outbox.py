"""The outbox and the ledger under concurrency, on SQLite and PostgreSQL: workers racing for
requests, approvals racing for what is left of a payment."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from connectors.orders.evidence_sources import default_evidence_sources
from connectors.refunds.fake import FakeGateway
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import IntakeService, OpenRequest
from disputes.ledger import load_ledger
from disputes.lifecycle import Event, Status
from disputes.refund_worker import RefundWorker
from disputes.refunds import InvalidRefund, OverRefund, request_refund
from disputes.repository import load_row
from disputes.transitions import transition
from storage.db import Database
from storage.tables import RefundRequestRow
from tests.support.orders import StaticOrders, order

MANAGER = Actor.slack_user("U0MANAGER1")
PAID = 129_00  # ORD-T1 total; 29.00 was already refunded by the original decision
REFERENCE = "pi_3QtestTEST"


async def approved_dispute(db: Database, amount_minor: int = 50_00) -> int:
    """A dispute walked legally to `approved`, its refund queued in the approving transaction."""
    intake = IntakeService(db, StaticOrders(order()), default_evidence_sources())
    number = (await intake.open(OpenRequest("ORD-T1", None, "", MANAGER))).case.dispute.number

    async def approve(session):  # type: ignore[no-untyped-def]
        row = await load_row(session, number)
        for event in (Event.EVIDENCE_OVERRIDDEN, Event.PROPOSED, Event.APPROVED):
            await transition(session, row, event, MANAGER)
        await request_refund(
            session, row, amount_minor=amount_minor, currency="USD", gateway="fake", actor=MANAGER
        )

    await db.run(approve)
    return number


def worker(db: Database, gateway: FakeGateway) -> RefundWorker:
    return RefundWorker(db, gateway)


def fake() -> FakeGateway:
    return FakeGateway(paid={REFERENCE: (PAID, "USD")})


async def requests(db: Database) -> list[RefundRequestRow]:
    async with db.reading() as session:
        return list(await session.scalars(select(RefundRequestRow).order_by(RefundRequestRow.id)))


async def status(db: Database, number: int) -> Status:
    return (await DisputeService(db).case(number)).dispute.status


async def test_concurrent_workers_never_send_one_request_twice(db: Database) -> None:
    for n in range(6):
        await approved_dispute_for(db, f"ORD-W{n}")
    gateway = FakeGateway(paid={f"pi_w{n}": (PAID, "USD") for n in range(6)})
    workers = [worker(db, gateway) for _ in range(3)]

    async def drain(run: RefundWorker) -> None:
        while await run.run_once():
            pass

    await asyncio.gather(*(drain(run) for run in workers))
    assert sorted(r.order.payment_reference for r in gateway.refunds) == [
        f"pi_w{n}" for n in range(6)
    ]
    assert {r.status for r in await requests(db)} == {"succeeded"}


async def approved_dispute_for(db: Database, order_id: str) -> int:
    source = StaticOrders(
        order(order_id=order_id, payment={"provider": "stripe", "reference": f"pi_w{order_id[-1]}"})
    )
    intake = IntakeService(db, source, default_evidence_sources())
    number = (await intake.open(OpenRequest(order_id, None, "", MANAGER))).case.dispute.number

    async def approve(session):  # type: ignore[no-untyped-def]
        row = await load_row(session, number)
        for event in (Event.EVIDENCE_OVERRIDDEN, Event.PROPOSED, Event.APPROVED):
            await transition(session, row, event, MANAGER)
        await request_refund(
            session, row, amount_minor=10_00, currency="USD", gateway="fake", actor=MANAGER
        )

    await db.run(approve)
    return number


async def test_the_ledger_refuses_refunds_past_what_was_paid(db: Database) -> None:
    number = await approved_dispute(db, amount_minor=60_00)

    async def more(amount: int):  # type: ignore[no-untyped-def]
        async def work(session):  # type: ignore[no-untyped-def]
            row = await load_row(session, number)
            await request_refund(
                session, row, amount_minor=amount, currency="USD", gateway="fake", actor=MANAGER
            )

        return await db.run(work)

    with pytest.raises(OverRefund) as refused:
        await more(40_01)  # 29.00 + 60.00 + 40.01 > 129.00
    assert "at most 40.00 USD" in str(refused.value)
    await more(40_00)  # exactly what remains
    with pytest.raises(OverRefund):
        await more(1)
    for bad in (0, -5):
        with pytest.raises(InvalidRefund):
            await more(bad)
    assert len(await requests(db)) == 2


async def test_concurrent_partial_refunds_cannot_together_exceed_the_payment(
    db: Database,
) -> None:
    number = await approved_dispute(db, amount_minor=1)

    async def ask() -> bool:
        async def work(session):  # type: ignore[no-untyped-def]
            row = await load_row(session, number)
            await request_refund(
                session, row, amount_minor=30_00, currency="USD", gateway="fake", actor=MANAGER
            )

        try:
            await db.run(work)
        except OverRefund:
            return False
        return True

    granted = await asyncio.gather(*(ask() for _ in range(6)))
    assert sum(granted) == 3  # 99.99 left after 29.00 + 0.01: three of 30.00 fit
    async with db.reading() as session:
        ledger = await load_ledger(session, REFERENCE)
    assert ledger is not None and ledger.committed_minor() <= ledger.paid_minor


async def test_wrong_currency_is_refused(db: Database) -> None:
    number = await approved_dispute(db)

    async def work(session):  # type: ignore[no-untyped-def]
        row = await load_row(session, number)
        await request_refund(
            session, row, amount_minor=100, currency="EUR", gateway="fake", actor=MANAGER
        )

    with pytest.raises(InvalidRefund, match="paid in USD"):
        await db.run(work)
