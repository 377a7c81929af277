"""Reading disputes and the small audited changes around their Slack thread."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeClosed, DisputeNotFound
from disputes.evidence_gathering import checklist
from disputes.evidence_store import file_evidence
from disputes.lifecycle import Event, Status
from disputes.models import CaseFile, Dispute, dispute_ref
from disputes.permissions import Gate
from disputes.repository import load_case, load_row, to_dispute
from disputes.thread_outbox import ThreadClaims
from disputes.transitions import transition
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.roles import PEOPLE_KINDS, Action
from storage.db import Database
from storage.tables import DisputeRow, EvidenceRow

log = logging.getLogger(__name__)
CARD_COLUMNS = {"evidence": "evidence_card_ts", "policy": "policy_card_ts"}


@dataclass(frozen=True, slots=True)
class Recorded:
    """A thread's parts recorded: the case file as it is then, whether its status moved, and
    whether the dispute changed after the intake case file the parts were rendered from (they
    are to be shown afresh)."""

    case: CaseFile
    moved: bool
    changed: bool = False


class DisputeService:
    def __init__(self, db: Database, gate: Gate | None = None) -> None:
        self.db = db
        self.gate = gate  # who may add evidence and see customers; without one, everybody

    async def case(self, number: int) -> CaseFile:
        async with self.db.reading() as session:
            return await load_case(session, await load_row(session, number))

    async def case_for(self, number: int, actor: Actor) -> CaseFile:
        """The case file as `actor` may see it: without the customer's details unless their
        role may see customers."""
        return self.as_seen_by(await self.case(number), actor)

    def as_seen_by(self, case: CaseFile, actor: Actor) -> CaseFile:
        """A case file read already, as `actor` may see it (see `case_for`)."""
        return case if self.may_see_customer(actor) else without_customer(case)

    async def open_disputes_for(self, actor: Actor, limit: int = 20) -> list[Dispute]:
        disputes = await self.open_disputes(limit)
        if self.may_see_customer(actor):
            return disputes
        return [without_customer(CaseFile(d)).dispute for d in disputes]

    def may_see_customer(self, actor: Actor) -> bool:
        """Whether `actor`'s private views may show who the customer is and how to reach them."""
        return self.gate is None or self.gate.may(Action.SEE_CUSTOMER, actor)

    async def require_customer(self, number: int, actor: Actor) -> None:
        """`NotAllowed` (audited) unless `actor` may see the customer of the dispute."""
        if self.gate is not None:
            await self.gate.require(Action.SEE_CUSTOMER, actor, number=number)

    async def evidence_kinds_for(self, number: int, actor: Actor) -> list[EvidenceKind]:
        """The kinds of evidence `actor` may add to the open dispute; `NotAllowed` (audited)
        when there are none."""
        await self.open_case(number)
        if self.gate is None:
            return list(PEOPLE_KINDS)
        kinds = [k for k in PEOPLE_KINDS if self.gate.may(Action.ADD_EVIDENCE, actor, k)]
        if not kinds:
            await self.gate.require(Action.ADD_EVIDENCE, actor, number=number, kind=PEOPLE_KINDS[0])
        return kinds

    async def check_evidence(
        self, number: int, actor: Actor, kinds: Iterable[EvidenceKind]
    ) -> CaseFile:
        """The open case file, if `actor` may add evidence of these kinds to it."""
        case = await self.open_case(number)
        if self.gate is not None:
            for kind in sorted(set(kinds)):
                await self.gate.require(Action.ADD_EVIDENCE, actor, number=number, kind=kind)
        return case

    async def open_case(self, number: int) -> CaseFile:
        """The case file of a dispute that still takes evidence, else `DisputeClosed`."""
        case = await self.case(number)
        _require_open(number, case.dispute.status)
        return case

    async def open_disputes(self, limit: int = 20) -> list[Dispute]:
        """The newest open disputes, for the App Home and queue views."""
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(DisputeRow)
                .where(DisputeRow.active_order_key.is_not(None))
                .order_by(DisputeRow.number.desc())
                .limit(limit)
            )
            return [to_dispute(row) for row in rows]

    async def in_status(self, status: Status, limit: int = 20) -> tuple[int, list[Dispute]]:
        """How many disputes are in `status`, and the longest-waiting of them."""
        async with self.db.reading() as session:
            where = DisputeRow.status == status.value
            total = await session.scalar(select(func.count()).select_from(DisputeRow).where(where))
            rows = await session.scalars(
                select(DisputeRow).where(where).order_by(DisputeRow.updated_at).limit(limit)
            )
            return int(total or 0), [to_dispute(row) for row in rows]

    async def thread_of(self, number: int) -> str | None:
        """Where the dispute's thread is (its parent's ts), if it has one yet."""
        async with self.db.reading() as session:
            return (await load_row(session, number)).thread_ts

    async def by_thread(self, channel_id: str, thread_ts: str) -> int | None:
        """The number of the dispute whose thread this is, if any."""
        async with self.db.reading() as session:
            return await session.scalar(
                select(DisputeRow.number).where(
                    DisputeRow.channel_id == channel_id, DisputeRow.thread_ts == thread_ts
                )
            )

    async def link_thread(self, number: int, channel_id: str, thread_ts: str) -> Dispute:
        """Remember where the dispute's thread is, unless it already has one (the first
        posted is its thread); the dispute as it is then (its evidence did not change)."""

        async def work(session: AsyncSession) -> Dispute:
            row = await load_row(session, number)
            chain = audit.Chain(session, row)
            _link(row, channel_id, thread_ts, chain)
            await chain.write()
            return to_dispute(row)

        return await self.db.run(work)

    async def cards_posted(
        self,
        case: CaseFile,
        cards: Mapping[str, str],
        *,
        thread: tuple[str, str] | None = None,
        claim: tuple[ThreadClaims, int] | None = None,
        seen: int | None = None,
    ) -> Recorded | None:
        """In one transaction: remember where the dispute's `thread` was posted (its channel
        and parent's ts, when just posted) and its new cards (`evidence`, `policy`), let a new
        dispute become evidence-ready once nothing required is missing (as
        `mark_evidence_ready`), and end the thread outbox's `claim` (its fence) on the thread.
        `case` is the case file the cards were rendered from; `seen`, when it was not read
        under the thread's lock, the last entry of the audit chain it shows (a later one is
        a change it misses). None, with nothing recorded, when the dispute was given another
        thread meanwhile (the parts posted in `thread` are left out). When the claim was lost
        (its lease lapsed and another took the thread over), nothing is recorded either: the
        claim's new holder finds the parts posted here in Slack and records them."""
        number = case.dispute.number

        async def work(session: AsyncSession) -> Recorded | None:
            found = (await session.execute(_ROW_AND_LAST_ENTRY, {"number": number})).first()
            if found is None:
                raise DisputeNotFound(dispute_ref(number))
            row, last_seq, last_hash = found
            if thread is not None and _elsewhere(row, thread[1]):
                return None
            if claim is not None:  # first: every write below is fenced by the claim
                claims, fence = claim
                if not await claims.posted_in(session, number, fence):
                    return Recorded(await load_case(session, row), moved=False)
            # Every change below, then the audit entries: the row is written once.
            chain = audit.Chain(session, row, last=(last_seq, last_hash))
            changed = seen is not None and await chain.last_seq() != seen
            if seen is not None and not changed:  # evidence filed since would be audited
                kinds = [item.kind for item in case.evidence]
            else:
                kinds = [EvidenceKind(k) for k in await session.scalars(_KINDS, {"id": row.id})]
            if thread is not None:
                _link(row, *thread, chain)
            for card, ts in cards.items():
                setattr(row, CARD_COLUMNS[card], ts)
            required = {EvidenceKind(kind) for kind in row.required_evidence}
            moved = row.status == Status.NEW and required <= set(kinds)
            if moved:
                ready, system = Event.EVIDENCE_COMPLETED, Actor.system("evidence")
                await transition(session, row, ready, system, chain=chain)
            await chain.write()
            await session.flush()  # when nothing was audited
            if changed or kinds != [item.kind for item in case.evidence]:  # evidence came
                # Evidence filed while the thread was posted from a read under its lock is
                # shown by the refresh its filer asked for, which waits for that lock.
                return Recorded(await load_case(session, row), moved, changed=changed)
            dispute = to_dispute(row)
            shown = checklist(kinds, set(dispute.required_evidence))
            return Recorded(replace(case, dispute=dispute, checklist=shown), moved)

        return await self.db.run(work)

    async def add_evidence(self, number: int, draft: EvidenceDraft, actor: Actor) -> bool:
        """File new evidence for an open dispute; False when it was already in the case file."""
        return await self.add_evidence_items(number, [draft], actor) == 1

    async def add_evidence_items(
        self, number: int, drafts: Sequence[EvidenceDraft], actor: Actor
    ) -> int:
        """File several pieces of evidence in one transaction (all or none); returns how many
        were new to the case file."""
        await self.check_evidence(number, actor, (draft.kind for draft in drafts))

        async def work(session: AsyncSession) -> int:
            row = await load_row(session, number)
            _require_open(number, Status(row.status))
            now = datetime.now(UTC)
            return len(await file_evidence(session, row, drafts, actor, now))

        return await self.db.run(work)

    async def mark_evidence_ready(self, number: int) -> CaseFile:
        """Move a new dispute to evidence_ready once nothing required is missing."""

        async def work(session: AsyncSession) -> CaseFile:
            row = await load_row(session, number)
            case = await load_case(session, row)
            if row.status == Status.NEW and not case.missing_required:
                await transition(session, row, Event.EVIDENCE_COMPLETED, Actor.system("evidence"))
                # Only the dispute itself moved: its evidence, money and notes are as just read.
                case = replace(case, dispute=to_dispute(row))
            return case

        return await self.db.run(work)

    async def verify_audit(self, number: int | None = None) -> list[audit.ChainProblem]:
        async with self.db.reading() as session:
            if number is not None:
                await load_row(session, number)
            return await audit.verify(session, number)


# A dispute's row by its number, with the last entry of its audit chain.
_ROW_AND_LAST_ENTRY = select(DisputeRow, audit.LAST_SEQ, audit.LAST_HASH).where(
    DisputeRow.number == bindparam("number")
)


# The kinds of a dispute's evidence, in the order it was filed.
_KINDS = (
    select(EvidenceRow.kind)
    .where(EvidenceRow.dispute_id == bindparam("id"))
    .order_by(EvidenceRow.id)
)


def _link(row: DisputeRow, channel_id: str, thread_ts: str, chain: audit.Chain) -> None:
    """Link the dispute to its thread (audited in `chain`), unless it has one already (the
    first linked is kept, another left out and logged)."""
    if row.thread_ts is not None:
        _elsewhere(row, thread_ts)
        return
    row.channel_id, row.thread_ts = channel_id, thread_ts
    after = {"channel": channel_id, "thread_ts": thread_ts}
    chain.add(Actor.system("slack"), "thread.linked", after=after)


def _elsewhere(row: DisputeRow, thread_ts: str) -> bool:
    """Whether the dispute's thread is another than `thread_ts` (which is then left out)."""
    if row.thread_ts is None or row.thread_ts == thread_ts:
        return False
    log.error(
        "D-%d already has its thread at %s: the parent posted at %s is left out",
        row.number,
        row.thread_ts,
        thread_ts,
    )
    return True


def without_customer(case: CaseFile) -> CaseFile:
    """The case file without who the customer is (name, email, id)."""
    dispute = replace(case.dispute, customer_name=None, customer_email=None, customer_id=None)
    return replace(case, dispute=dispute)


def _require_open(number: int, status: Status) -> None:
    if not status.is_open:
        raise DisputeClosed(number, status.value)
