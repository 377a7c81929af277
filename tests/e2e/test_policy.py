"""The policy card, its "Why?" trace and `/dispute policy`, through Slack's real path."""

from __future__ import annotations

import json

from sandbox.slack.blockkit import validate_message, validate_view
from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually

CHANNEL = "C0DISPUTES"


def card(workspace: Workspace, order_id: str, header: str):  # type: ignore[no-untyped-def]
    for parent in workspace.history(CHANNEL):
        if f"· {order_id} ·" not in parent.text:
            continue
        for reply in workspace.thread(CHANNEL, parent.ts)[1:]:
            if reply.blocks and reply.blocks[0].get("text", {}).get("text", "").startswith(header):
                return reply
    return None


async def test_policy_card_cites_the_rules_and_why_shows_the_trace(
    slack: SlackDriver, workspace: Workspace
) -> None:
    await slack.command("open ORD-1019 not as described the serum stung", user="U0MANAGER2")
    policy = await eventually(lambda: card(workspace, "ORD-1019", "Policy ·"))
    evidence = card(workspace, "ORD-1019", "Evidence ·")
    assert evidence is not None and float(evidence.ts) < float(policy.ts)
    text = json.dumps(policy.blocks, ensure_ascii=False)
    assert "Returns Policy §" in text and "Recommended:" in text and "Allowed:" in text
    assert validate_message(policy.text, policy.blocks) == []

    response = await slack.block_action("policy.why", user="U0MANAGER2", message_ts=policy.ts)
    assert response.status_code == 200
    view = await eventually(lambda: workspace.top_view("U0MANAGER2"))
    assert view.view["title"]["text"].startswith("Why · D-")
    trace = json.dumps(view.view["blocks"], ensure_ascii=False)
    assert "matched" in trace and "actual:" in trace and "reason eq" in trace
    assert validate_view(view.view) == []


async def test_policy_search_by_reason_and_by_words(slack: SlackDriver) -> None:
    by_reason = await slack.command("policy damaged")
    body = by_reason.json()
    assert body["response_type"] == "ephemeral"
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "Returns Policy §5.1" in text  # damage reported within 48 hours
    by_words = await slack.command("policy restocking fee")
    assert "restocking" in json.dumps(by_words.json()["blocks"]).lower()
    nothing = await slack.command("policy zebra crossing")
    assert "No policy rule matches" in nothing.json()["text"]
    empty = await slack.command("policy")
    assert "What should I look for?" in empty.json()["text"]
