"""Reading dispute rows and turning them into snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.errors import DisputeNotFound
from disputes.evidence_gathering import checklist
from disputes.ledger import load_ledger
from disputes.lifecycle import Status
from disputes.models import (
    CaseFile,
    Dispute,
    EarlierDispute,
    EvidenceItem,
    Note,
    Outcome,
    UnavailableSource,
    dispute_ref,
)
from domain.evidence import EvidenceKind
from domain.reasons import Reason
from domain.resolutions import Resolution
from storage.tables import (
    AuditRow,
    DisputeRow,
    EvidenceRow,
    ProposalRow,
    RefundRequestRow,
    ThreadNoteRow,
)

UNAVAILABLE_ACTION = "evidence.unavailable"
LATEST_NOTES = 5  # the notes a case file carries for `/dispute show`


async def load_row(session: AsyncSession, number: int) -> DisputeRow:
    row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
    if row is None:
        raise DisputeNotFound(dispute_ref(number))
    return row


async def open_row_for_order(session: AsyncSession, order_id: str) -> DisputeRow | None:
    return await session.scalar(select(DisputeRow).where(DisputeRow.active_order_key == order_id))


def to_dispute(row: DisputeRow) -> Dispute:
    return Dispute(
        number=row.number,
        order_id=row.order_id,
        reason=Reason(row.reason),
        claim=row.claim,
        status=Status(row.status),
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        customer_email=row.customer_email,
        currency=row.currency,
        order_total_minor=row.order_total_minor,
        disputed_amount_minor=row.disputed_amount_minor,
        priority=row.priority,
        owner_id=row.owner_id,
        opened_by=row.opened_by,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        evidence_card_ts=row.evidence_card_ts,
        policy_card_ts=row.policy_card_ts,
        state_times=dict(row.state_times),
        required_evidence=tuple(EvidenceKind(kind) for kind in row.required_evidence),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        sla_stage=row.sla_stage,
        sla_due_at=row.sla_due_at,
        sla_level=row.sla_level or "ok",
    )


def to_evidence(row: EvidenceRow) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind(row.kind),
        source=row.source,
        summary=row.summary,
        payload=dict(row.payload),
        url=row.url,
        captured_at=row.captured_at,
        added_by=row.added_by,
    )


def to_note(row: ThreadNoteRow) -> Note:
    history = tuple(
        (str(entry["text"]), datetime.fromisoformat(str(entry["until"]))) for entry in row.history
    )
    return Note(
        author=row.author,
        text=row.text,
        posted_at=row.posted_at,
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
        history=history,
    )


async def live_notes(session: AsyncSession, row: DisputeRow) -> tuple[int, list[Note]]:
    """How many of the thread's notes are not deleted, and the latest of them, newest first."""
    live = (ThreadNoteRow.dispute_id == row.id, ThreadNoteRow.deleted_at.is_(None))
    count = await session.scalar(select(func.count()).select_from(ThreadNoteRow).where(*live))
    latest = await session.scalars(
        select(ThreadNoteRow)
        .where(*live)
        .order_by(ThreadNoteRow.posted_at.desc(), ThreadNoteRow.id.desc())
        .limit(LATEST_NOTES)
    )
    return int(count or 0), [to_note(note) for note in latest]


async def load_case(session: AsyncSession, row: DisputeRow) -> CaseFile:
    """The dispute, its evidence in capture order, the checklist and unavailable sources."""
    evidence = [
        to_evidence(item)
        for item in await session.scalars(
            select(EvidenceRow).where(EvidenceRow.dispute_id == row.id).order_by(EvidenceRow.id)
        )
    ]
    failures = await session.scalars(
        select(AuditRow)
        .where(AuditRow.dispute_id == row.id, AuditRow.action == UNAVAILABLE_ACTION)
        .order_by(AuditRow.seq)
    )
    present = {item.kind for item in evidence}
    unavailable = [
        UnavailableSource(
            source=entry.after["source"],
            kinds=tuple(EvidenceKind(kind) for kind in entry.after["kinds"]),
            reason=entry.after["reason"],
        )
        for entry in failures
        if not present.issuperset(EvidenceKind(kind) for kind in entry.after["kinds"])
    ]
    dispute = to_dispute(row)
    reference = payment_reference(row)
    note_count, notes = await live_notes(session, row)
    return CaseFile(
        dispute=dispute,
        evidence=evidence,
        checklist=checklist(present, set(dispute.required_evidence)),
        unavailable=unavailable,
        ledger=await load_ledger(session, reference) if reference else None,
        earlier=await earlier_disputes(session, row),
        outcome=await outcome_of(session, row),
        note_count=note_count,
        notes=notes,
    )


async def outcome_of(session: AsyncSession, row: DisputeRow) -> Outcome | None:
    """The proposal approved last for the dispute, with what its refunds returned."""
    approved = await session.scalar(
        select(ProposalRow)
        .where(ProposalRow.dispute_id == row.id, ProposalRow.status == "approved")
        .order_by(ProposalRow.id.desc())
        .limit(1)
    )
    if approved is None:
        return None
    refunded = await session.scalar(
        select(func.coalesce(func.sum(RefundRequestRow.amount_minor), 0)).where(
            RefundRequestRow.dispute_id == row.id, RefundRequestRow.status == "succeeded"
        )
    )
    return Outcome(
        resolution=Resolution(approved.kind),
        proposal_number=approved.number,
        amount_minor=approved.amount_minor,
        currency=approved.currency,
        approved_by=approved.decided_by,
        approved_at=approved.decided_at,
        refunded_minor=int(refunded or 0),
    )


def payment_reference(row: DisputeRow) -> str | None:
    """The payment the dispute's order was paid with, as the order was read at intake."""
    payment = (row.order_snapshot or {}).get("payment") or {}
    reference = payment.get("reference")
    return str(reference) if reference else None


async def earlier_disputes(session: AsyncSession, row: DisputeRow) -> list[EarlierDispute]:
    """The order's other disputes, oldest first: how each ended and what it refunded."""
    others = list(
        await session.scalars(
            select(DisputeRow)
            .where(DisputeRow.order_id == row.order_id, DisputeRow.id != row.id)
            .order_by(DisputeRow.number)
        )
    )
    found = []
    for other in others:
        refunded = await session.scalar(
            select(func.coalesce(func.sum(RefundRequestRow.amount_minor), 0)).where(
                RefundRequestRow.dispute_id == other.id, RefundRequestRow.status == "succeeded"
            )
        )
        kind = await session.scalar(
            select(ProposalRow.kind)
            .where(ProposalRow.dispute_id == other.id, ProposalRow.status == "approved")
            .order_by(ProposalRow.id.desc())
            .limit(1)
        )
        found.append(
            EarlierDispute(
                number=other.number,
                status=Status(other.status),
                resolution=Resolution(kind) if kind else None,
                refunded_minor=int(refunded or 0),
                currency=other.currency,
            )
        )
    return found
