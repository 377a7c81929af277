"""F4/F6: review, proposal, approval and retry: every step audited, money only via the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.orders import protocol as orders_protocol
from connectors.orders.protocol import DecisionUpdate, OrderSource
from disputes import audit
from disputes.audit import Actor
from disputes.customer_messages import NoCustomerAddress
from disputes.errors import DisputeError, NotAllowed
from disputes.intake import basis_for
from disputes.ledger import LedgerReader, ensure_ledger, ledger_of, lock_ledger
from disputes.lifecycle import Event, Status
from disputes.models import CaseFile, dispute_ref
from disputes.offers import Offers
from disputes.payments import Basis, PaymentLedger, utcnow
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.proposals import CheckedProposal, ProposalInput, check_proposal
from disputes.refund_retry import RetryResult, retry_after_refusal
from disputes.refunds import approved_before, request_refund
from disputes.repository import load_case, load_row
from disputes.roles import CurrentRoles, Roles
from disputes.transitions import transition
from disputes.writeback import write_back
from domain.orders import Order
from domain.resolutions import MONEY_KINDS, Resolution
from domain.roles import Action
from policies.engine import Decision
from policies.supervision import causes_in_words
from storage.db import Database
from storage.tables import DisputeRow, ProposalRow

log = logging.getLogger(__name__)

# Approval limits and the two-person rule add up what one person moved on one order this long.
LIMIT_WINDOW = timedelta(days=90)
ORDER_READ_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What the resolution modal shows."""

    case: CaseFile
    decision: Decision | None
    ledger: PaymentLedger
    basis: Basis

    @property
    def paid_minor(self) -> int:
        return self.ledger.paid_minor

    @property
    def refundable_minor(self) -> int:
        return self.ledger.cap_minor(self.basis)


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    dispute_number: int
    kind: Resolution
    amount_minor: int | None
    currency: str
    note: str
    justification: str | None
    outside_policy: bool
    needs_supervisor: bool
    proposed_by: str
    status: str
    decided_by: str | None
    message_ts: str | None
    number: int = 1  # within the dispute
    override_reason: str | None = None
    decision_reason: str | None = None
    decided_at: datetime | None = None
    alert_channel: str | None = None
    alert_ts: str | None = None
    # Set when the approval put the option to the customer: nothing happens until they accept.
    offer_expires_at: datetime | None = None

    @property
    def moves_money(self) -> bool:
        return self.kind in MONEY_KINDS

    @property
    def awaits_customer(self) -> bool:
        return self.offer_expires_at is not None


def to_proposal(row: ProposalRow, number: int) -> Proposal:
    return Proposal(
        id=row.id,
        dispute_number=number,
        kind=Resolution(row.kind),
        amount_minor=row.amount_minor,
        currency=row.currency,
        note=row.note,
        justification=row.justification,
        outside_policy=row.outside_policy,
        needs_supervisor=row.needs_supervisor,
        proposed_by=row.proposed_by,
        status=row.status,
        decided_by=row.decided_by,
        message_ts=row.message_ts,
        number=row.number,
        override_reason=row.override_reason,
        decision_reason=row.decision_reason,
        decided_at=row.decided_at,
        alert_channel=row.alert_channel,
        alert_ts=row.alert_ts,
    )


class ResolutionService:
    def __init__(
        self,
        db: Database,
        policy: PolicyService,
        roles: Roles | CurrentRoles,
        *,
        gateway_name: str | None,
        ledger: LedgerReader | None = None,
        orders: OrderSource | None = None,
        on_refund_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        settle: timedelta = timedelta(seconds=30),
        gate: Gate | None = None,
        offers: Offers | None = None,
        on_message_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.gate = gate  # who may review, request changes, approve, retry; without one, all
        self.policy = policy
        self.roles = roles
        self.gateway_name = gateway_name
        self.ledger = ledger or LedgerReader(db, None)
        self.orders = orders
        self.on_refund_queued = on_refund_queued
        self.clock = clock
        self.settle = settle  # a refused request's settling time, before Retry sends again
        # Puts options the customer must agree to before anything moves; without it, none wait.
        self.offers = offers
        self.on_message_queued = on_message_queued

    async def _require(self, action: Action, actor: Actor, number: int) -> None:
        if self.gate is not None:
            await self.gate.require(action, actor, number=number)

    async def review_context(self, number: int, actor: Actor) -> ReviewContext:
        """What the resolution modal shows, with the payment's ledger read afresh from the
        provider and the order system (a refund either made since intake counts)."""
        await self._require(Action.REVIEW, actor, number)
        decision = await self.policy.latest(number)
        async with self.db.reading() as session:
            row = await load_row(session, number)
            _require(row, REVIEWABLE, "review")
            order = _order(row)
        ledger = await self.ledger.refresh(await self._fresh_order(order))
        async with self.db.reading() as session:
            case = await load_case(session, await load_row(session, number))
        return ReviewContext(case, decision, ledger, basis_for(row.reason))

    async def _fresh_order(self, order: Order) -> Order:
        """The order as the order system has it now, or as read at intake if it cannot say."""
        if self.orders is None:
            return order
        try:
            async with asyncio.timeout(ORDER_READ_TIMEOUT):
                fresh = await self.orders.get_order(order.order_id)
        except (orders_protocol.OrderSourceError, TimeoutError) as exc:
            log.warning("order %s not re-read for its ledger: %s", order.order_id, exc)
            return order
        return fresh if fresh.payment.reference == order.payment.reference else order

    async def propose(self, number: int, entry: ProposalInput, actor: Actor) -> Proposal:
        """Check the modal's input, start the review if needed and record the proposal."""
        await self._require(Action.REVIEW, actor, number)
        decision = await self.policy.latest(number)

        async def work(session: AsyncSession) -> Proposal:
            row = await load_row(session, number)
            case = await load_case(session, row)
            order = _order(row)
            await ensure_ledger(session, order)
            ledger = await ledger_of(session, await lock_ledger(session, order.payment.reference))
            checked = check_proposal(
                entry,
                order=order,
                disputed_minor=row.disputed_amount_minor or 0,
                refundable_minor=ledger.cap_minor(basis_for(row.reason)),
                decision=decision,
                missing_evidence=bool(case.missing_required) and Status(row.status) in {Status.NEW},
            )
            await _into_review(session, row, actor, checked)
            proposal = _new_proposal(row, checked, actor)
            proposal.number = await _next_number(session, row)
            session.add(proposal)
            await session.flush()
            await transition(
                session, row, Event.PROPOSED, actor, details=_proposal_details(proposal)
            )
            return to_proposal(proposal, number)

        return await self.db.run(work)

    async def check_request_changes(self, number: int, proposal_id: int, actor: Actor) -> None:
        """Whether `actor` may send this proposal back now (before asking them why)."""
        await self._require(Action.REQUEST_CHANGES, actor, number)
        async with self.db.reading() as session:
            await _open_proposal(session, number, proposal_id)

    async def request_changes(
        self, number: int, proposal_id: int, actor: Actor, reason: str
    ) -> Proposal:
        """Send the proposal back to review, with the reason the proposer will read."""
        await self._require(Action.REQUEST_CHANGES, actor, number)
        reason = reason.strip()
        if not reason:
            raise DisputeError("Say what should change, so the proposer knows what to do.")

        async def work(session: AsyncSession) -> Proposal:
            row, proposal = await _open_proposal(session, number, proposal_id)
            proposal.status, proposal.decided_by = "changes_requested", actor.id
            proposal.decided_at = datetime.now(UTC)
            proposal.decision_reason = reason
            await transition(
                session,
                row,
                Event.CHANGES_REQUESTED,
                actor,
                details={"proposal": proposal.id, "reason": reason},
            )
            return to_proposal(proposal, number)

        return await self.db.run(work)

    async def approve(self, number: int, proposal_id: int, actor: Actor) -> Proposal:
        """Role and limit checks, then approval and the refund request in one transaction."""
        await self._require(Action.APPROVE, actor, number)
        async with self.db.reading() as session:
            row, proposal = await _open_proposal(session, number, proposal_id)
            moves_money = proposal.kind in MONEY_KINDS
            order = _order(row)
        # Read before the write transaction: a refusal's words need the policy decision.
        cause = await self._supervisor_cause(row, proposal)
        if moves_money and self.gateway_name is None:
            raise NotAllowed("No refund gateway is configured (REFUND_GATEWAY): money cannot move.")
        if self.needs_agreement(Resolution(proposal.kind)):
            assert self.offers is not None
            if not row.customer_email:
                raise NoCustomerAddress(number)
            await self.offers.prepare()
        if moves_money:
            await self.ledger.refresh(order)  # the send re-checks; this catches it earlier
        try:
            approved = await self.db.run(
                lambda s: self._approve(s, number, proposal_id, actor, cause)
            )
        except NotAllowed as refused:
            named = NotAllowed(f"{dispute_ref(number)}: {refused}")
            await self._audit_refusal(number, proposal_id, actor, str(named))
            raise named from None
        if approved.awaits_customer:
            self.on_message_queued()
        else:
            await self.after_carried_out(approved)
        return approved

    def needs_agreement(self, kind: Resolution) -> bool:
        """Whether the pack has the customer agree to `kind` before it is carried out."""
        return self.offers is not None and self.offers.needs_agreement(kind)

    async def after_carried_out(self, proposal: Proposal) -> None:
        """Once committed: wake the refund worker, or tell the order system of the decision."""
        if proposal.moves_money:
            self.on_refund_queued()
        elif self.orders is not None:
            await write_back(
                self.db, self.orders, proposal.dispute_number, decision_update(proposal)
            )

    async def proposal(self, number: int, proposal_id: int) -> Proposal:
        """One of the dispute's proposals, whatever its status."""
        async with self.db.reading() as session:
            row = await load_row(session, number)
            proposal = await session.get(ProposalRow, proposal_id)
            if proposal is None or proposal.dispute_id != row.id:
                raise DisputeError(f"{dispute_ref(number)} has no such proposal.")
            return to_proposal(proposal, number)

    async def approved_proposal(self, number: int) -> Proposal | None:
        """The proposal that was approved last for the dispute."""
        async with self.db.reading() as session:
            row = await load_row(session, number)
            found = await session.scalar(
                select(ProposalRow)
                .where(ProposalRow.dispute_id == row.id, ProposalRow.status == "approved")
                .order_by(ProposalRow.id.desc())
                .limit(1)
            )
            return None if found is None else to_proposal(found, number)

    async def _approve(
        self,
        session: AsyncSession,
        number: int,
        proposal_id: int,
        actor: Actor,
        supervisor_cause: str | None = None,
    ) -> Proposal:
        row, proposal = await _open_proposal(session, number, proposal_id)
        await self.check_authority(
            session,
            row,
            actor,
            proposer=proposal.proposed_by,
            amount_minor=proposal.amount_minor or 0,
            supervisor_required=proposal.needs_supervisor,
            supervisor_cause=supervisor_cause,
        )
        now = self.clock()
        proposal.status, proposal.decided_by, proposal.decided_at = "approved", actor.id, now
        await transition(session, row, Event.APPROVED, actor, details={"proposal": proposal.id})
        if self.needs_agreement(Resolution(proposal.kind)):
            assert self.offers is not None
            offer = await self.offers.put(session, row, proposal, actor, now)
            approved = to_proposal(proposal, number)
            return replace(approved, offer_expires_at=offer.expires_at)
        await self.carry_out(session, row, proposal, actor, now)
        return to_proposal(proposal, number)

    async def carry_out(
        self,
        session: AsyncSession,
        row: DisputeRow,
        proposal: ProposalRow,
        actor: Actor,
        now: datetime,
    ) -> None:
        """An approved option, in the caller's transaction: the refund queued against the
        ledger, or the dispute resolved when no money moves."""
        if proposal.kind in MONEY_KINDS:
            assert self.gateway_name is not None and proposal.amount_minor is not None
            await request_refund(
                session,
                row,
                amount_minor=proposal.amount_minor,
                currency=proposal.currency,
                gateway=self.gateway_name,
                actor=actor,
                basis=basis_for(row.reason),
                proposed_by=proposal.proposed_by,
                proposal_id=proposal.id,
                at=now,
            )
        else:
            await transition(
                session,
                row,
                Event.RESOLVED_WITHOUT_PAYMENT,
                actor,
                details={"resolution": proposal.kind},
            )

    async def _supervisor_cause(self, row: DisputeRow, proposal: ProposalRow) -> str | None:
        """What requires a supervisor for this proposal, in words, for a refusal to name."""
        if not proposal.needs_supervisor:
            return None
        if proposal.outside_policy:
            return "it is outside policy"
        decision = await self.policy.latest(row.number)
        if decision is None:
            return None
        causes = decision.supervisor_causes_for(
            Resolution(proposal.kind),
            proposal.amount_minor,
            currency=row.currency,
            order_total_minor=row.order_total_minor,
        )
        return causes_in_words(causes, row.currency) or None

    async def check_authority(
        self,
        session: AsyncSession,
        row: DisputeRow,
        actor: Actor,
        *,
        proposer: str,
        amount_minor: int,
        supervisor_required: bool,
        supervisor_cause: str | None = None,
    ) -> None:
        """The roles file as it is now, against what this person already moved on the order."""
        before = await approved_before(
            session,
            order_id=row.order_id,
            currency=row.currency,
            approver=actor.id,
            since=self.clock() - LIMIT_WINDOW,
        )
        self.roles.current().check_approval(
            approver=actor.id,
            approver_groups=actor.groups,
            proposer=proposer,
            amount_minor=amount_minor,
            currency=row.currency,
            supervisor_required=supervisor_required,
            approved_before_minor=before.approved_minor,
            self_approved_before_minor=before.self_approved_minor,
            order_id=row.order_id,
            supervisor_cause=supervisor_cause,
        )

    async def retry(self, number: int, actor: Actor) -> RetryResult:
        """After a definite refusal: ask the provider first; a refund found settles the dispute,
        otherwise a new request (new idempotency key) for the same amount."""
        await self._require(Action.RETRY, actor, number)
        try:
            result = await retry_after_refusal(self, number, actor)
        except NotAllowed as refused:
            named = NotAllowed(f"{dispute_ref(number)}: {refused}")
            await self._audit_refusal(number, None, actor, str(named))
            raise named from None
        if result.resent:
            self.on_refund_queued()
        elif self.orders is not None:  # settled by a refund found: the order system hears it
            proposal = await self.approved_proposal(number)
            if proposal is not None:
                update = decision_update(
                    proposal,
                    refund_status="succeeded",
                    provider_refund_id=result.found_refund_ids[0],
                )
                await write_back(self.db, self.orders, number, update)
        return result

    async def record_message(self, proposal_id: int, ts: str) -> None:
        async def work(session: AsyncSession) -> None:
            proposal = await session.get(ProposalRow, proposal_id)
            if proposal is not None:
                proposal.message_ts = ts

        await self.db.run(work)

    async def record_alert(self, proposal_id: int, channel: str, ts: str) -> None:
        """Where the supervisors were alerted, so the alert can say when it was handled."""

        async def work(session: AsyncSession) -> None:
            proposal = await session.get(ProposalRow, proposal_id)
            if proposal is not None:
                proposal.alert_channel, proposal.alert_ts = channel, ts

        await self.db.run(work)

    async def _audit_refusal(
        self, number: int, proposal_id: int | None, actor: Actor, reason: str
    ) -> None:
        async def work(session: AsyncSession) -> None:
            row = await load_row(session, number)
            await audit.append(
                session,
                row,
                actor,
                "approval.refused",
                after={"proposal": proposal_id, "reason": reason},
            )

        await self.db.run(work)


def decision_update(
    proposal: Proposal,
    *,
    refund_status: str | None = None,
    provider_refund_id: str | None = None,
) -> DecisionUpdate:
    """What the order system is told once a proposal's outcome is final."""
    return DecisionUpdate(
        dispute=dispute_ref(proposal.dispute_number),
        outcome=proposal.kind.value,
        amount_minor=proposal.amount_minor,
        currency=proposal.currency,
        refund_status=refund_status,
        provider_refund_id=provider_refund_id,
        decided_by=proposal.decided_by or proposal.proposed_by,
        idempotency_key=f"dd-decision-{proposal.id}-{refund_status or 'final'}",
    )


def _order(row: DisputeRow) -> Order:
    if row.order_snapshot is None:
        raise DisputeError(f"{dispute_ref(row.number)} has no order on record to resolve.")
    return Order.from_wire(row.order_snapshot)


REVIEWABLE = frozenset(
    {
        Status.NEW,
        Status.EVIDENCE_READY,
        Status.IN_REVIEW,
        Status.REOPENED,
        Status.ESCALATED,
        Status.OFFER_EXPIRED,
    }
)


def _require(row: DisputeRow, states: set[Status] | frozenset[Status], step: str) -> None:
    if Status(row.status) not in states:
        label = Status(row.status).label.lower()
        raise DisputeError(f"{dispute_ref(row.number)} is {label}: it cannot {step} now.")


async def _into_review(
    session: AsyncSession, row: DisputeRow, actor: Actor, checked: CheckedProposal
) -> None:
    status = Status(row.status)
    if status == Status.NEW:
        await transition(
            session,
            row,
            Event.EVIDENCE_OVERRIDDEN,
            actor,
            details={"override_reason": checked.override_reason or ""},
        )
    elif status in {Status.EVIDENCE_READY, Status.REOPENED, Status.ESCALATED, Status.OFFER_EXPIRED}:
        await transition(session, row, Event.REVIEW_STARTED, actor)
    elif status != Status.IN_REVIEW:
        _require(row, {Status.IN_REVIEW}, "take a proposal")


def _new_proposal(row: DisputeRow, checked: CheckedProposal, actor: Actor) -> ProposalRow:
    return ProposalRow(
        dispute_id=row.id,
        kind=checked.kind.value,
        amount_minor=checked.amount_minor,
        currency=checked.currency,
        note=checked.note,
        justification=checked.justification,
        outside_policy=checked.outside_policy,
        needs_supervisor=checked.needs_supervisor,
        proposed_by=actor.id,
        proposed_at=datetime.now(UTC),
        status="open",
        override_reason=checked.override_reason,
    )


async def _next_number(session: AsyncSession, row: DisputeRow) -> int:
    """The next proposal number within the dispute (the dispute's row is locked by now)."""
    last = await session.scalar(
        select(func.max(ProposalRow.number)).where(ProposalRow.dispute_id == row.id)
    )
    return (last or 0) + 1


def _proposal_details(proposal: ProposalRow) -> dict[str, object]:
    return {
        "proposal": proposal.id,
        "kind": proposal.kind,
        "amount_minor": proposal.amount_minor,
        "currency": proposal.currency,
        "outside_policy": proposal.outside_policy,
        "needs_supervisor": proposal.needs_supervisor,
        "justification": proposal.justification,
    }


async def _open_proposal(
    session: AsyncSession, number: int, proposal_id: int
) -> tuple[DisputeRow, ProposalRow]:
    row = await load_row(session, number)
    proposal = await session.get(ProposalRow, proposal_id, populate_existing=True)
    if proposal is None or proposal.dispute_id != row.id:
        raise DisputeError(f"{dispute_ref(number)} has no such proposal.")
    if proposal.status != "open" or Status(row.status) != Status.PROPOSED:
        by = f" by <@{proposal.decided_by}>" if proposal.decided_by else ""
        raise DisputeError(f"This proposal was already {proposal.status.replace('_', ' ')}{by}.")
    return row, proposal
