"""The refund ledger and the outbox: a refund is requested in the approving transaction and
can never take the total refunded for a payment past what was paid."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.orders.models import Order, Outcome
from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.money import Money
from storage.tables import DisputeRow, RefundLedgerRow, RefundRequestRow


class OverRefund(DisputeError):
    def __init__(self, asked: Money, remaining: Money) -> None:
        super().__init__(
            f"A refund of {asked} would take the total refunded past what was paid: at most "
            f"{remaining} can still be refunded for this payment. Nothing was sent."
        )
        self.asked, self.remaining = asked, remaining


class InvalidRefund(DisputeError):
    """An amount or currency that cannot be refunded as asked."""


async def request_refund(
    session: AsyncSession,
    row: DisputeRow,
    *,
    amount_minor: int,
    currency: str,
    gateway: str,
    actor: Actor,
) -> RefundRequestRow:
    """Commit `amount` against the payment's ledger and queue the refund, or refuse."""
    if row.order_snapshot is None:
        raise InvalidRefund(f"{row.order_id} has no payment on record to refund.")
    order = Order.from_wire(row.order_snapshot)
    if currency != order.currency:
        raise InvalidRefund(f"The order was paid in {order.currency}, not {currency}.")
    if amount_minor <= 0:
        raise InvalidRefund("A refund must be more than zero.")
    reference = order.payment.reference
    await _ensure_ledger(session, reference, order)
    committed = await session.scalar(
        update(RefundLedgerRow)
        .where(
            RefundLedgerRow.payment_reference == reference,
            RefundLedgerRow.committed_minor + amount_minor <= RefundLedgerRow.paid_minor,
        )
        .values(committed_minor=RefundLedgerRow.committed_minor + amount_minor)
        .returning(RefundLedgerRow.committed_minor)
    )
    if committed is None:
        ledger = await session.get(RefundLedgerRow, reference, populate_existing=True)
        assert ledger is not None
        remaining = Money(ledger.paid_minor - ledger.committed_minor, ledger.currency)
        raise OverRefund(Money(amount_minor, currency), remaining)
    now = datetime.now(UTC)
    request = RefundRequestRow(
        dispute_id=row.id,
        payment_reference=reference,
        amount_minor=amount_minor,
        currency=currency,
        gateway=gateway,
        idempotency_key=f"dd-{row.number}-{uuid.uuid4().hex}",
        status="pending",
        attempts=0,
        uncertain=False,
        requested_by=actor.id,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )
    session.add(request)
    await session.flush()
    await audit.append(
        session,
        row,
        actor,
        "refund.requested",
        after={
            "refund_request": request.id,
            "amount_minor": amount_minor,
            "currency": currency,
            "payment_reference": reference,
            "gateway": gateway,
            "idempotency_key": request.idempotency_key,
        },
        at=now,
    )
    return request


async def release(session: AsyncSession, request: RefundRequestRow) -> None:
    """Give a definitely failed refund's amount back to the payment's ledger."""
    await session.execute(
        update(RefundLedgerRow)
        .where(RefundLedgerRow.payment_reference == request.payment_reference)
        .values(committed_minor=RefundLedgerRow.committed_minor - request.amount_minor)
    )


def already_refunded_minor(order: Order) -> int:
    """Cash the order system already refunded for this payment, before any dispute."""
    decision = order.decision
    if decision and decision.outcome in {Outcome.REFUNDED, Outcome.PARTIAL_REFUND}:
        return decision.amount_minor or 0
    return 0


async def _ensure_ledger(session: AsyncSession, reference: str, order: Order) -> None:
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(RefundLedgerRow)
        .values(
            payment_reference=reference,
            currency=order.currency,
            paid_minor=order.total_minor,
            committed_minor=already_refunded_minor(order),
        )
        .on_conflict_do_nothing(index_elements=["payment_reference"])
    )
