"""A new dispute's thread posted by the request that opened it, from the case file and decision
intake wrote (no read of the dispute back under the thread's lock): the same thread a read would
post, and a change made between intake and posting shown once the thread is recorded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from blocks.disputes import evidence_card, parent_message
from blocks.policy import policy_card
from disputes.audit import Actor
from disputes.intake import IntakeResult
from disputes.notes import NoteService
from domain.evidence import EvidenceDraft, EvidenceKind
from sandbox.slack.server import EmulatorServer
from storage.db import Database
from tests.support.statements import statements_of
from tests.support.threads import CHANNEL, Replica, open_claimed, replica


async def opened(db: Database, app: Replica) -> IntakeResult:
    result = await open_claimed(db, app.threads.claims)
    assert result.thread is not None
    return result


def blocks(params: dict[str, Any]) -> Any:
    sent = params["blocks"]
    return json.loads(sent) if isinstance(sent, str) else sent


async def test_the_thread_posted_from_intakes_case_is_the_one_a_read_would_post(
    db: Database, emulator: EmulatorServer
) -> None:
    app = replica(db, emulator)
    try:
        result = await opened(db, app)
        number = result.case.dispute.number
        read, decision = await app.threads.policy.case_with_latest(number)
        assert decision is not None
        with statements_of(db) as statements:
            case = await app.threads.publish(result.case, new=result.thread)
    finally:
        await app.aclose()
    # Nothing of the case file was read back: no sources that failed, no ledger, no others;
    # nor the evidence, nor the audit chain's last entry on its own (it comes with the row).
    read_back = ("audit_entries.after", "refund_ledger", "FROM evidence_items")
    assert not [s for s in statements if any(part in s for part in read_back)]
    assert not [s for s in statements if s.startswith("SELECT audit_entries.seq")]
    parent, evidence, policy = emulator.workspace.calls_to("chat.postMessage")
    thread = replace(read.dispute, channel_id=CHANNEL, thread_ts=case.dispute.thread_ts)
    shown = replace(read, dispute=thread)
    assert blocks(parent) == parent_message(read.dispute).blocks
    assert blocks(evidence) == evidence_card(shown).blocks
    assert blocks(policy) == policy_card(shown, decision).blocks
    assert emulator.workspace.calls_to("chat.update") != []  # the parent, once evidence-ready


async def test_a_change_between_intake_and_posting_is_shown_once_the_thread_is_recorded(
    db: Database, emulator: EmulatorServer
) -> None:
    app = replica(db, emulator)
    try:
        result = await opened(db, app)
        number = result.case.dispute.number
        # Written after intake, before its request posts the thread: audited, and nowhere in
        # the case file the thread is posted from.
        note = await NoteService(db).file(
            number, CHANNEL, "1700000001.000200", "U0AGENT1", "called", datetime.now(UTC)
        )
        assert note == number
        case = await app.threads.publish(result.case, new=result.thread)
    finally:
        await app.aclose()
    assert case.note_count == 1
    card = emulator.workspace.thread(CHANNEL, str(case.dispute.thread_ts))[1]
    assert "Notes: 1" in json.dumps(card.blocks)


async def test_evidence_filed_while_an_update_posts_the_thread_is_shown_and_nothing_waits(
    db: Database, emulator: EmulatorServer
) -> None:
    """A card update of a dispute without its thread posts the thread, from a read under the
    lock. Evidence filed meanwhile is shown by the update its filer asks for, which runs once
    this one is done: this one must not wait for it."""
    app = replica(db, emulator)
    try:
        number = (await open_claimed(db)).case.dispute.number
        emulator.workspace.arm_late_answer("chat.postMessage", seconds=1, after=1)
        updating = asyncio.create_task(app.threads.refresh(number))
        await asyncio.sleep(0.5)  # the parent is posted, the evidence card on its way
        photo = EvidenceDraft(EvidenceKind.PROOF_OF_DAMAGE, "slack:U0AGENT1", "dent.jpg")
        assert await app.threads.disputes.add_evidence(number, photo, Actor.slack_user("U0AGENT1"))
        filer = asyncio.create_task(app.threads.refresh(number))
        await asyncio.wait_for(asyncio.gather(updating, filer), timeout=10)
    finally:
        await app.aclose()
    case = await app.threads.disputes.case(number)
    card = emulator.workspace.thread(CHANNEL, str(case.dispute.thread_ts))[1]
    assert "dent.jpg" in json.dumps(card.blocks)
