"""The outbox: a refund is requested in the approving transaction, against the payment's ledger,
and can never take what is committed on a payment past what was paid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.ledger import ensure_ledger, ledger_of, lock_ledger
from disputes.payments import LIVE_STATUSES, Basis, provider_request_id, utcnow
from domain.money import Money
from domain.orders import Order
from storage.tables import DisputeRow, RefundRequestRow


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
    basis: Basis = Basis.LEDGER,
    proposed_by: str | None = None,
    proposal_id: int | None = None,
    at: datetime | None = None,
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
    await ensure_ledger(session, order)
    ledger = await ledger_of(session, await lock_ledger(session, reference))
    remaining = ledger.cap_minor(basis)
    if amount_minor > remaining:
        raise OverRefund(Money(amount_minor, currency), Money(remaining, currency))
    now = at or utcnow()
    request = RefundRequestRow(
        dispute_id=row.id,
        payment_reference=reference,
        amount_minor=amount_minor,
        currency=currency,
        gateway=gateway,
        idempotency_key=f"dd-{row.number}-{uuid.uuid4().hex}",
        status="pending",
        basis=basis.value,
        attempts=0,
        fence=0,
        sends=0,
        provider_refund_ids=[],
        provider_ref="",  # known once the row has its id
        requested_by=actor.id,
        proposed_by=proposed_by,
        proposal_id=proposal_id,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )
    session.add(request)
    await session.flush()
    request.provider_ref = provider_request_id(request.id, request.idempotency_key)
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
            "basis": basis.value,
            "idempotency_key": request.idempotency_key,
            "provider_ref": request.provider_ref,
        },
        at=now,
    )
    return request


@dataclass(frozen=True, slots=True)
class ApprovedBefore:
    """Money one person already moved on one order (every dispute of it), in one currency."""

    approved_minor: int  # everything they approved
    self_approved_minor: int  # what they approved of their own proposals


async def approved_before(
    session: AsyncSession, *, order_id: str, currency: str, approver: str, since: datetime
) -> ApprovedBefore:
    """What `approver` has approved on `order_id` since `since` (refusals excluded)."""
    base = (
        select(func.coalesce(func.sum(RefundRequestRow.amount_minor), 0))
        .join(DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id)
        .where(
            DisputeRow.order_id == order_id,
            RefundRequestRow.currency == currency,
            RefundRequestRow.requested_by == approver,
            RefundRequestRow.created_at >= since,
            RefundRequestRow.status.in_(LIVE_STATUSES),
        )
    )
    approved = await session.scalar(base)
    own = await session.scalar(base.where(RefundRequestRow.proposed_by == approver))
    return ApprovedBefore(int(approved or 0), int(own or 0))
