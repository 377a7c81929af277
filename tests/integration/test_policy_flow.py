"""Policy decisions stored with the dispute, under the pack they were made with."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, text

from blocks.policy import policy_card
from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.errors import NotAllowed
from disputes.intake import IntakeService, OpenRequest
from disputes.models import CaseFile
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.policy_reasons import ReasonNotSwitchable
from disputes.roles import CurrentRoles
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.reasons import Reason
from policies.current import CurrentPack
from policies.engine import Decision
from sandbox.slack.blockkit import validate_message
from storage.db import Database
from storage.tables import AuditRow, DisputeRow, PolicyDecisionRow
from tests.support.orders import StaticOrders, order

MANAGER = Actor.slack_user("U0MANAGER1")
PHOTO = EvidenceDraft(
    EvidenceKind.PROOF_OF_DAMAGE,
    "manager",
    "photo of the crushed box",
    {"photos": ["https://returns.example.com/x.jpg"]},
)


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(default_policy_pack().parent, folder)
    return folder / "default.yml"


async def open_dispute(db: Database, current: CurrentPack, **changes: object) -> None:
    source = StaticOrders(order(**changes))
    intake = IntakeService(db, source, default_evidence_sources(), policy=current)
    await intake.open(OpenRequest("ORD-T1", None, "box crushed", MANAGER))


async def decisions(db: Database) -> list[PolicyDecisionRow]:
    async with db.reading() as session:
        return list(await session.scalars(select(PolicyDecisionRow).order_by(PolicyDecisionRow.id)))


def bump(pack_file: Path, version: str, extra: str = "") -> None:
    text = pack_file.read_text().replace('version: "2026.11"', f'version: "{version}"', 1)
    pack_file.write_text(text + extra)
    stat = pack_file.stat()
    os.utime(pack_file, (stat.st_atime, stat.st_mtime + 5))


async def test_intake_stores_the_decision_with_pack_name_version_hash_and_citations(
    db: Database, pack_file: Path
) -> None:
    current = CurrentPack(pack_file)
    await open_dispute(db, current)
    (stored,) = await decisions(db)
    assert (stored.pack_name, stored.pack_version) == ("default", "2026.11")
    assert stored.pack_hash == current.pack.content_hash
    citations = [rule["citation"] for rule in stored.decision["matched"]]
    assert "Returns Policy §5.1" in citations  # damage reported within 48 hours
    async with db.reading() as session:
        audit = await session.scalar(select(AuditRow).where(AuditRow.action == "policy.decided"))
    assert audit is not None and audit.after["citations"] == citations
    assert audit.after["pack_hash"] == stored.pack_hash
    assert await DisputeService(db).verify_audit() == []


async def test_a_decision_is_serialized_once_the_text_stored_is_the_text_hashed(
    db: Database, pack_file: Path
) -> None:
    """The decision's canonical JSON is both hashed and stored, not written out twice."""
    current = CurrentPack(pack_file)
    no_photos = {**order().to_wire()["condition_report"], "photos": []}
    await open_dispute(db, current, condition_report=no_photos)
    await DisputeService(db).add_evidence(1, PHOTO, MANAGER)
    await PolicyService(db, current).refresh(1)  # decided again, by `decide`
    async with db.reading() as session:
        found = (
            await session.execute(
                text("SELECT CAST(decision AS TEXT), decision_hash FROM policy_decisions")
            )
        ).all()
    assert len(found) == 2
    for stored_text, digest in found:
        assert hashlib.sha256(stored_text.encode()).hexdigest() == digest
    (first, second) = await decisions(db)
    assert first.decision["matched"] and second.decision["matched"]  # read back as JSON


async def test_policy_requirements_join_the_checklist(db: Database, pack_file: Path) -> None:
    current = CurrentPack(pack_file)
    await open_dispute(db, current)
    case = await DisputeService(db).case(1)
    latest = await PolicyService(db, current).latest(1)
    assert latest is not None
    assert set(latest.required_evidence) <= set(case.dispute.required_evidence)


async def test_a_new_pack_adds_a_decision_and_never_rewrites_the_old_one(
    db: Database, pack_file: Path
) -> None:
    current = CurrentPack(pack_file)
    await open_dispute(db, current)
    service = PolicyService(db, current)
    (first,) = await decisions(db)
    await service.refresh(1)  # nothing changed: nothing new stored
    assert len(await decisions(db)) == 1

    bump(pack_file, "2026.12")
    _case, decision = await service.refresh(1)
    assert decision is not None and decision.pack_version == "2026.12"
    old, new = await decisions(db)
    assert (old.id, old.pack_version, old.decision) == (first.id, "2026.11", first.decision)
    assert new.pack_version == "2026.12" and new.pack_hash != old.pack_hash
    shown = await service.latest(1)
    assert shown is not None and shown.pack_version == "2026.12"


async def test_an_edit_that_fails_lint_is_never_swapped_in(db: Database, pack_file: Path) -> None:
    current = CurrentPack(pack_file)
    in_force = current.pack.content_hash
    bump(pack_file, "2026.13", extra="\n  - id: broken\n    title: 7\n")
    assert current.refresh().content_hash == in_force
    await open_dispute(db, current)
    (stored,) = await decisions(db)
    assert stored.pack_version == "2026.11"


async def test_new_evidence_changes_the_decision_and_the_missing_list(
    db: Database, pack_file: Path
) -> None:
    current = CurrentPack(pack_file)
    no_photos = order(condition_report={**order().to_wire()["condition_report"], "photos": []})
    await open_dispute(db, current, condition_report=no_photos.to_wire()["condition_report"])
    service = PolicyService(db, current)
    before = await service.latest(1)
    assert before is not None and EvidenceKind.PROOF_OF_DAMAGE in before.missing_evidence

    photo = EvidenceDraft(
        EvidenceKind.PROOF_OF_DAMAGE,
        "manager",
        "photo of the crushed box",
        {"photos": ["https://returns.example.com/x.jpg"]},
    )
    assert await DisputeService(db).add_evidence(1, photo, MANAGER)
    assert not await DisputeService(db).add_evidence(1, photo, MANAGER)  # filed once
    _case, after = await service.refresh(1)
    assert after is not None and EvidenceKind.PROOF_OF_DAMAGE not in after.missing_evidence
    assert len(await decisions(db)) == 2


async def test_disputes_without_an_order_snapshot_get_no_decision(
    db: Database, pack_file: Path
) -> None:
    current = CurrentPack(pack_file)
    await open_dispute(db, current)
    async with db.transaction() as session:
        row = await session.scalar(select(DisputeRow))
        assert row is not None
        row.order_snapshot = None
    _case, decision = await PolicyService(db, current).refresh(1)
    assert decision is None


# ------------------------------------------------------------- the reason typed vs the return's

ROLES = """
roles:
  supervisor: {users: [U0SUP], approval_limit: null}
  manager: {users: [U0MANAGER1], approval_limit: "200.00"}
  agent: {users: [U0AGE], approval_limit: "0"}
two_person_rule_above: null
permissions:
  review: manager
"""


async def open_typed(db: Database, current: CurrentPack, reason: Reason) -> None:
    source = StaticOrders(order())  # its return request says DAMAGED
    intake = IntakeService(db, source, default_evidence_sources(), policy=current)
    await intake.open(OpenRequest("ORD-T1", reason, "it stopped working", MANAGER))


def gate_of(db: Database, tmp_path: Path) -> Gate:
    roles_file = tmp_path / "roles.yml"
    roles_file.write_text(ROLES)
    return Gate(db, CurrentRoles(roles_file))


def card_text(case: CaseFile, decision: Decision) -> str:
    return json.dumps(policy_card(case, decision).blocks, ensure_ascii=False)


async def test_a_typed_reason_that_differs_shows_both_and_switching_decides_again(
    db: Database, pack_file: Path, tmp_path: Path
) -> None:
    current = CurrentPack(pack_file)
    await open_typed(db, current, Reason.DEFECTIVE)
    service = PolicyService(db, current)
    before = await service.latest(1)
    assert before is not None and before.facts["reason"] == "DEFECTIVE"
    case = await DisputeService(db).case(1)
    text = card_text(case, before)
    assert "opened as *Defective*" in text and "return request says *Damaged*" in text
    assert "The policy used *Defective*" in text and "Use Damaged" in text
    assert validate_message("x", policy_card(case, before).blocks) == []

    gate = gate_of(db, tmp_path)
    with pytest.raises(NotAllowed):
        await service.switch_reason(1, Reason.DAMAGED, Actor.slack_user("U0AGE"), gate)
    case, after = await service.switch_reason(1, Reason.DAMAGED, MANAGER, gate)
    assert case.dispute.reason is Reason.DAMAGED
    assert after.facts["reason"] == "DAMAGED" and after.matched[0].id == "damage-reported-48h"
    assert len(await decisions(db)) == 2  # a new stored decision; the first one kept
    shown = await service.latest(1)
    assert shown is not None and shown.facts["reason"] == "DAMAGED"
    text = card_text(case, shown)
    assert "The policy used *Damaged* (the return request" in text and "Use Defective" in text

    async with db.reading() as session:
        entries = list(await session.scalars(select(AuditRow).order_by(AuditRow.id)))
    switched = [e for e in entries if e.action == "policy.reason_switched"]
    assert [(e.actor_id, e.before, e.after) for e in switched] == [
        ("U0MANAGER1", {"reason": "DEFECTIVE"}, {"reason": "DAMAGED"})
    ]
    assert "permission.refused" in [e.action for e in entries]
    assert await DisputeService(db).verify_audit() == []

    with pytest.raises(ReasonNotSwitchable, match="already"):
        await service.switch_reason(1, Reason.DAMAGED, MANAGER, gate)
    with pytest.raises(ReasonNotSwitchable):
        await service.switch_reason(1, Reason.UNWANTED, MANAGER, gate)
    _case, back = await service.switch_reason(1, Reason.DEFECTIVE, MANAGER, gate)
    assert back.facts["reason"] == "DEFECTIVE"


async def test_the_same_reason_shows_no_choice(db: Database, pack_file: Path) -> None:
    current = CurrentPack(pack_file)
    await open_typed(db, current, Reason.DAMAGED)
    decision = await PolicyService(db, current).latest(1)
    assert decision is not None
    case = await DisputeService(db).case(1)
    assert "Reasons differ" not in card_text(case, decision)
    with pytest.raises(ReasonNotSwitchable):
        await PolicyService(db, current).switch_reason(1, Reason.DEFECTIVE, MANAGER, None)
