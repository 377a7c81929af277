"""Switching the reason a dispute's policy is decided on, between the one given when it was
opened and the one on the order's return request: checked, audited, decided again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.intake import basis_for, disputed_amount_minor
from disputes.ledger import ensure_ledger, ledger_of, lock_ledger
from disputes.lifecycle import REASON_SWITCHABLE, Status
from disputes.models import CaseFile
from disputes.permissions import Gate
from disputes.policy_decisions import decide, opened_reason
from disputes.repository import load_case, load_row
from domain.orders import Order
from domain.reasons import Reason
from domain.roles import Action
from policies.current import CurrentPack
from policies.engine import Decision
from storage.db import Database
from storage.tables import DisputeRow

# Before a resolution is proposed: afterwards the proposal would rest on the old reason.
AUDIT_ACTION = "policy.reason_switched"


class ReasonNotSwitchable(DisputeError):
    """The reason cannot change to that one, or not now."""


async def switch_reason(
    db: Database,
    current: CurrentPack,
    gate: Gate | None,
    number: int,
    to: Reason,
    actor: Actor,
) -> tuple[CaseFile, Decision]:
    """Decide the dispute's policy on `to`, which must be the reason given when it was opened
    or the return request's; the switch is audited (who, from, to) and stored as a new
    decision. Needs the permission to review (`Action.REVIEW`)."""
    if gate is not None:
        await gate.require(Action.REVIEW, actor, number=number)

    async def work(session: AsyncSession) -> tuple[CaseFile, Decision]:
        await load_row(session, number)  # DisputeNotFound before the lock
        row = await session.scalar(
            select(DisputeRow).where(DisputeRow.number == number).with_for_update()
        )
        assert row is not None
        order = _order(row)
        was = Reason(row.reason)
        choices = {await opened_reason(session, row)}
        if order.return_request is not None:
            choices.add(order.return_request.reason)
        _check(row, was, to, choices)
        row.reason = to.value
        if basis_for(was) is not basis_for(to):
            await _redo_disputed_amount(session, row, order, to)
        await audit.append(
            session,
            row,
            actor,
            AUDIT_ACTION,
            before={"reason": was.value},
            after={"reason": to.value},
        )
        decision = await decide(session, row, current)
        assert decision is not None  # the order snapshot was checked above
        return await load_case(session, row), decision

    return await db.run(work)


def _order(row: DisputeRow) -> Order:
    if row.order_snapshot is None:
        raise ReasonNotSwitchable(f"D-{row.number} has no order to decide on.")
    return Order.from_wire(row.order_snapshot)


def _check(row: DisputeRow, was: Reason, to: Reason, choices: set[Reason]) -> None:
    if to == was:
        raise ReasonNotSwitchable(f"D-{row.number} is already decided on {to.label.lower()}.")
    if to not in choices or len(choices) < 2:
        raise ReasonNotSwitchable(
            f"D-{row.number} can only be decided on the reason given when it was opened or "
            "the return request's."
        )
    if Status(row.status) not in REASON_SWITCHABLE:
        raise ReasonNotSwitchable(
            f"D-{row.number} is {Status(row.status).label.lower()}: its reason can only change "
            "before a resolution is proposed."
        )


async def _redo_disputed_amount(
    session: AsyncSession, row: DisputeRow, order: Order, reason: Reason
) -> None:
    # A refund not received is measured against the provider, a return against the ledger.
    await ensure_ledger(session, order)
    ledger = await ledger_of(session, await lock_ledger(session, order.payment.reference))
    row.disputed_amount_minor = disputed_amount_minor(order, ledger, reason)
