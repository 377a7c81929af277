"""Filing evidence with its dispute: each piece stored once, audited in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.evidence_gathering import content_hash
from domain.evidence import EvidenceDraft
from storage.tables import DisputeRow, EvidenceRow, core

_ON_FILE = select(EvidenceRow.content_hash).where(
    EvidenceRow.dispute_id == bindparam("dispute_id"),
    EvidenceRow.content_hash.in_(bindparam("digests", expanding=True)),
)
_INSERT = insert(core(EvidenceRow))


async def file_evidence(
    session: AsyncSession,
    row: DisputeRow,
    drafts: Sequence[EvidenceDraft],
    actor: Actor,
    at: datetime,
    *,
    chain: audit.Chain | None = None,
    new_dispute: bool = False,
) -> list[EvidenceDraft]:
    """File the drafts whose content is not in the case file yet (the first of equal ones), in
    order, each with its audit entry; returns those filed.

    The entries go to `chain` when given (the caller writes it), else are written here.
    `new_dispute`: the dispute was created in this transaction, so nothing is on file yet.
    """
    digests = [content_hash(draft) for draft in drafts]
    seen: set[str] = set()
    if not new_dispute and digests:
        seen.update(await session.scalars(_ON_FILE, {"dispute_id": row.id, "digests": digests}))
    filed: list[EvidenceDraft] = []
    values: list[dict[str, Any]] = []
    entries = chain or audit.Chain(session, row)
    for draft, digest in zip(drafts, digests, strict=True):
        if digest in seen:
            continue
        seen.add(digest)
        filed.append(draft)
        values.append(
            {
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
        )
        entries.add(
            actor,
            "evidence.added",
            after={"kind": draft.kind.value, "source": draft.source, "content_hash": digest},
            at=at,
        )
    if values:
        await session.execute(_INSERT, values)
    if chain is None:
        await entries.write()
    return filed
