"""F1 intake: turn an order id and a claim into a dispute with its case file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.evidence_source import EvidenceSource
from connectors.orders import protocol as orders
from connectors.refunds.protocol import RefundResult
from disputes import audit, insight_facts
from disputes.assignment import auto_assign_row
from disputes.audit import Actor
from disputes.errors import OrderNotFound, OrderSystemUnavailable
from disputes.evidence_gathering import EvidenceCollection, collect_evidence, required_kinds
from disputes.evidence_store import file_evidence
from disputes.ledger import LedgerReader, hold_ledger, ledger_of, store_provider_read
from disputes.lifecycle import Status
from disputes.models import CaseFile, PolicyDecision, UnavailableSource
from disputes.payments import Basis, PaymentLedger, order_claim_minor
from disputes.permissions import Gate
from disputes.policy_decisions import decide_new, record_new
from disputes.repository import (
    UNAVAILABLE_ACTION,
    filed_items,
    load_case,
    open_row_for_order,
    opened_case,
    unavailable_source,
)
from disputes.roles import CurrentRoles, Roles
from disputes.tags import add_tags, order_tags, rule_tags
from disputes.thread_outbox import FIRST_POST_GRACE, ThreadClaims
from domain.orders import Order
from domain.reasons import Reason
from domain.roles import Action
from policies.current import CurrentPack
from storage.db import Database
from storage.tables import Counter, DisputeRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OpenRequest:
    order_id: str
    reason: Reason | None
    claim: str
    actor: Actor


@dataclass(frozen=True, slots=True)
class NewThread:
    """What the request that opened a dispute needs to post its thread without reading the
    dispute back: the claim on the thread it holds (`ThreadClaims.claim_new`), the decision
    made at intake, and the last entry of the audit chain when intake committed (any change
    to the dispute since is a later entry)."""

    fence: int
    decision: PolicyDecision | None
    audit_seq: int


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case: CaseFile
    created: bool
    # For a dispute this request opened with its thread claimed: what posting it needs.
    thread: NewThread | None = None


def _spellings(order_id: str) -> tuple[str, ...]:
    """The id as typed, then in capitals when that differs: order ids are written in capitals
    far more often than not, and people type them in lower case."""
    upper = order_id.upper()
    return (order_id,) if upper == order_id else (order_id, upper)


class IntakeService:
    def __init__(
        self,
        db: Database,
        order_source: orders.OrderSource,
        evidence_sources: Sequence[EvidenceSource],
        *,
        policy: CurrentPack | None = None,
        ledger: LedgerReader | None = None,
        gate: Gate | None = None,
        source_timeout: float = 5.0,
        owners: Roles | CurrentRoles | None = None,
        thread_claims: ThreadClaims | None = None,
    ) -> None:
        self.db = db
        self.order_source = order_source
        self.evidence_sources = list(evidence_sources)
        self.policy = policy
        self.ledger = ledger
        self.gate = gate  # who may open; a service built without one checks nobody
        self.source_timeout = source_timeout
        # Whom new disputes are given to, when the roles file has an `assignment:` section.
        self.owners = owners
        # With them, a new dispute is written with its thread claimed for the opener to post.
        self.thread_claims = thread_claims

    async def open(self, request: OpenRequest) -> IntakeResult:
        """Open a dispute, or return the one already open for the order; never half-written."""
        if self.gate is not None:
            await self.gate.require(Action.OPEN, request.actor)
        existing = await self._existing(*_spellings(request.order_id))
        if existing is not None:
            return IntakeResult(existing, created=False)
        order = await self._read_order(request.order_id)
        if order.order_id != request.order_id:  # the order system's own spelling of the id
            existing = await self._existing(order.order_id)
            if existing is not None:
                return IntakeResult(existing, created=False)
        evidence, provider = await asyncio.gather(
            collect_evidence(order, self.evidence_sources, per_source_timeout=self.source_timeout),
            self._read_provider(order),
        )

        async def create(session: AsyncSession) -> tuple[CaseFile, NewThread | None]:
            return await self._create(session, request, order, evidence, provider)

        try:
            case, thread = await self.db.run(create)
        except IntegrityError:
            # Another request opened a dispute for this order between our check and our insert.
            existing = await self._existing(order.order_id)
            if existing is None:
                raise
            return IntakeResult(existing, created=False)
        return IntakeResult(case, created=True, thread=thread)

    async def _read_provider(
        self, order: Order
    ) -> tuple[list[RefundResult] | None, str | None] | None:
        """The provider's refunds on the order's payment, read beside the evidence."""
        if self.ledger is None:
            return None
        return await self.ledger.read(order.payment.reference)

    async def _existing(self, *order_ids: str) -> CaseFile | None:
        async with self.db.reading() as session:
            for order_id in order_ids:
                row = await open_row_for_order(session, order_id)
                if row is not None:
                    return await load_case(session, row)
        return None

    async def _read_order(self, order_id: str) -> Order:
        """The order as typed, else in capitals (`ord-1002` for `ORD-1002`) when the order
        system does not know the typed spelling."""
        for spelling in _spellings(order_id):
            try:
                return await self._read_one(spelling)
            except orders.OrderNotFound:
                continue
        raise OrderNotFound(order_id)

    async def _read_one(self, order_id: str) -> Order:
        try:
            return await self.order_source.get_order(order_id)
        except orders.OrderSourceUnavailable as exc:
            raise OrderSystemUnavailable(str(exc)) from exc
        except orders.InvalidOrderData as exc:
            raise OrderSystemUnavailable(f"it returned unreadable data for {order_id}") from exc

    async def _create(
        self,
        session: AsyncSession,
        request: OpenRequest,
        order: Order,
        evidence: EvidenceCollection,
        provider: tuple[list[RefundResult] | None, str | None] | None,
    ) -> tuple[CaseFile, NewThread | None]:
        """The new dispute's case file, and its thread's hand-over when intake claims it."""
        now = datetime.now(UTC)
        number, prior, on_order = await _next_number(
            session, order.customer.id or None, order.order_id
        )
        reason = request.reason or _order_reason(order)
        returned = order.return_request
        ledger_row = await hold_ledger(session, order)
        if provider is not None:
            store_provider_read(ledger_row, *provider, now)
        ledger = await ledger_of(session, ledger_row)
        disputed = disputed_amount_minor(order, ledger, reason)
        row = DisputeRow(
            number=number,
            order_id=order.order_id,
            active_order_key=order.order_id,
            customer_id=order.customer.id,
            customer_name=order.customer.name,
            customer_email=order.customer.email,
            reason=reason.value,
            claim=request.claim,
            currency=order.currency,
            order_total_minor=order.total_minor,
            disputed_amount_minor=disputed,
            # The priority is the SLA file's, set with the clock before the row is flushed.
            prior_disputes=prior,
            opened_by=request.actor.id,
            status=Status.NEW.value,
            state_times={Status.NEW.value: now.isoformat()},
            required_evidence=sorted(
                required_kinds(reason, return_received=bool(returned and returned.received_at))
            ),
            created_at=now,
            updated_at=now,
            order_snapshot=order.to_wire(),
            # Its thread is due: this request posts it, else the thread outbox shortly after.
            thread_due_at=now + FIRST_POST_GRACE,
        )
        fence = None if self.thread_claims is None else self.thread_claims.claim_new(row)
        decision: PolicyDecision | None = None
        if self.policy is not None:  # before the row is written: it sets what is required
            decided = datetime.now(UTC)
            present = {draft.kind for draft in evidence.drafts}  # each kind filed, once
            decision = decide_new(row, self.policy, order, present)
        if not on_order:  # no earlier dispute of the order is followed up by this one
            insight_facts.first_on_order(session, order.order_id)
        session.add(row)
        await session.flush()
        # Everything below is new with the dispute: nothing to look up before writing it, and
        # each table written once (the audit chain last, in the order things happened).
        chain = audit.new_chain(session, row)
        chain.add(
            request.actor,
            "dispute.opened",
            after={
                "order_id": order.order_id,
                "reason": reason.value,
                "claim": request.claim,
                "disputed_amount_minor": row.disputed_amount_minor,
                "currency": order.currency,
            },
            at=now,
        )
        system = Actor.system("intake")
        filed = await file_evidence(
            session, row, evidence.drafts, system, now, chain=chain, new_dispute=True
        )
        unavailable = [_unavailable(chain, system, gap, now) for gap in evidence.unavailable]
        tags = [(order_tags(order), now)]
        if decision is not None:
            await record_new(session, row, decision, chain, decided)
            tags.append((rule_tags(rule.id for rule in decision.matched), decided))
        await add_tags(session, row, *tags, new_dispute=True)
        await chain.write()
        if self.owners is not None and (roles := self.owners.current()).auto_assigns:
            # In this transaction, which holds the dispute counter: one intake picks at a time.
            await auto_assign_row(session, row, roles)
        items = filed_items(filed, system.id, now)
        case = await opened_case(session, row, unavailable, ledger, items, earlier=bool(on_order))
        if fence is None:
            return case, None
        return case, NewThread(fence, decision, audit.written_seq(session, row))


def _unavailable(
    chain: audit.Chain, actor: Actor, failure: UnavailableSource, at: datetime
) -> UnavailableSource:
    """Audit a source that could not be read; returns it as the case file shows it."""
    after = {
        "source": failure.source,
        "kinds": [kind.value for kind in failure.kinds],
        "reason": failure.reason,
    }
    chain.add(actor, UNAVAILABLE_ACTION, after=after, at=at)
    return unavailable_source(after)


# Built once: it runs with every intake. The customer's disputes and the order's are counted in
# the same statement: every intake takes the counter first and holds it, so none can be added
# between.
_NEXT_NUMBER = (
    update(Counter)
    .where(Counter.name == "dispute")
    .values(value=Counter.value + 1)
    .returning(
        Counter.value,
        select(func.count())
        .select_from(DisputeRow)
        .where(DisputeRow.customer_id == bindparam("customer_id"))
        .scalar_subquery(),
        select(func.count())
        .select_from(DisputeRow)
        .where(DisputeRow.order_id == bindparam("order_id"))
        .scalar_subquery(),
    )
)


class NextNumber(NamedTuple):
    number: int  # the new dispute's
    prior: int  # the customer's disputes before it (none counted without a customer id)
    on_order: int  # the order's disputes before it


async def _next_number(session: AsyncSession, customer_id: str | None, order_id: str) -> NextNumber:
    """Gapless D-<n> (the counter row is locked until this transaction ends), and how many
    disputes the customer and the order had before this one."""
    params = {"customer_id": customer_id, "order_id": order_id}
    found = (await session.execute(_NEXT_NUMBER, params)).first()
    if found is None:
        raise RuntimeError("the dispute counter is missing: run `dispute-desk migrate`")
    number, prior, on_order = found
    return NextNumber(int(number), int(prior or 0), int(on_order or 0))


def _order_reason(order: Order) -> Reason:
    return order.return_request.reason if order.return_request else Reason.OTHER


def basis_for(reason: Reason | str) -> Basis:
    """A refund that never arrived is re-sent against the provider's refunds alone."""
    return Basis.PROVIDER if reason == Reason.REFUND_NOT_RECEIVED else Basis.LEDGER


def disputed_amount_minor(
    order: Order, ledger: PaymentLedger | None = None, reason: Reason | None = None
) -> int:
    """What the customer is out of pocket.

    For a refund not received: what the order system says it refunded and the provider does not
    hold. Otherwise: the returned items' value (the order total without a return) less
    everything already refunded on the payment, by the order system, the provider or us.
    """
    if basis_for(reason or _order_reason(order)) is Basis.PROVIDER:
        return ledger.missing_minor if ledger else order_claim_minor(order)
    value = order.total_minor
    if order.return_request is not None:
        value = order.returned_value_minor or order.total_minor
    refunded = ledger.committed_minor() if ledger else order_claim_minor(order)
    return max(value - refunded, 0)
