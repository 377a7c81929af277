"""Queues through the real app: `/dispute queue` lists an agent's disputes with their clock and
a link to the thread, the team's queue is refused to an agent and shown to the supervisor,
each person's App Home is their own, is published again when a dispute of theirs changes, and
Take on it makes the person the owner."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.demo_world import thread_of
from sandbox.slack.blockkit import validate_message, validate_view
from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess

AGENT, SUPERVISOR, MANAGER, MANAGER2 = "U0AGENT", "U0SUPER", "U0MANAGER1", "U0MANAGER2"


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def owner_line(workspace: Workspace, order_id: str) -> str:
    return shown(thread_of(workspace, order_id)[0].blocks)


def breached(app: AppProcess, number: int, minutes: int) -> None:
    """The dispute's in-review clock, breached `minutes` ago (as the clock would store it)."""
    due = (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(app.database) as db:
        db.execute(
            "UPDATE disputes SET sla_stage = 'in_review', sla_due_at = ?, sla_level = 'breached' "
            "WHERE number = ?",
            (due, number),
        )


async def answer(slack: SlackDriver, workspace: Workspace, text: str, user: str) -> Any:
    """The ephemeral answer `user` gets to `/dispute <text>`."""
    seen = len(workspace.ephemerals_for(user))
    await slack.command(text, user=user)
    return (await eventually(lambda: workspace.ephemerals_for(user)[seen:]))[0]


def homes(workspace: Workspace, user: str) -> list[dict[str, Any]]:
    """Every view the app published as `user`'s Home, oldest first."""
    return [c["view"] for c in workspace.calls_to("views.publish") if c["user_id"] == user]


def home_view_of(workspace: Workspace, user: str) -> dict[str, Any]:
    return workspace.home_views[user].view


async def open_home(slack: SlackDriver, workspace: Workspace, user: str) -> dict[str, Any]:
    before = len(homes(workspace, user))
    await slack.event({"type": "app_home_opened", "user": user, "tab": "home"})
    await eventually(lambda: len(homes(workspace, user)) > before)
    return home_view_of(workspace, user)


async def test_my_queue_and_the_team_queue(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    await slack.command("open ORD-1001 damaged the box was crushed", user=MANAGER)
    await eventually(lambda: thread_of(workspace, "ORD-1001"))
    await slack.command(f"assign D-1 <@{AGENT}>", user=MANAGER)
    await eventually(lambda: f"Owner: <@{AGENT}>" in owner_line(workspace, "ORD-1001"))
    breached(app, 1, 35)

    mine = await answer(slack, workspace, "queue", AGENT)
    assert validate_message(mine.text, mine.blocks) == []
    listed = shown(mine.blocks)
    assert "My queue (1)" in listed and "D-1 · ORD-1001 · Damaged" in listed
    assert f"Owner <@{AGENT}>" in listed and "Priority *normal*" in listed
    assert "In review: breached 35m ago" in listed or "In review: breached 36m ago" in listed
    parent = thread_of(workspace, "ORD-1001")[0]
    assert f"/archives/C0DISPUTES/p{parent.ts.replace('.', '')}|" in listed

    refused = await answer(slack, workspace, "queue team", AGENT)
    assert "The team's queue is for managers and supervisors" in refused.text
    bad = (await slack.command("queue everything", user=AGENT)).json()
    assert bad["response_type"] == "ephemeral"
    assert "`everything` is not a queue" in bad["text"] and "`stuck`, `team`" in bad["text"]

    team = await answer(slack, workspace, "queue team", SUPERVISOR)
    assert validate_message(team.text, team.blocks) == []
    listed = shown(team.blocks)
    assert "In review: 1 breached" in listed
    assert f"<@{AGENT}>: 1 open · 0 high priority · 1 breaching" in listed

    stuck = await answer(slack, workspace, "queue stuck", MANAGER)
    assert "D-1 · ORD-1001" in shown(stuck.blocks)


async def test_each_person_has_their_own_home(slack: SlackDriver, workspace: Workspace) -> None:
    await slack.command("open ORD-1002 damaged it arrived broken", user=MANAGER)
    await eventually(lambda: thread_of(workspace, "ORD-1002"))

    agent = await open_home(slack, workspace, AGENT)
    supervisor = await open_home(slack, workspace, SUPERVISOR)
    assert agent != supervisor
    for view in (agent, supervisor):
        assert validate_view(view) == []
    agent_text, supervisor_text = shown(agent), shown(supervisor)
    # The agent's queue holds D-1 (assigned to them above); the supervisor's holds nothing.
    assert "*My queue* · 1" in agent_text and "*My queue* · 0" in supervisor_text
    my_queue = agent_text.split("*My queue*")[1].split("*Waiting for my approval*")[0]
    assert "D-1 · ORD-1001" in my_queue and "D-2" not in my_queue
    assert "*Team*" in supervisor_text and "*Team*" not in agent_text
    # D-2 nobody owns: both see it, with Take, and every row opens its thread.
    assert "D-2 · ORD-1002" in agent_text.split("*Unassigned*")[1]
    assert '"action_id": "owner.take"' in agent_text
    assert '"action_id": "home.open"' in agent_text and "/archives/C0DISPUTES/p" in agent_text

    # A dispute given to the agent shows up on the tab they opened, without opening it again.
    before = len(homes(workspace, AGENT))
    await slack.command(f"assign D-2 <@{AGENT}>", user=MANAGER)
    await eventually(lambda: len(homes(workspace, AGENT)) > before)
    refreshed = await eventually(
        lambda: (
            "*My queue* · 2" in shown(home_view_of(workspace, AGENT))
            and home_view_of(workspace, AGENT)
        )
    )
    assert validate_view(refreshed) == []


async def test_take_from_the_home(slack: SlackDriver, workspace: Workspace) -> None:
    await slack.command("open ORD-1003 damaged arrived broken", user=MANAGER)
    await eventually(lambda: thread_of(workspace, "ORD-1003"))
    view = await open_home(slack, workspace, MANAGER2)
    takes = [
        b
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id") == "owner.take"
        and json.loads(b["accessory"]["value"]) == {"dispute": 3}
    ]
    assert len(takes) == 1
    home = workspace.home_views[MANAGER2]
    response = await slack.block_action(
        "owner.take", user=MANAGER2, view_id=home.id, block_id=takes[0]["block_id"]
    )
    assert response.status_code == 200
    await eventually(lambda: f"Owner: <@{MANAGER2}>" in owner_line(workspace, "ORD-1003"))
    taken = await eventually(
        lambda: (
            "D-3 now belongs to" in shown(home_view_of(workspace, MANAGER2))
            and home_view_of(workspace, MANAGER2)
        )
    )
    my_queue = shown(taken).split("*My queue*")[1].split("*Waiting for my approval*")[0]
    assert "D-3 · ORD-1003" in my_queue
    assert validate_view(taken) == []

    # The thread's link button is only acknowledged.
    assert (
        await slack.block_action("home.open", user=MANAGER2, view_id=home.id)
    ).status_code == 200
