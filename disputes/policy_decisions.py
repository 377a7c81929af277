"""The policy decision for a dispute, stored with the pack it was made under."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor, canonical_json
from disputes.errors import DisputeNotFound
from disputes.evidence_gathering import required_kinds
from disputes.models import CaseFile, dispute_ref
from disputes.permissions import Gate
from disputes.repository import load_case, load_row
from disputes.tags import add_tags, rule_tags
from domain.evidence import EvidenceKind
from domain.orders import Order
from domain.reasons import Reason
from policies.current import CurrentPack
from policies.engine import Decision, evaluate
from policies.facts import facts_from_order
from policies.schema import Rule
from policies.search import search_rules
from storage.db import Database
from storage.tables import AuditRow, DisputeRow, EvidenceRow, PolicyDecisionRow, core
from storage.types import JSONText


async def decide(session: AsyncSession, row: DisputeRow, current: CurrentPack) -> Decision | None:
    """Evaluate the pack for the dispute; store and audit the decision when it changed."""
    if row.order_snapshot is None:
        return None
    kinds = {
        EvidenceKind(kind)
        for kind in await session.scalars(
            select(EvidenceRow.kind).where(EvidenceRow.dispute_id == row.id)
        )
    }
    order = Order.from_wire(row.order_snapshot)
    decision = _evaluate(row, current, order, kinds, await opened_reason(session, row))
    stored = canonical_json(decision.to_dict())
    last = await _latest_row(session, row.id)
    if last is not None and last.decision_hash == _hashed(stored):
        return decision
    at = datetime.now(UTC)
    chain = audit.Chain(session, row)
    await _record(session, row, order, decision, stored, at, chain)
    await add_tags(session, row, (rule_tags(rule.id for rule in decision.matched), at))
    await chain.write()
    return decision


def decide_new(
    row: DisputeRow, current: CurrentPack, order: Order, evidence: set[EvidenceKind]
) -> Decision:
    """The first decision of a dispute being opened, from what its intake holds (the order,
    the evidence it files, the reason it was opened with), made before the dispute's row is
    first written: the row then says what evidence the decision requires. Stored with
    `record_new` once the row has its id."""
    decision = _evaluate(row, current, order, evidence, Reason(row.reason))
    _require(row, order, decision)
    return decision


async def record_new(
    session: AsyncSession, row: DisputeRow, decision: Decision, chain: audit.Chain, at: datetime
) -> None:
    """Store a new dispute's first decision (`decide_new`), made at `at`; its audit entry goes
    to `chain`. The caller stores the decision's rule tags."""
    await _store(session, row, decision, canonical_json(decision.to_dict()), at, chain)


def _evaluate(
    row: DisputeRow,
    current: CurrentPack,
    order: Order,
    evidence: set[EvidenceKind],
    opened: Reason,
) -> Decision:
    facts = facts_from_order(
        order,
        reason=Reason(row.reason),
        claim=row.claim,
        disputed_amount_minor=row.disputed_amount_minor or 0,
        evidence_present=evidence,
        as_of=row.created_at,
        opened_reason=opened,
    )
    return evaluate(current.refresh(), facts, as_of=row.created_at)


def _hashed(stored: str) -> str:
    """The decision's hash: of its canonical JSON, as stored."""
    return hashlib.sha256(stored.encode()).hexdigest()


# The decision goes in as the canonical JSON its hash is taken of: serialized once.
_INSERT = insert(core(PolicyDecisionRow)).values(decision=bindparam("decision", type_=JSONText()))


async def _record(
    session: AsyncSession,
    row: DisputeRow,
    order: Order,
    decision: Decision,
    stored: str,
    at: datetime,
    chain: audit.Chain,
) -> None:
    """Store the decision (`stored`: its canonical JSON) and what it requires of the dispute;
    its audit entry to `chain`."""
    _require(row, order, decision)
    await _store(session, row, decision, stored, at, chain)


def _require(row: DisputeRow, order: Order, decision: Decision) -> None:
    """The evidence the dispute requires: its reason's, and the decision's."""
    baseline = required_kinds(Reason(row.reason), return_received=order_received(order))
    row.required_evidence = sorted({*baseline, *decision.required_evidence})


async def _store(
    session: AsyncSession,
    row: DisputeRow,
    decision: Decision,
    stored: str,
    at: datetime,
    chain: audit.Chain,
) -> None:
    await session.execute(
        _INSERT,
        {
            "dispute_id": row.id,
            "pack_name": decision.pack_name,
            "pack_version": decision.pack_version,
            "pack_hash": decision.pack_hash,
            "decision": stored,
            "decision_hash": _hashed(stored),
            "decided_at": at,
        },
    )
    chain.add(
        Actor.system("policy"),
        "policy.decided",
        after={
            "pack": decision.pack_name,
            "version": decision.pack_version,
            "pack_hash": decision.pack_hash,
            "citations": [rule.citation for rule in decision.matched],
            "recommended": decision.recommended.resolution.value if decision.recommended else None,
            "missing_evidence": [str(kind) for kind in decision.missing_evidence],
        },
        at=at,
    )


async def opened_reason(session: AsyncSession, row: DisputeRow) -> Reason:
    """The reason given when the dispute was opened, as its first audit entry recorded it (the
    dispute's reason may since have been switched to the return request's)."""
    after = await session.scalar(
        select(AuditRow.after)
        .where(AuditRow.dispute_id == row.id, AuditRow.action == "dispute.opened")
        .order_by(AuditRow.id)
        .limit(1)
    )
    try:
        return Reason((after or {})["reason"])
    except (KeyError, ValueError):
        return Reason(row.reason)


def order_received(order: Order) -> bool:
    return bool(order.return_request and order.return_request.received_at)


async def _latest_row(session: AsyncSession, dispute_id: int) -> PolicyDecisionRow | None:
    return await session.scalar(
        select(PolicyDecisionRow)
        .where(PolicyDecisionRow.dispute_id == dispute_id)
        .order_by(PolicyDecisionRow.id.desc())
        .limit(1)
    )


async def latest_decision(session: AsyncSession, row: DisputeRow) -> Decision | None:
    """The decision last made for the dispute, read in the caller's transaction."""
    stored = await _latest_row(session, row.id)
    return None if stored is None else Decision.from_dict(stored.decision)


# The dispute's last decision by its number, in one read (None: the dispute has none yet).
_LATEST_BY_NUMBER = select(
    DisputeRow.id,
    select(PolicyDecisionRow.decision)
    .where(PolicyDecisionRow.dispute_id == DisputeRow.id)
    .order_by(PolicyDecisionRow.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("decision"),
).where(DisputeRow.number == bindparam("number"))


# The dispute's row and its last decision by its number, in one read.
_ROW_AND_LATEST = select(
    DisputeRow,
    select(PolicyDecisionRow.decision)
    .where(PolicyDecisionRow.dispute_id == DisputeRow.id)
    .order_by(PolicyDecisionRow.id.desc())
    .limit(1)
    .scalar_subquery(),
).where(DisputeRow.number == bindparam("number"))


class PolicyService:
    def __init__(self, db: Database, current: CurrentPack) -> None:
        self.db = db
        self.current = current

    async def refresh(self, number: int) -> tuple[CaseFile, Decision | None]:
        """Re-evaluate (new evidence, a new pack) and return the case with its decision."""

        async def work(session: AsyncSession) -> tuple[CaseFile, Decision | None]:
            row = await load_row(session, number)
            decision = await decide(session, row, self.current)
            return await load_case(session, row), decision

        return await self.db.run(work)

    async def switch_reason(
        self, number: int, to: Reason, actor: Actor, gate: Gate | None
    ) -> tuple[CaseFile, Decision]:
        """Decide the dispute on the other of its two reasons (see `policy_reasons`)."""
        # Imported here: that module builds on this one's `decide`.
        from disputes.policy_reasons import switch_reason

        return await switch_reason(self.db, self.current, gate, number, to, actor)

    def search(self, words: str, reason: Reason | None) -> list[Rule]:
        return search_rules(self.current.refresh(), words, reason)

    async def case_with_latest(self, number: int) -> tuple[CaseFile, Decision | None]:
        """The case file and the decision last made for it, in one read (what a thread's
        cards show); the decision comes with the dispute's row."""
        async with self.db.reading() as session:
            found = (await session.execute(_ROW_AND_LATEST, {"number": number})).first()
            if found is None:
                raise DisputeNotFound(dispute_ref(number))
            row, stored = found
            case = await load_case(session, row)
        return case, None if stored is None else Decision.from_dict(stored)

    async def latest(self, number: int) -> Decision | None:
        """The decision last shown for the dispute, exactly as it was made."""
        async with self.db.reading() as session:
            found = (await session.execute(_LATEST_BY_NUMBER, {"number": number})).first()
        if found is None:
            raise DisputeNotFound(dispute_ref(number))
        return None if found.decision is None else Decision.from_dict(found.decision)
