"""New evidence updates the thread's cards in place: nothing is posted twice."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event

from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Status
from disputes.policy_decisions import PolicyService
from domain.evidence import EvidenceDraft, EvidenceKind
from handlers.threads import ThreadPublisher
from policies.current import CurrentPack
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from storage.db import Database
from tests.support.orders import StaticOrders, order


async def test_new_evidence_updates_both_cards_and_the_parent(db: Database, tmp_path: Path) -> None:
    shutil.copytree(default_policy_pack().parent, tmp_path / "packs")
    current = CurrentPack(tmp_path / "packs" / "default.yml")
    workspace = Workspace.default()
    async with EmulatorServer(workspace) as emulator:
        client = AsyncWebClient(token=workspace.bot_token, base_url=emulator.api_url)
        await client.conversations_join(channel="C0DISPUTES")
        disputes, policy = DisputeService(db), PolicyService(db, current)
        threads = ThreadPublisher(client, "C0DISPUTES", disputes, policy)
        report = {**order().to_wire()["condition_report"], "photos": []}
        intake = IntakeService(
            db,
            StaticOrders(order(condition_report=report)),
            default_evidence_sources(),
            policy=current,
        )
        result = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))

        case = await threads.publish(result.case)
        assert case.dispute.status == Status.NEW  # photos are required and missing
        (parent, evidence, policy_card) = workspace.thread("C0DISPUTES", case.dispute.thread_ts)
        assert "Photos — *required, missing*" in json.dumps(evidence.blocks, ensure_ascii=False)

        photo = EvidenceDraft(
            EvidenceKind.PROOF_OF_DAMAGE,
            "manager",
            "box photo",
            {"photos": ["https://returns.example.com/p.jpg"]},
            url="https://returns.example.com/p.jpg",
        )
        await disputes.add_evidence(1, photo, Actor.slack_user("U0MANAGER1"))
        case = await threads.refresh(1)

        thread = workspace.thread("C0DISPUTES", case.dispute.thread_ts)
        assert [m.ts for m in thread] == [parent.ts, evidence.ts, policy_card.ts]
        assert evidence.edited is not None and policy_card.edited is not None
        assert "required, missing" not in json.dumps(evidence.blocks)
        assert case.dispute.status == Status.EVIDENCE_READY
        assert "Evidence ready" in parent.text and parent.edited is not None
        assert len(workspace.calls_to("chat.postMessage")) == 3


async def test_changes_at_the_same_moment_post_once_and_leave_the_thread_current(
    db: Database,
) -> None:
    workspace = Workspace.default()
    async with EmulatorServer(workspace) as emulator:
        client = AsyncWebClient(token=workspace.bot_token, base_url=emulator.api_url)
        await client.conversations_join(channel="C0DISPUTES")
        current = CurrentPack(default_policy_pack())
        disputes, policy = DisputeService(db), PolicyService(db, current)
        threads = ThreadPublisher(client, "C0DISPUTES", disputes, policy)
        intake = IntakeService(
            db, StaticOrders(order()), default_evidence_sources(), policy=current
        )
        result = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))

        # `open` and `show` both publishing a new dispute's thread: one parent, one set of cards.
        await asyncio.gather(threads.publish(result.case), threads.publish(result.case))
        (parent,) = workspace.history("C0DISPUTES")
        assert len(workspace.thread("C0DISPUTES", parent.ts)) == 3

        # Two files dropped at once, each job refreshing the cards: the card ends with both.
        async def drop(name: str) -> None:
            draft = EvidenceDraft(EvidenceKind.ATTACHMENT, "slack:U0MANAGER1", name, {"n": name})
            await disputes.add_evidence(1, draft, Actor.slack_user("U0MANAGER1"))
            await threads.refresh(1)

        await asyncio.gather(*(drop(f"file-{n}.pdf") for n in range(4)))
        card = workspace.thread("C0DISPUTES", parent.ts)[1]
        shown = json.dumps(card.blocks)
        assert all(f"file-{n}.pdf" in shown for n in range(4))
        assert threads.locks.local.idle()
        await eventually(lambda: not threads.updates.pending(), 2)  # nothing left behind


async def test_posting_a_new_thread_takes_a_bounded_number_of_transactions(db: Database) -> None:
    """The thread of a new dispute (parent, evidence card, policy card, the move to evidence
    ready): the claim, one read of the case with its decision, the parent's link, the evidence
    card, and the policy card with the move and the claim's end. Counted on both engines."""
    workspace = Workspace.default()
    async with EmulatorServer(workspace) as emulator:
        client = AsyncWebClient(token=workspace.bot_token, base_url=emulator.api_url)
        await client.conversations_join(channel="C0DISPUTES")
        current = CurrentPack(default_policy_pack())
        disputes, policy = DisputeService(db), PolicyService(db, current)
        threads = ThreadPublisher(client, "C0DISPUTES", disputes, policy)
        intake = IntakeService(
            db, StaticOrders(order()), default_evidence_sources(), policy=current
        )
        result = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))
        statements: list[str] = []
        transactions: list[object] = []

        def count_statement(*args: object) -> None:
            statements.append(str(args[2]))

        def count_transaction(connection: object) -> None:
            transactions.append(connection)

        engines = [engine.sync_engine for engine in db.engines]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count_statement)
            event.listen(engine, "begin", count_transaction)
        try:
            case = await threads.publish(result.case)
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count_statement)
                event.remove(engine, "begin", count_transaction)

        (parent,) = workspace.history("C0DISPUTES")
        assert len(workspace.thread("C0DISPUTES", parent.ts)) == 3
        assert "Evidence ready" in parent.text and parent.edited is not None
        assert case.dispute.status == Status.EVIDENCE_READY
        assert case.dispute.thread_ts == parent.ts
        assert case.dispute.evidence_card_ts and case.dispute.policy_card_ts
        assert case == await disputes.case(1)  # the case returned is the case stored
        assert await threads.claims.due_count() == 0
        assert await disputes.verify_audit() == []
        assert len(transactions) <= TRANSACTIONS_PER_THREAD, statements
        assert len(statements) <= STATEMENTS_PER_THREAD, statements


# The claim; the case and its decision (a read); the parent's link; the evidence card, recorded
# before the next post so that a crash never posts it twice; the policy card with the move to
# evidence-ready and the claim's end.
TRANSACTIONS_PER_THREAD = 5
# SQLite: BEGIN and the claim; BEGIN and the case file's 7 reads (the row with its decision);
# BEGIN IMMEDIATE, the row, its update and the audit entry (its chain's tail, the insert); BEGIN
# and the evidence card's update; BEGIN, the row, its evidence kinds, its update, the audit entry
# and the claim's end. PostgreSQL has no BEGIN statements: five fewer.
STATEMENTS_PER_THREAD = 24
