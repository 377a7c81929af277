"""F1 intake: turn an order id and a claim into a dispute with its case file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.evidence import EvidenceSource
from connectors.orders import protocol as orders
from connectors.orders.models import Order, Outcome
from disputes import audit
from disputes.audit import Actor
from disputes.errors import OrderNotFound, OrderSystemUnavailable
from disputes.evidence import EvidenceCollection, collect_evidence, required_kinds
from disputes.evidence_store import store_evidence
from disputes.lifecycle import Status
from disputes.models import CaseFile
from disputes.policy import decide
from disputes.reasons import Reason
from disputes.records import UNAVAILABLE_ACTION, load_case, open_row_for_order
from policies.current import CurrentPack
from storage.db import Database
from storage.tables import Counter, DisputeRow

log = logging.getLogger(__name__)

HIGH_PRIORITY_MINOR = 20_000  # disputes over 200.00 (in the order's currency) jump the queue


@dataclass(frozen=True, slots=True)
class OpenRequest:
    order_id: str
    reason: Reason | None
    claim: str
    actor: Actor


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case: CaseFile
    created: bool


class IntakeService:
    def __init__(
        self,
        db: Database,
        order_source: orders.OrderSource,
        evidence_sources: Sequence[EvidenceSource],
        *,
        policy: CurrentPack | None = None,
        source_timeout: float = 5.0,
    ) -> None:
        self.db = db
        self.order_source = order_source
        self.evidence_sources = list(evidence_sources)
        self.policy = policy
        self.source_timeout = source_timeout

    async def open(self, request: OpenRequest) -> IntakeResult:
        """Open a dispute, or return the one already open for the order; never half-written."""
        existing = await self._existing(request.order_id)
        if existing is not None:
            return IntakeResult(existing, created=False)
        order = await self._read_order(request.order_id)
        evidence = await collect_evidence(
            order, self.evidence_sources, per_source_timeout=self.source_timeout
        )

        async def create(session: AsyncSession) -> CaseFile:
            return await self._create(session, request, order, evidence)

        try:
            case = await self.db.run(create)
        except IntegrityError:
            # Another request opened a dispute for this order between our check and our insert.
            existing = await self._existing(request.order_id)
            if existing is None:
                raise
            return IntakeResult(existing, created=False)
        return IntakeResult(case, created=True)

    async def _existing(self, order_id: str) -> CaseFile | None:
        async with self.db.reading() as session:
            row = await open_row_for_order(session, order_id)
            return None if row is None else await load_case(session, row)

    async def _read_order(self, order_id: str) -> Order:
        try:
            return await self.order_source.get_order(order_id)
        except orders.OrderNotFound:
            raise OrderNotFound(order_id) from None
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
    ) -> CaseFile:
        now = datetime.now(UTC)
        number = await _next_number(session)
        reason = request.reason or _order_reason(order)
        returned = order.return_request
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
            disputed_amount_minor=disputed_amount_minor(order),
            priority=priority(order),
            opened_by=request.actor.id,
            status=Status.NEW.value,
            state_times={Status.NEW.value: now.isoformat()},
            required_evidence=sorted(
                required_kinds(reason, return_received=bool(returned and returned.received_at))
            ),
            created_at=now,
            updated_at=now,
            order_snapshot=order.to_wire(),
        )
        session.add(row)
        await session.flush()
        await audit.append(
            session,
            row,
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
        await _add_evidence(session, row, evidence, now)
        if self.policy is not None:
            await decide(session, row, self.policy)
        return await load_case(session, row)


async def _add_evidence(
    session: AsyncSession, row: DisputeRow, evidence: EvidenceCollection, now: datetime
) -> None:
    system = Actor.system("intake")
    for draft in evidence.drafts:
        await store_evidence(session, row, draft, system, now)
    for failure in evidence.unavailable:
        await audit.append(
            session,
            row,
            system,
            UNAVAILABLE_ACTION,
            after={
                "source": failure.source,
                "kinds": [kind.value for kind in failure.kinds],
                "reason": failure.reason,
            },
            at=now,
        )


async def _next_number(session: AsyncSession) -> int:
    """Gapless D-<n>: the counter row is locked until this transaction ends."""
    value = await session.scalar(
        update(Counter)
        .where(Counter.name == "dispute")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    if value is None:
        raise RuntimeError("the dispute counter is missing: run `dispute-desk migrate`")
    return int(value)


def _order_reason(order: Order) -> Reason:
    return order.return_request.reason if order.return_request else Reason.OTHER


def disputed_amount_minor(order: Order) -> int:
    """What the customer is out of pocket: returned items' value less any cash already refunded."""
    if order.return_request is None:
        return order.total_minor
    value = order.returned_value_minor or order.total_minor
    decision = order.decision
    refunded = 0
    if decision and decision.outcome in {Outcome.REFUNDED, Outcome.PARTIAL_REFUND}:
        refunded = decision.amount_minor or 0
    return max(value - refunded, 0)


def priority(order: Order) -> str:
    vip = order.customer.tier == "vip"
    return "high" if vip or disputed_amount_minor(order) > HIGH_PRIORITY_MINOR else "normal"
