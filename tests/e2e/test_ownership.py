"""Owners through the real app: a manager assigns with `/dispute assign`, the parent message
shows the owner and the agent hears of it; an agent cannot give a dispute to someone else; a
second manager's Take moves it to them."""

from __future__ import annotations

import json

from bot.demo_world import thread_of
from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually


def owner_line(workspace: Workspace, order_id: str) -> str:
    return json.dumps(thread_of(workspace, order_id)[0].blocks)


async def test_assign_refuse_and_take(slack: SlackDriver, workspace: Workspace) -> None:
    await slack.command("open ORD-1001 damaged the box was crushed", user="U0MANAGER1")
    await eventually(lambda: thread_of(workspace, "ORD-1001"))
    assert "Owner: nobody" in owner_line(workspace, "ORD-1001")

    await slack.command("assign D-1 <@U0AGENT|ana>", user="U0MANAGER1")
    await eventually(lambda: "Owner: <@U0AGENT>" in owner_line(workspace, "ORD-1001"))
    told = await eventually(lambda: workspace.history(workspace.dm_id("U0AGENT")))
    assert "<@U0MANAGER1> assigned you D-1" in told[-1].text
    assert "Open the thread" in json.dumps(told[-1].blocks)

    seen = len(workspace.ephemerals_for("U0AGENT"))
    await slack.command("assign D-1 <@U0MANAGER2>", user="U0AGENT")
    refused = await eventually(lambda: workspace.ephemerals_for("U0AGENT")[seen:])
    assert "You cannot assign D-1 to someone" in refused[0].text
    assert "manager or supervisor" in refused[0].text
    assert "Owner: <@U0AGENT>" in owner_line(workspace, "ORD-1001")

    parent = thread_of(workspace, "ORD-1001")[0]
    await slack.block_action("owner.take", user="U0MANAGER2", message_ts=parent.ts)
    await eventually(lambda: "Owner: <@U0MANAGER2>" in owner_line(workspace, "ORD-1001"))
    assert not workspace.history(workspace.dm_id("U0MANAGER2"))  # took it: no message
