"""Reading disputes and the small audited changes around their Slack thread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.evidence import EvidenceDraft
from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeClosed
from disputes.evidence_store import store_evidence
from disputes.lifecycle import Event, Status
from disputes.models import CaseFile, Dispute
from disputes.records import load_case, load_row, to_dispute
from disputes.transitions import transition
from storage.db import Database
from storage.tables import DisputeRow

CARD_COLUMNS = {"evidence": "evidence_card_ts", "policy": "policy_card_ts"}


class DisputeService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def case(self, number: int) -> CaseFile:
        async with self.db.reading() as session:
            return await load_case(session, await load_row(session, number))

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

    async def by_thread(self, channel_id: str, thread_ts: str) -> int | None:
        """The number of the dispute whose thread this is, if any."""
        async with self.db.reading() as session:
            return await session.scalar(
                select(DisputeRow.number).where(
                    DisputeRow.channel_id == channel_id, DisputeRow.thread_ts == thread_ts
                )
            )

    async def link_thread(self, number: int, channel_id: str, thread_ts: str) -> CaseFile:
        async def work(session: AsyncSession) -> CaseFile:
            row = await load_row(session, number)
            row.channel_id, row.thread_ts = channel_id, thread_ts
            await audit.append(
                session,
                row,
                Actor.system("slack"),
                "thread.linked",
                after={"channel": channel_id, "thread_ts": thread_ts},
            )
            return await load_case(session, row)

        return await self.db.run(work)

    async def record_card(self, number: int, card: str, ts: str) -> None:
        """Remember where a card of the thread was posted (`evidence` or `policy`)."""

        async def work(session: AsyncSession) -> None:
            row = await load_row(session, number)
            setattr(row, CARD_COLUMNS[card], ts)

        await self.db.run(work)

    async def add_evidence(self, number: int, draft: EvidenceDraft, actor: Actor) -> bool:
        """File new evidence for an open dispute; False when it was already in the case file."""
        return await self.add_evidence_items(number, [draft], actor) == 1

    async def add_evidence_items(
        self, number: int, drafts: Sequence[EvidenceDraft], actor: Actor
    ) -> int:
        """File several pieces of evidence in one transaction (all or none); returns how many
        were new to the case file."""

        async def work(session: AsyncSession) -> int:
            row = await load_row(session, number)
            _require_open(number, Status(row.status))
            now = datetime.now(UTC)
            return sum([await store_evidence(session, row, d, actor, now) for d in drafts])

        return await self.db.run(work)

    async def mark_evidence_ready(self, number: int) -> CaseFile:
        """Move a new dispute to evidence_ready once nothing required is missing."""

        async def work(session: AsyncSession) -> CaseFile:
            row = await load_row(session, number)
            case = await load_case(session, row)
            if row.status == Status.NEW and not case.missing_required:
                await transition(session, row, Event.EVIDENCE_COMPLETED, Actor.system("evidence"))
                case = await load_case(session, row)
            return case

        return await self.db.run(work)

    async def verify_audit(self, number: int | None = None) -> list[audit.ChainProblem]:
        async with self.db.reading() as session:
            if number is not None:
                await load_row(session, number)
            return await audit.verify(session, number)


def _require_open(number: int, status: Status) -> None:
    if not status.is_open:
        raise DisputeClosed(number, status.value)
