"""The demo's history (`bot.demo_history`) written as the app would have stored it: each
dispute's row replayed step by step through the write hook's own functions (milestones, the
service-level clock, the stage runs each step ended), its evidence, policy decision and tags,
proposals, offers, refunds with the payment's ledger row, the closing survey, and one audit
chain per dispute. Rows with an id others name go through the ORM (the write hook stamps the
disputes once more on the way in); the rest in bulk."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo_history import OFFER_DAYS, SEED, Planned, Proposed, plan_history
from disputes import insight_facts, milestones, sla_clock
from disputes.audit import GENESIS, Actor, canonical_json, entry_hash
from disputes.conversation_chores import CSAT_DAYS
from disputes.evidence_gathering import content_hash, required_kinds
from disputes.intake import basis_for
from disputes.lifecycle import TRANSITIONS, Status
from disputes.payments import order_claim_minor, provider_request_id
from disputes.tags import order_tags, rule_tags
from domain.evidence import EvidenceDraft
from policies.loader import LoadedPack
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import (
    AuditRow,
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagRow,
    EvidenceRow,
    PolicyDecisionRow,
    ProposalRow,
    RefundLedgerRow,
    RefundRequestRow,
    SlaStageRunRow,
)
from storage.tables import Counter as CounterRow

REMINDER_HOURS = 72
Row = dict[str, Any]


async def seed_history(db: Database, sla: SlaPolicy, pack: LoadedPack, now: datetime) -> int:
    """Write the history into a database that holds no dispute yet; how many it wrote."""
    async with db.reading() as session:
        if await session.scalar(select(func.count()).select_from(DisputeRow)):
            return 0
    planned = await plan_history(pack, now, sla.calendar.zone)
    async with db.transaction() as session:
        await _write(session, planned, sla)
    return len(planned)


async def _write(session: AsyncSession, planned: list[Planned], sla: SlaPolicy) -> None:
    rng = random.Random(SEED + 1)
    seen: Counter[str] = Counter()
    disputes: list[tuple[Planned, DisputeRow, list[SlaStageRunRow]]] = []
    for number, p in enumerate(planned, start=1):
        customer = p.order.customer.id or ""
        row, runs = _replayed(p, number, seen[customer], sla)
        seen[customer] += 1
        disputes.append((p, row, runs))
    session.add_all(row for _, row, _ in disputes)
    await session.flush()
    ledgers = {p.order.payment.reference: p.order for p, _, _ in disputes}
    session.add_all(_ledger(order) for order in ledgers.values())
    proposals = {
        row.id: [_proposal(row, p, n, item) for n, item in enumerate(p.proposals)]
        for p, row, _ in disputes
    }
    session.add_all(item for found in proposals.values() for item in found)
    await session.flush()
    offers, refunds, surveys = {}, {}, {}
    for p, row, _ in disputes:
        offers[row.id] = [
            _offer(rng, row, stored, item) if item.offered_at else None
            for stored, item in zip(proposals[row.id], p.proposals, strict=True)
        ]
        refunds[row.id] = [
            _refund(rng, row, stored, item) if item.executed_at else None
            for stored, item in zip(proposals[row.id], p.proposals, strict=True)
        ]
        surveys[row.id] = _survey(rng, row, p)
    session.add_all(x for found in offers.values() for x in found if x is not None)
    session.add_all(x for found in refunds.values() for x in found if x is not None)
    session.add_all(x for x in surveys.values() if x is not None)
    await session.flush()
    for found in refunds.values():
        for refund in found:
            if refund is not None:
                refund.provider_ref = provider_request_id(refund.id, refund.idempotency_key)
    bulk: dict[Any, list[Row]] = {
        EvidenceRow: [],
        DisputeTagRow: [],
        SlaStageRunRow: [],
        PolicyDecisionRow: [],
        AuditRow: [],
    }
    for p, row, runs in disputes:
        chain = _Chain(row)
        bulk[EvidenceRow] += _evidence(p, row, chain)
        bulk[DisputeTagRow] += _tags(p, row)
        bulk[SlaStageRunRow] += [_run_row(row, run) for run in runs]
        bulk[PolicyDecisionRow].append(_decision(p, row, chain))
        _steps(p, row, chain, proposals[row.id], offers[row.id], refunds[row.id])
        survey = surveys[row.id]
        if p.rating is not None and survey is not None:
            at, rating, comment = p.rating
            after = {"survey": survey.id, "rating": rating, "comment": comment or ""}
            chain.add(at, Actor.customer(row.customer_email or ""), "customer.rated", after=after)
        bulk[AuditRow] += chain.rows()
    for table, rows in bulk.items():
        if rows:
            await session.execute(insert(table.__table__), rows)
    await session.execute(
        update(CounterRow).where(CounterRow.name == "dispute").values(value=len(disputes))
    )
    # The evidence and tags went in after the offers, in bulk: the offers' bases, like every
    # fact insights read, are recomputed from what is stored now.
    await session.run_sync(lambda s: insight_facts.refresh_all(s.connection()))


@dataclass(slots=True)
class _Replay:
    """What the write hook reads and writes of a dispute's row, without the ORM's bookkeeping
    (a few hundred disputes, a dozen steps each: the mapped class would double the demo's
    start-up)."""

    number: int
    status: str
    state_times: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    reason: str
    currency: str
    order_total_minor: int
    disputed_amount_minor: int
    prior_disputes: int
    order_snapshot: dict[str, Any]
    id: int = 0  # not yet known: `ended_run` names it, the caller sets the real one
    priority: str = ""
    sla_stage: str | None = None
    sla_entered_at: datetime | None = None
    sla_due_at: datetime | None = None
    sla_level: str = "ok"
    sla_check_at: datetime | None = None
    resolved_at: datetime | None = None
    resolve_business_seconds: int | None = None
    reopened_at: datetime | None = None
    closed_at: datetime | None = None


def _replayed(
    p: Planned, number: int, prior: int, sla: SlaPolicy
) -> tuple[DisputeRow, list[SlaStageRunRow]]:
    """The dispute's row after each of its steps, as the write hook (`sla_clock.watch`) kept
    it: milestones stamped, the clock applied, the stage run each step ended."""
    order, created = p.order, p.created
    snapshot = order.to_wire()
    state = _Replay(
        number=number,
        status=Status.NEW.value,
        state_times={Status.NEW.value: created.isoformat()},
        created_at=created,
        updated_at=created,
        reason=p.reason.value,
        currency=order.currency,
        order_total_minor=order.total_minor,
        disputed_amount_minor=p.disputed_minor,
        prior_disputes=prior,
        order_snapshot=snapshot,
    )
    row = cast(DisputeRow, state)  # read and written by attribute only, as the hook does
    sla_clock.apply(row, sla_clock.clock_of(row, sla, created))
    runs = []
    for step in p.steps:
        before = milestones.StageBefore.of(row)
        state.status = step.status.value
        state.state_times = {**state.state_times, step.status.value: step.at.isoformat()}
        state.updated_at = step.at
        milestones.stamp(row, sla)
        sla_clock.apply(row, sla_clock.clock_of(row, sla, step.at))
        if run := milestones.ended_run(row, before, step.at):
            runs.append(run)
    returned = order.return_request
    required = required_kinds(p.reason, return_received=bool(returned and returned.received_at))
    stored = DisputeRow(
        order_id=order.order_id,
        active_order_key=None,
        customer_id=order.customer.id,
        customer_name=order.customer.name,
        customer_email=order.customer.email,
        claim="",
        owner_id=p.owner,
        opened_by=p.owner,
        required_evidence=sorted({*required, *p.decision.required_evidence}),
        **{name: getattr(state, name) for name in _Replay.__slots__ if name != "id"},
    )
    return stored, runs


def _ledger(order: Any) -> RefundLedgerRow:
    """The payment's row as intake makes it (`disputes.ledger.ensure_ledger`)."""
    return RefundLedgerRow(
        payment_reference=order.payment.reference,
        currency=order.currency,
        paid_minor=order.total_minor,
        order_claim_minor=order_claim_minor(order),
    )


def _proposal(row: DisputeRow, p: Planned, n: int, item: Proposed) -> ProposalRow:
    return ProposalRow(
        dispute_id=row.id,
        kind=item.kind.value,
        amount_minor=item.amount_minor,
        currency=row.currency,
        note="",
        outside_policy=False,
        needs_supervisor=item.amount_minor is not None and item.amount_minor > 20_000,
        proposed_by=item.by,
        proposed_at=item.at,
        status=item.status,
        decided_by=item.approver,
        decided_at=item.approved_at,
        number=n + 1,
    )


def _offer(
    rng: random.Random, row: DisputeRow, proposal: ProposalRow, item: Proposed
) -> CustomerOfferRow:
    assert item.offered_at is not None
    expires = item.offered_at + timedelta(days=OFFER_DAYS)
    reminder = item.offered_at + timedelta(hours=REMINDER_HOURS)
    answered = item.answered_at
    return CustomerOfferRow(
        dispute_id=row.id,
        proposal_id=proposal.id,
        nonce=f"{rng.getrandbits(96):024x}",
        status=item.answer or "open",
        created_at=item.offered_at,
        expires_at=expires,
        reminder_due_at=reminder,
        reminded_at=reminder if answered is None or reminder <= answered else None,
        answered_at=answered,
        decline_reason=item.decline_reason,
    )


def _refund(
    rng: random.Random, row: DisputeRow, proposal: ProposalRow, item: Proposed
) -> RefundRequestRow:
    """A refund the worker sent and saw succeed."""
    decided = item.answered_at if item.answer == "accepted" else item.approved_at
    assert decided is not None and item.executed_at is not None and item.amount_minor is not None
    refund_id = f"re_demo{rng.getrandbits(64):016x}"
    return RefundRequestRow(
        dispute_id=row.id,
        payment_reference=(row.order_snapshot or {})["payment"]["reference"],
        amount_minor=item.amount_minor,
        currency=row.currency,
        gateway="stripe",
        idempotency_key=f"dd-{row.number}-{rng.getrandbits(128):032x}",
        provider_ref="",  # known once the row has its id
        status="succeeded",
        basis=basis_for(row.reason).value,
        attempts=1,
        fence=1,
        sends=1,
        last_in_flight_at=item.executed_at,
        provider_refund_id=refund_id,
        provider_refund_ids=[refund_id],
        requested_by=_decider(row, item),
        proposed_by=item.by,
        proposal_id=proposal.id,
        created_at=decided,
        updated_at=item.settled_at,
        claimed_at=item.executed_at,
        next_attempt_at=decided,
    )


def _decider(row: DisputeRow, item: Proposed) -> str:
    """Who carried the option out: the customer who accepted it, or its approver."""
    if item.answer == "accepted":
        return row.customer_email or ""
    return item.approver or ""


def _survey(rng: random.Random, row: DisputeRow, p: Planned) -> CsatRow | None:
    """The survey the closing message carried, sent a few minutes after the first resolution."""
    resolved = p.resolved_at()
    if resolved is None:
        return None
    created = resolved + timedelta(seconds=rng.randint(60, 300))
    rating = p.rating
    return CsatRow(
        dispute_id=row.id,
        nonce=f"{rng.getrandbits(96):024x}",
        created_at=created,
        expires_at=created + timedelta(days=CSAT_DAYS),
        rating=rating[1] if rating else None,
        comment=rating[2] if rating else None,
        answered_at=rating[0] if rating else None,
    )


def _evidence(p: Planned, row: DisputeRow, chain: _Chain) -> list[Row]:
    intake = Actor.system("intake")
    filed = [(draft, intake, p.created) for draft in p.evidence]
    filed += [(draft, actor, draft.captured_at or p.created) for draft, actor in p.added]
    rows = []
    for draft, actor, at in filed:
        digest = content_hash(draft)
        rows.append(_evidence_row(row, draft, actor, at, digest))
        after = {"kind": draft.kind.value, "source": draft.source, "content_hash": digest}
        chain.add(at, actor, "evidence.added", after=after)
    return rows


def _evidence_row(
    row: DisputeRow, draft: EvidenceDraft, actor: Actor, at: datetime, digest: str
) -> Row:
    return {
        "dispute_id": row.id,
        "kind": draft.kind.value,
        "source": draft.source,
        "captured_at": draft.captured_at or at,
        "summary": draft.summary,
        "payload": draft.payload,
        "url": draft.url,
        "content_hash": digest,
        "added_by": actor.id,
    }


def _tags(p: Planned, row: DisputeRow) -> list[Row]:
    tags = order_tags(p.order) | rule_tags(rule.id for rule in p.decision.matched)
    return [
        {
            "dispute_id": row.id,
            "dimension": dimension.value,
            "value": value,
            "opened_at": p.created,
            "added_at": p.created,
        }
        for dimension, value in sorted(tags)
    ]


def _run_row(row: DisputeRow, run: SlaStageRunRow) -> Row:
    return {
        "dispute_id": row.id,
        "stage": run.stage,
        "priority": run.priority,
        "entered_at": run.entered_at,
        "due_at": run.due_at,
        "left_at": run.left_at,
        "breached": run.breached,
    }


def _decision(p: Planned, row: DisputeRow, chain: _Chain) -> Row:
    """The decision intake made (`disputes.policy_decisions.decide`), and its audit entry."""
    decision = p.decision
    stored = decision.to_dict()
    chain.add(
        p.created,
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
    )
    return {
        "dispute_id": row.id,
        "pack_name": decision.pack_name,
        "pack_version": decision.pack_version,
        "pack_hash": decision.pack_hash,
        "decision": stored,
        "decision_hash": hashlib.sha256(canonical_json(stored).encode()).hexdigest(),
        "decided_at": p.created,
    }


def _steps(
    p: Planned,
    row: DisputeRow,
    chain: _Chain,
    proposals: list[ProposalRow],
    offers: list[CustomerOfferRow | None],
    refunds: list[RefundRequestRow | None],
) -> None:
    """The audit entries of opening, taking, each status step and each refund."""
    owner = Actor.slack_user(p.owner)
    chain.add(
        p.created,
        owner,
        "dispute.opened",
        after={
            "order_id": row.order_id,
            "reason": row.reason,
            "claim": "",
            "disputed_amount_minor": row.disputed_amount_minor,
            "currency": row.currency,
        },
        first=True,
    )
    chain.add(
        p.created + timedelta(seconds=30),
        owner,
        "assignment.changed",
        before={"owner": None},
        after={"from": None, "to": p.owner, "by": p.owner, "why": "take"},
    )
    before = Status.NEW
    for step in p.steps:
        after: dict[str, Any] = {"status": step.status.value}
        if step.proposal is not None:
            after |= _named(step.status, before, proposals, offers, p, step.proposal)
        event = _event(before, step.status)
        chain.add(
            step.at, step.actor, f"status.{event}", before={"status": before.value}, after=after
        )
        before = step.status
    for refund, item in zip(refunds, p.proposals, strict=True):
        if refund is None:
            continue
        decider = Actor(
            "customer" if item.answer == "accepted" else "slack_user", refund.requested_by
        )
        requested = {
            "refund_request": refund.id,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
            "payment_reference": refund.payment_reference,
            "gateway": refund.gateway,
            "basis": refund.basis,
            "idempotency_key": refund.idempotency_key,
            "provider_ref": refund.provider_ref,
        }
        chain.add(refund.created_at, decider, "refund.requested", after=requested)
        sent = {"refund_request": refund.id, "send": 1, "idempotency_key": refund.idempotency_key}
        chain.add(refund.claimed_at, Actor.system("refunds"), "refund.sent", after=sent)
        succeeded = {
            "refund_request": refund.id,
            "provider_refund_id": refund.provider_refund_id,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
            "attempts": 1,
            "sends": 1,
        }
        chain.add(
            refund.updated_at,
            Actor.system("refunds"),
            "refund.succeeded",
            after=succeeded,
            first=True,
        )


def _named(
    status: Status,
    before: Status,
    proposals: list[ProposalRow],
    offers: list[CustomerOfferRow | None],
    p: Planned,
    index: int,
) -> dict[str, Any]:
    """What a status step's audit entry names, as the services write it."""
    proposal, offer, item = proposals[index], offers[index], p.proposals[index]
    if status is Status.PROPOSED:
        return {
            "proposal": proposal.id,
            "kind": proposal.kind,
            "amount_minor": proposal.amount_minor,
            "currency": proposal.currency,
            "outside_policy": False,
            "needs_supervisor": proposal.needs_supervisor,
            "justification": None,
        }
    if status is Status.RESOLVED:
        return {"resolution": proposal.kind}
    if status is Status.AWAITING_CUSTOMER and offer is not None:
        return {
            "proposal": proposal.id,
            "offer": offer.id,
            "expires_at": offer.expires_at.isoformat(),
        }
    if before is Status.AWAITING_CUSTOMER or status is Status.OFFER_EXPIRED:
        assert offer is not None
        named: dict[str, Any] = {"proposal": proposal.id, "offer": offer.id}
        if item.answer == "declined":
            named["reason"] = item.decline_reason or ""
        return named
    return {"proposal": proposal.id}


def _event(before: Status, after: Status) -> str:
    for (state, event), target in TRANSITIONS.items():
        if state is before and target is after:
            return event.value
    raise ValueError(f"no event moves {before} to {after}")


class _Chain:
    """One dispute's audit entries, ordered by time and chained as `disputes.audit` does."""

    def __init__(self, row: DisputeRow) -> None:
        self.row = row
        self.entries: list[tuple[datetime, int, Actor, str, dict[str, Any], dict[str, Any]]] = []

    def add(
        self,
        at: datetime | None,
        actor: Actor,
        action: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        first: bool = False,
    ) -> None:
        """An entry at `at`; `first` puts it before the others of the same moment."""
        assert at is not None
        order = len(self.entries) - (1 << 30 if first else 0)
        self.entries.append((at, order, actor, action, before or {}, after or {}))

    def rows(self) -> list[Row]:
        rows, prev = [], GENESIS
        ordered = sorted(self.entries, key=lambda e: (e[0], e[1]))
        for seq, (at, _, actor, action, before, after) in enumerate(ordered, start=1):
            digest = entry_hash(
                dispute_number=self.row.number,
                seq=seq,
                at=at,
                actor_type=actor.kind,
                actor_id=actor.id,
                action=action,
                before=before,
                after=after,
                prev_hash=prev,
            )
            rows.append(
                {
                    "dispute_id": self.row.id,
                    "seq": seq,
                    "at": at,
                    "actor_type": actor.kind,
                    "actor_id": actor.id,
                    "action": action,
                    "before": before,
                    "after": after,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        return rows
