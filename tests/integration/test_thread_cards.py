"""New evidence updates the thread's cards in place: nothing is posted twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import default_policy_pack
from connectors.evidence import EvidenceDraft, EvidenceKind
from connectors.orders.evidence import default_evidence_sources
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Status
from disputes.policy import PolicyService
from disputes.service import DisputeService
from handlers.threads import ThreadPublisher
from policies.current import CurrentPack
from sandbox.server import EmulatorServer
from sandbox.workspace import Workspace
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
