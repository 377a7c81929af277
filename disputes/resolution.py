"""F4/F6: review, proposal, approval and retry: every step audited, money only via the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.orders.models import Order
from connectors.orders.protocol import DecisionUpdate, OrderSource
from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError, NotAllowed
from disputes.lifecycle import Event, Status
from disputes.models import CaseFile, dispute_ref
from disputes.policy import PolicyService
from disputes.proposals import MONEY_KINDS, CheckedProposal, ProposalInput, check_proposal
from disputes.records import load_case, load_row
from disputes.refunds import already_refunded_minor, request_refund
from disputes.roles import Role, Roles
from disputes.transitions import transition
from disputes.writeback import write_back
from policies.engine import Decision
from policies.schema import Resolution
from storage.db import Database
from storage.tables import DisputeRow, ProposalRow, RefundLedgerRow, RefundRequestRow


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What the resolution modal shows."""

    case: CaseFile
    decision: Decision | None
    paid_minor: int
    refundable_minor: int


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

    @property
    def moves_money(self) -> bool:
        return self.kind in MONEY_KINDS


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
    )


class ResolutionService:
    def __init__(
        self,
        db: Database,
        policy: PolicyService,
        roles: Roles,
        *,
        gateway_name: str | None,
        orders: OrderSource | None = None,
        on_refund_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.roles = roles
        self.gateway_name = gateway_name
        self.orders = orders
        self.on_refund_queued = on_refund_queued

    async def review_context(self, number: int) -> ReviewContext:
        decision = await self.policy.latest(number)
        async with self.db.reading() as session:
            row = await load_row(session, number)
            _require(
                row,
                {
                    Status.NEW,
                    Status.EVIDENCE_READY,
                    Status.IN_REVIEW,
                    Status.REOPENED,
                    Status.ESCALATED,
                },
                "review",
            )
            order = _order(row)
            refundable = await _refundable(session, order)
            return ReviewContext(
                await load_case(session, row), decision, order.total_minor, refundable
            )

    async def propose(self, number: int, entry: ProposalInput, actor: Actor) -> Proposal:
        """Check the modal's input, start the review if needed and record the proposal."""
        decision = await self.policy.latest(number)

        async def work(session: AsyncSession) -> Proposal:
            row = await load_row(session, number)
            case = await load_case(session, row)
            order = _order(row)
            checked = check_proposal(
                entry,
                order=order,
                disputed_minor=row.disputed_amount_minor or 0,
                refundable_minor=await _refundable(session, order),
                decision=decision,
                missing_evidence=bool(case.missing_required) and Status(row.status) in {Status.NEW},
            )
            await _into_review(session, row, actor, checked)
            proposal = _new_proposal(row, checked, actor)
            session.add(proposal)
            await session.flush()
            await transition(
                session, row, Event.PROPOSED, actor, details=_proposal_details(proposal)
            )
            return to_proposal(proposal, number)

        return await self.db.run(work)

    async def request_changes(self, number: int, proposal_id: int, actor: Actor) -> Proposal:
        async def work(session: AsyncSession) -> Proposal:
            row, proposal = await _open_proposal(session, number, proposal_id)
            proposal.status, proposal.decided_by = "changes_requested", actor.id
            proposal.decided_at = datetime.now(UTC)
            await transition(
                session, row, Event.CHANGES_REQUESTED, actor, details={"proposal": proposal.id}
            )
            return to_proposal(proposal, number)

        return await self.db.run(work)

    async def approve(
        self, number: int, proposal_id: int, actor: Actor, groups: Iterable[str] = ()
    ) -> Proposal:
        """Role and limit checks, then approval and the refund request in one transaction."""
        async with self.db.reading() as session:
            _row, proposal = await _open_proposal(session, number, proposal_id)
            amount = proposal.amount_minor or 0
            supervisor = proposal.needs_supervisor
            proposer, currency = proposal.proposed_by, proposal.currency
        if amount and self.gateway_name is None:
            raise NotAllowed("No refund gateway is configured (REFUND_GATEWAY): money cannot move.")
        try:
            self.roles.check_approval(
                approver=actor.id,
                approver_groups=groups,
                proposer=proposer,
                amount_minor=amount,
                currency=currency,
                supervisor_required=supervisor,
            )
        except NotAllowed as refused:
            await self._audit_refusal(number, proposal_id, actor, str(refused))
            raise
        approved = await self.db.run(lambda s: self._approve(s, number, proposal_id, actor))
        if approved.moves_money:
            self.on_refund_queued()
        elif self.orders is not None:
            await write_back(self.db, self.orders, number, decision_update(approved))
        return approved

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
        self, session: AsyncSession, number: int, proposal_id: int, actor: Actor
    ) -> Proposal:
        row, proposal = await _open_proposal(session, number, proposal_id)
        proposal.status, proposal.decided_by = "approved", actor.id
        proposal.decided_at = datetime.now(UTC)
        await transition(session, row, Event.APPROVED, actor, details={"proposal": proposal.id})
        if proposal.kind in MONEY_KINDS:
            assert self.gateway_name is not None and proposal.amount_minor is not None
            await request_refund(
                session,
                row,
                amount_minor=proposal.amount_minor,
                currency=proposal.currency,
                gateway=self.gateway_name,
                actor=actor,
            )
        else:
            await transition(
                session,
                row,
                Event.RESOLVED_WITHOUT_PAYMENT,
                actor,
                details={"resolution": proposal.kind},
            )
        return to_proposal(proposal, number)

    async def retry(self, number: int, actor: Actor, groups: Iterable[str] = ()) -> None:
        """After a definite failure: a new request (new idempotency key) for the same amount."""
        role = self.roles.role_of(actor.id, groups)
        if role is None or role == Role.AGENT:
            refusal = "Only a manager or supervisor can retry a refund."
            await self._audit_refusal(number, None, actor, refusal)
            raise NotAllowed(refusal)

        async def work(session: AsyncSession) -> None:
            row = await load_row(session, number)
            _require(row, {Status.EXECUTION_FAILED}, "retry")
            failed = await session.scalar(
                select(RefundRequestRow)
                .where(RefundRequestRow.dispute_id == row.id)
                .order_by(RefundRequestRow.id.desc())
                .limit(1)
            )
            if failed is None or failed.status != "failed":
                raise DisputeError(f"{row.order_id} has no failed refund to retry.")
            if failed.provider_refund_id is not None:
                raise DisputeError(
                    f"The provider holds refund {failed.provider_refund_id} for this request: "
                    "check it with the payments team before retrying."
                )
            await transition(session, row, Event.RETRIED, actor, details={"after": failed.id})
            await request_refund(
                session,
                row,
                amount_minor=failed.amount_minor,
                currency=failed.currency,
                gateway=failed.gateway,
                actor=actor,
            )

        await self.db.run(work)
        self.on_refund_queued()

    async def record_message(self, proposal_id: int, ts: str) -> None:
        async def work(session: AsyncSession) -> None:
            proposal = await session.get(ProposalRow, proposal_id)
            if proposal is not None:
                proposal.message_ts = ts

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


def _require(row: DisputeRow, states: set[Status], step: str) -> None:
    if Status(row.status) not in states:
        label = Status(row.status).label.lower()
        raise DisputeError(f"{dispute_ref(row.number)} is {label}: it cannot {step} now.")


async def _refundable(session: AsyncSession, order: Order) -> int:
    ledger = await session.get(RefundLedgerRow, order.payment.reference)
    if ledger is None:
        return order.total_minor - already_refunded_minor(order)
    return ledger.paid_minor - ledger.committed_minor


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
    elif status in {Status.EVIDENCE_READY, Status.REOPENED, Status.ESCALATED}:
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
    )


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
