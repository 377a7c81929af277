"""Exactly-once refunds through the outbox, on SQLite and PostgreSQL, with a fake provider that
behaves like Stripe (same key, same answer; refunds capped at what was paid)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.orders.evidence import default_evidence_sources
from connectors.refunds.fake import FakeGateway
from disputes.audit import Actor
from disputes.errors import DisputeError, NotAllowed
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Event, Status
from disputes.records import load_row
from disputes.refund_worker import RefundOutcome, RefundWorker
from disputes.refunds import InvalidRefund, OverRefund, request_refund
from disputes.service import DisputeService
from disputes.transitions import transition
from storage.db import Database
from storage.tables import RefundLedgerRow, RefundRequestRow
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


def worker(
    db: Database, gateway: FakeGateway, seen: list[RefundOutcome] | None = None, **kw: object
) -> RefundWorker:
    async def notify(outcome: RefundOutcome) -> None:
        if seen is not None:
            seen.append(outcome)

    return RefundWorker(db, gateway, notify=notify, **kw)  # type: ignore[arg-type]


def fake() -> FakeGateway:
    return FakeGateway(paid={REFERENCE: (PAID, "USD")})


async def requests(db: Database) -> list[RefundRequestRow]:
    async with db.reading() as session:
        return list(await session.scalars(select(RefundRequestRow).order_by(RefundRequestRow.id)))


async def status(db: Database, number: int) -> Status:
    return (await DisputeService(db).case(number)).dispute.status


async def test_approved_refund_is_sent_once_and_resolves_the_dispute(db: Database) -> None:
    number = await approved_dispute(db)
    gateway, seen = fake(), []
    run = worker(db, gateway, seen)
    assert await run.run_once()
    assert not await run.run_once()  # nothing else is due
    assert len(gateway.refunds) == 1 and gateway.refunds[0].order.amount_minor == 50_00
    (request,) = await requests(db)
    assert (request.status, request.attempts) == ("succeeded", 1)
    assert request.provider_refund_id == seen[0].provider_refund_id
    assert await status(db, number) == Status.RESOLVED
    assert [o.status for o in seen] == ["succeeded"]
    assert await DisputeService(db).verify_audit() == []


async def test_timeout_after_the_provider_refunded_is_found_not_resent(db: Database) -> None:
    number = await approved_dispute(db)
    gateway = fake()
    gateway.timeout_next(1, after_refund=True)
    run = worker(db, gateway)
    assert await run.run_once()
    (request,) = await requests(db)
    assert (request.status, request.uncertain) == ("pending", True)
    assert await status(db, number) == Status.EXECUTING
    await _due_now(db)
    assert await run.run_once()
    assert len(gateway.refunds) == 1  # looked up by our request id, not sent again
    (request,) = await requests(db)
    assert request.status == "succeeded" and request.attempts == 2
    assert await status(db, number) == Status.RESOLVED


async def test_5xx_then_success_sends_with_the_same_idempotency_key(db: Database) -> None:
    await approved_dispute(db)
    gateway = fake()
    gateway.error_5xx_next(2)
    run = worker(db, gateway)
    for _ in range(3):
        await _due_now(db)
        await run.run_once()
    (request,) = await requests(db)
    assert request.status == "succeeded"
    assert len(gateway.refunds) == 1 and gateway.calls == 3
    assert gateway.refunds[0].order.idempotency_key == request.idempotency_key


async def test_a_definite_failure_releases_the_ledger_and_fails_the_dispute(db: Database) -> None:
    number = await approved_dispute(db)
    gateway = fake()
    gateway.fail_next(1, "card closed")
    seen: list[RefundOutcome] = []
    assert await worker(db, gateway, seen).run_once()
    (request,) = await requests(db)
    assert (request.status, request.failure_reason) == ("failed", "card closed")
    assert await status(db, number) == Status.EXECUTION_FAILED
    assert seen[0].status == "failed" and seen[0].detail == "card closed"
    total, waiting = await DisputeService(db).in_status(Status.EXECUTION_FAILED)
    assert (total, [d.number for d in waiting]) == (1, [number])  # counted for the Home tab
    async with db.reading() as session:
        ledger = await session.get(RefundLedgerRow, REFERENCE)
    assert ledger is not None and ledger.committed_minor == 29_00  # only the original refund


async def test_a_worker_that_died_mid_call_is_recovered_by_lookup(db: Database) -> None:
    await approved_dispute(db)
    gateway = fake()
    # The first worker sent the refund and died before recording anything.
    claimer = worker(db, gateway)
    claimed = await db.run(claimer._claim)
    assert claimed is not None
    await gateway.refund(claimed.order)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with db.transaction() as session:
        await session.execute(update(RefundRequestRow).values(claimed_at=long_ago))
    assert await worker(db, gateway, lease=timedelta(minutes=2)).run_once()
    (request,) = await requests(db)
    assert request.status == "succeeded" and len(gateway.refunds) == 1


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
        ledger = await session.get(RefundLedgerRow, REFERENCE)
    assert ledger is not None and ledger.committed_minor <= ledger.paid_minor


async def test_wrong_currency_is_refused(db: Database) -> None:
    number = await approved_dispute(db)

    async def work(session):  # type: ignore[no-untyped-def]
        row = await load_row(session, number)
        await request_refund(
            session, row, amount_minor=100, currency="EUR", gateway="fake", actor=MANAGER
        )

    with pytest.raises(InvalidRefund, match="paid in USD"):
        await db.run(work)


async def _due_now(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(RefundRequestRow)
            .where(RefundRequestRow.status == "pending")
            .values(next_attempt_at=RefundRequestRow.created_at)
        )


async def test_retry_after_a_definite_failure_uses_a_new_key_and_refunds_once(
    db: Database, tmp_path: Path
) -> None:
    from bot.settings import default_policy_pack
    from disputes.policy import PolicyService
    from disputes.resolution import ResolutionService
    from disputes.roles import Roles
    from policies.current import CurrentPack

    number = await approved_dispute(db)
    gateway = fake()
    gateway.fail_next(1, "processor unavailable")
    run = worker(db, gateway)
    await run.run_once()
    assert await status(db, number) == Status.EXECUTION_FAILED

    roles = tmp_path / "roles.yml"
    roles.write_text(
        "roles:\n  supervisor: {users: [], groups: [], approval_limit: null}\n"
        "  manager: {users: [U0MANAGER1], groups: [], approval_limit: '200.00'}\n"
        "  agent: {users: [U0AGENT], groups: [], approval_limit: '0'}\n"
        "two_person_rule_above: null\n"
    )
    service = ResolutionService(
        db,
        PolicyService(db, CurrentPack(default_policy_pack())),
        Roles.load(roles),
        gateway_name="fake",
    )
    with pytest.raises(NotAllowed):
        await service.retry(number, Actor.slack_user("U0AGENT"))  # refused, and audited
    await service.retry(number, MANAGER)
    assert await status(db, number) == Status.EXECUTING
    with pytest.raises(DisputeError, match="cannot retry"):
        await service.retry(number, MANAGER)  # only after a failure
    await run.run_once()
    failed, retried = await requests(db)
    assert (failed.status, retried.status) == ("failed", "succeeded")
    assert failed.idempotency_key != retried.idempotency_key
    assert len(gateway.refunds) == 1 and await status(db, number) == Status.RESOLVED
    async with db.reading() as session:
        ledger = await session.get(RefundLedgerRow, REFERENCE)
    assert ledger is not None and ledger.committed_minor == 29_00 + 50_00
