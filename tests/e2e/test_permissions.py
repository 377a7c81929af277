"""A workspace guest with no role, clicking and typing through the real Slack path: every step
is refused in one sentence naming the dispute, shown only to the guest, audited, and nothing
changes; what the guest may see leaves the customer out."""

from __future__ import annotations

import json
import sqlite3

import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.records import User
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.e2e.test_refunds import find_reply, propose, thread_of
from tests.support.app_process import AppProcess

GUEST = "U0GUEST"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module", autouse=True)
def guest(workspace: Workspace) -> str:
    workspace.add_user(User(GUEST, "gus", "Gus Guest", email="gus@elsewhere.example"))
    workspace.channel("C0DISPUTES").members.add(GUEST)
    return GUEST


async def refused(workspace: Workspace, seen: int) -> str:
    """The next thing shown to the guest alone."""
    shown = await eventually(lambda: workspace.ephemerals_for(GUEST)[seen:])
    return shown[0].text


def refusals(app: AppProcess) -> list[tuple[str, str]]:
    with sqlite3.connect(app.database) as db:
        rows = db.execute("SELECT action, after FROM audit_entries WHERE actor_id = ?", (GUEST,))
        return [(action, json.loads(after)["action"]) for action, after in rows]


async def test_a_guest_can_neither_review_nor_judge_nor_add_evidence(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    await slack.command("open ORD-1003 not as described", user="U0MANAGER1")
    await propose(slack, workspace, "ORD-1003", "U0MANAGER1", kind="store_credit")
    card = await eventually(lambda: find_reply(workspace, "ORD-1003", "proposal.changes"))
    await eventually(lambda: thread_of(workspace, "ORD-1003")[0].text.endswith("Proposed"))

    seen = len(workspace.ephemerals_for(GUEST))
    await slack.block_action("proposal.changes", user=GUEST, message_ts=card.ts)
    text = await refused(workspace, seen)
    assert "request changes to the proposal for D-1" in text and "manager or supervisor" in text
    assert thread_of(workspace, "ORD-1003")[0].text.endswith("Proposed")  # nothing changed

    for action in ("review.start", "evidence.add"):
        seen = len(workspace.ephemerals_for(GUEST))
        button = find_reply(workspace, "ORD-1003", action)
        await slack.block_action(action, user=GUEST, message_ts=button.ts)
        assert "D-1" in await refused(workspace, seen)
    assert workspace.top_view(GUEST) is None  # no modal was opened for the guest

    seen = len(workspace.ephemerals_for(GUEST))
    parent = thread_of(workspace, "ORD-1003")[0]
    await slack.share_file(
        "C0DISPUTES", GUEST, "receipt.png", PNG, "image/png", thread_ts=parent.ts
    )
    text = await refused(workspace, seen)
    assert "add evidence to D-1" in text
    assert workspace.ephemerals_for(GUEST)[-1].thread_ts == parent.ts  # in the thread
    with sqlite3.connect(app.database) as db:
        filed = db.execute("SELECT count(*) FROM evidence_items WHERE added_by = ?", (GUEST,))
        assert filed.fetchone() == (0,)
    assert {action for _, action in refusals(app)} >= {
        "request_changes",
        "review",
        "add_evidence",
    }


async def test_a_guest_cannot_open_and_sees_disputes_without_the_customer(
    slack: SlackDriver, workspace: Workspace
) -> None:
    seen = len(workspace.ephemerals_for(GUEST))
    await slack.command("open ORD-1004 wrong item", user=GUEST)
    refusal = await eventually(
        lambda: [e for e in workspace.ephemerals_for(GUEST)[seen:] if "cannot" in e.text]
    )
    assert "You cannot open disputes" in refusal[0].text

    seen = len(workspace.ephemerals_for(GUEST))
    await slack.command("show D-1", user=GUEST)
    shown = await eventually(lambda: workspace.ephemerals_for(GUEST)[seen:])
    assert "D-1" in shown[0].text
    customer = "Priya Raman"  # ORD-1003's customer, shown to the team
    assert customer in json.dumps(find_reply(workspace, "ORD-1003", "Evidence").blocks)
    assert customer not in json.dumps(shown[0].blocks) + shown[0].text

    await slack.event({"type": "app_home_opened", "user": GUEST, "tab": "home"})
    home = await eventually(lambda: workspace.home_views.get(GUEST))
    listed = json.dumps(home.to_slack()["blocks"])
    assert "ORD-1003" in listed and customer not in listed
