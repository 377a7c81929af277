"""The policy card, its "Why?" explanation and trace, and `/dispute policy`, through Slack's
real path."""

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
    why = json.dumps(view.view["blocks"], ensure_ascii=False)
    assert "applies" in why and "We recommend" in why and "Returns Policy §" in why
    assert "when.all[" not in why and "actual" not in why
    assert validate_view(view.view) == []

    # Every rule checked is one click away, pushed over the explanation.
    await slack.block_action("policy.trace", user="U0MANAGER2", view_id=view.id)
    pushed = await eventually(
        lambda: (top := workspace.top_view("U0MANAGER2")) and top.id != view.id and top
    )
    trace = json.dumps(pushed.view["blocks"], ensure_ascii=False)
    assert "Matched" in trace and "Not matched" in trace and "reason eq" in trace
    assert validate_view(pushed.view) == []


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


async def test_a_typed_reason_differing_from_the_return_is_shown_and_switched(
    slack: SlackDriver, workspace: Workspace
) -> None:
    # ORD-1012's return request says DEFECTIVE.
    await slack.command("open ORD-1012 damaged the tubes snapped", user="U0MANAGER2")
    policy = await eventually(lambda: card(workspace, "ORD-1012", "Policy ·"))
    text = json.dumps(policy.blocks, ensure_ascii=False)
    assert "opened as *Damaged*" in text and "return request says *Defective*" in text
    assert "The policy used *Damaged*" in text
    await slack.block_action("policy.switch_reason", user="U0MANAGER2", message_ts=policy.ts)

    def switched():  # type: ignore[no-untyped-def]
        updated = card(workspace, "ORD-1012", "Policy ·")
        shown = json.dumps(updated.blocks, ensure_ascii=False) if updated else ""
        return "The policy used *Defective*" in shown and updated

    updated = await eventually(switched)
    assert "Use Damaged" in json.dumps(updated.blocks, ensure_ascii=False)
    assert validate_message(updated.text, updated.blocks) == []
