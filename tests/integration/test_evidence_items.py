"""Several pieces of evidence filed at once: all or none, each at most once, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import default_policy_pack
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.errors import DisputeClosed
from disputes.lifecycle import Status
from domain.evidence import EvidenceDraft, EvidenceKind
from policies.current import CurrentPack
from storage.db import Database
from storage.tables import AuditRow, DisputeRow, EvidenceRow
from tests.integration.test_policy_flow import open_dispute

MANAGER = Actor.slack_user("U0MANAGER1")


def photo(name: str, **extra: object) -> EvidenceDraft:
    return EvidenceDraft(
        EvidenceKind.PROOF_OF_DAMAGE,
        "slack:U0MANAGER1",
        f"{name} shared by <@U0MANAGER1>",
        {"name": name, **extra},
        url=f"https://files.example/{name}",
    )


async def counts(db: Database) -> tuple[int, int]:
    async with db.reading() as session:
        items = await session.scalar(
            select(func.count()).select_from(EvidenceRow).where(EvidenceRow.source.like("slack:%"))
        )
        audited = await session.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.action == "evidence.added")
        )
    return int(items or 0), int(audited or 0)


async def test_a_batch_is_filed_in_one_transaction(db: Database) -> None:
    await open_dispute(db, CurrentPack(default_policy_pack()))
    service = DisputeService(db)
    _, audited_at_intake = await counts(db)

    # The second draft cannot be stored: nothing of the batch is.
    with pytest.raises(TypeError):
        await service.add_evidence_items(1, [photo("a.jpg"), photo("b.jpg", bad=object())], MANAGER)
    assert await counts(db) == (0, audited_at_intake)

    # The same file twice in one batch, and again later, is filed once.
    batch = [photo("a.jpg"), photo("a.jpg"), photo("c.png")]
    assert await service.add_evidence_items(1, batch, MANAGER) == 2
    assert await service.add_evidence_items(1, [photo("a.jpg")], MANAGER) == 0
    assert await counts(db) == (2, audited_at_intake + 2)
    assert await service.verify_audit(1) == []


async def test_a_closed_case_file_takes_no_more_evidence(db: Database) -> None:
    await open_dispute(db, CurrentPack(default_policy_pack()))

    async def resolve(session: AsyncSession) -> None:
        await session.execute(update(DisputeRow).values(status=Status.RESOLVED.value))

    await db.run(resolve)
    with pytest.raises(DisputeClosed, match="D-1 is resolved: its case file is closed"):
        await DisputeService(db).add_evidence(1, photo("late.jpg"), MANAGER)
    assert (await counts(db))[0] == 0
