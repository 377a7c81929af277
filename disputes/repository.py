"""Reading dispute rows and turning them into snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ScalarSelect, bindparam, func, select
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
from disputes.payments import PaymentLedger
from domain.evidence import EvidenceDraft, EvidenceKind
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

# The reads of every case file, built once: building a statement costs more CPU than running
# it (the compiled form is cached by SQLAlchemy, the expression objects are not).
_BY_NUMBER = select(DisputeRow).where(DisputeRow.number == bindparam("number"))
_OPEN_FOR_ORDER = select(DisputeRow).where(DisputeRow.active_order_key == bindparam("order_id"))


async def load_row(session: AsyncSession, number: int) -> DisputeRow:
    row = await session.scalar(_BY_NUMBER, {"number": number})
    if row is None:
        raise DisputeNotFound(dispute_ref(number))
    return row


async def open_row_for_order(session: AsyncSession, order_id: str) -> DisputeRow | None:
    return await session.scalar(_OPEN_FOR_ORDER, {"order_id": order_id})


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


_LIVE_NOTES = (
    select(ThreadNoteRow, func.count().over())
    .where(ThreadNoteRow.dispute_id == bindparam("dispute_id"), ThreadNoteRow.deleted_at.is_(None))
    .order_by(ThreadNoteRow.posted_at.desc(), ThreadNoteRow.id.desc())
    .limit(LATEST_NOTES)
)


async def live_notes(session: AsyncSession, row: DisputeRow) -> tuple[int, list[Note]]:
    """How many of the thread's notes are not deleted, and the latest of them, newest first."""
    found = (await session.execute(_LIVE_NOTES, {"dispute_id": row.id})).all()
    count = found[0][1] if found else 0
    return int(count), [to_note(note) for note, _count in found]


_UNAVAILABLE = (
    select(AuditRow.after)
    .where(AuditRow.dispute_id == bindparam("dispute_id"), AuditRow.action == UNAVAILABLE_ACTION)
    .order_by(AuditRow.seq)
)


async def load_case(session: AsyncSession, row: DisputeRow) -> CaseFile:
    """The dispute, its evidence in capture order, the checklist and unavailable sources.

    What a dispute cannot have yet is not looked for: notes before its thread (a note is a
    reply in it), an approved proposal while it is new (nothing leads back to new)."""
    failures = await session.scalars(_UNAVAILABLE, {"dispute_id": row.id})
    unavailable = [unavailable_source(after) for after in failures]
    reference = payment_reference(row)
    return _case_file(
        row,
        await _evidence(session, row),
        unavailable,
        ledger=await load_ledger(session, reference) if reference else None,
        earlier=await earlier_disputes(session, row),
        outcome=None if row.status == Status.NEW else await outcome_of(session, row),
        notes=(0, []) if row.thread_ts is None else await live_notes(session, row),
    )


async def opened_case(
    session: AsyncSession,
    row: DisputeRow,
    unavailable: list[UnavailableSource],
    ledger: PaymentLedger | None,
    filed: list[EvidenceItem],
    *,
    earlier: bool = True,
) -> CaseFile:
    """`load_case` for a dispute opened in this transaction, from what its intake holds (the
    sources it could not read, the payment's ledger, the evidence it `filed`, and whether its
    order had `earlier` disputes): it has no notes or proposals yet."""
    return _case_file(
        row,
        filed,
        unavailable,
        ledger=ledger,
        earlier=await earlier_disputes(session, row) if earlier else [],
        outcome=None,
        notes=(0, []),
    )


def unavailable_source(after: dict[str, Any]) -> UnavailableSource:
    """A source that could not be read, from its audit entry's `after`."""
    return UnavailableSource(
        source=after["source"],
        kinds=tuple(EvidenceKind(kind) for kind in after["kinds"]),
        reason=after["reason"],
    )


_EVIDENCE = (
    select(
        EvidenceRow.kind,
        EvidenceRow.source,
        EvidenceRow.summary,
        EvidenceRow.payload,
        EvidenceRow.url,
        EvidenceRow.captured_at,
        EvidenceRow.added_by,
    )
    .where(EvidenceRow.dispute_id == bindparam("dispute_id"))
    .order_by(EvidenceRow.id)
)


def filed_items(drafts: Iterable[EvidenceDraft], added_by: str, at: datetime) -> list[EvidenceItem]:
    """Evidence just filed from `drafts` (by `added_by`, at `at` unless captured before), as
    the case file reads it back."""
    return [
        EvidenceItem(
            kind=draft.kind,
            source=draft.source,
            summary=draft.summary,
            payload=dict(draft.payload),
            url=draft.url,
            captured_at=(draft.captured_at or at).astimezone(UTC),
            added_by=added_by,
        )
        for draft in drafts
    ]


async def _evidence(session: AsyncSession, row: DisputeRow) -> list[EvidenceItem]:
    found = await session.execute(_EVIDENCE, {"dispute_id": row.id})
    return [
        EvidenceItem(
            kind=EvidenceKind(item.kind),
            source=item.source,
            summary=item.summary,
            payload=dict(item.payload),
            url=item.url,
            captured_at=item.captured_at,
            added_by=item.added_by,
        )
        for item in found
    ]


def _case_file(
    row: DisputeRow,
    evidence: list[EvidenceItem],
    unavailable: list[UnavailableSource],
    *,
    ledger: PaymentLedger | None,
    earlier: list[EarlierDispute],
    outcome: Outcome | None,
    notes: tuple[int, list[Note]],
) -> CaseFile:
    present = {item.kind for item in evidence}
    dispute = to_dispute(row)
    return CaseFile(
        dispute=dispute,
        evidence=evidence,
        checklist=checklist(present, set(dispute.required_evidence)),
        # A source that failed once shows until what it would have given is on file.
        unavailable=[u for u in unavailable if not present.issuperset(u.kinds)],
        ledger=ledger,
        earlier=earlier,
        outcome=outcome,
        note_count=notes[0],
        notes=notes[1],
    )


def _refunded(dispute_id: Any) -> ScalarSelect[Any]:
    """What the dispute's succeeded refunds returned, as a scalar subquery."""
    return (
        select(func.coalesce(func.sum(RefundRequestRow.amount_minor), 0))
        .where(RefundRequestRow.dispute_id == dispute_id, RefundRequestRow.status == "succeeded")
        .scalar_subquery()
    )


_OUTCOME = (
    select(ProposalRow, _refunded(bindparam("dispute_id")))
    .where(ProposalRow.dispute_id == bindparam("dispute_id"), ProposalRow.status == "approved")
    .order_by(ProposalRow.id.desc())
    .limit(1)
)


async def outcome_of(session: AsyncSession, row: DisputeRow) -> Outcome | None:
    """The proposal approved last for the dispute, with what its refunds returned."""
    found = (await session.execute(_OUTCOME, {"dispute_id": row.id})).first()
    if found is None:
        return None
    approved, refunded = found
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


_EARLIER = (
    select(
        DisputeRow.number,
        DisputeRow.status,
        DisputeRow.currency,
        select(ProposalRow.kind)
        .where(ProposalRow.dispute_id == DisputeRow.id, ProposalRow.status == "approved")
        .order_by(ProposalRow.id.desc())
        .limit(1)
        .scalar_subquery(),
        _refunded(DisputeRow.id),
    )
    .where(DisputeRow.order_id == bindparam("order_id"), DisputeRow.id != bindparam("dispute_id"))
    .order_by(DisputeRow.number)
)


async def earlier_disputes(session: AsyncSession, row: DisputeRow) -> list[EarlierDispute]:
    """The order's other disputes, oldest first: how each ended and what it refunded."""
    found = await session.execute(_EARLIER, {"order_id": row.order_id, "dispute_id": row.id})
    return [
        EarlierDispute(
            number=number,
            status=Status(status),
            resolution=Resolution(kind) if kind else None,
            refunded_minor=int(refunded or 0),
            currency=currency,
        )
        for number, status, currency, kind, refunded in found
    ]
