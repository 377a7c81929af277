"""Filing a piece of evidence with its dispute: stored once, audited in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.evidence_gathering import content_hash
from domain.evidence import EvidenceDraft
from storage.tables import DisputeRow, EvidenceRow


async def store_evidence(
    session: AsyncSession, row: DisputeRow, draft: EvidenceDraft, actor: Actor, at: datetime
) -> bool:
    """File `draft` unless the same content is already in the case file; True when filed."""
    digest = content_hash(draft)
    duplicate = await session.scalar(
        select(EvidenceRow.id).where(
            EvidenceRow.dispute_id == row.id, EvidenceRow.content_hash == digest
        )
    )
    if duplicate is not None:
        return False
    session.add(
        EvidenceRow(
            dispute_id=row.id,
            kind=draft.kind.value,
            source=draft.source,
            captured_at=draft.captured_at or at,
            summary=draft.summary,
            payload=draft.payload,
            url=draft.url,
            content_hash=digest,
            added_by=actor.id,
        )
    )
    await audit.append(
        session,
        row,
        actor,
        "evidence.added",
        after={"kind": draft.kind.value, "source": draft.source, "content_hash": digest},
        at=at,
    )
    return True
