"""Buttons in dispute threads."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.policy import why_modal
from disputes.errors import DisputeError
from handlers.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.POLICY_WHY.value)
    async def policy_why(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        # views.open needs the trigger within 3 s, so this runs right after the ack.
        await ack()
        subject = Subject.decode(action_value(body))
        case = await deps.disputes.case(subject.dispute)
        decision = await deps.policy.latest(subject.dispute)
        if decision is None:
            raise DisputeError(f"{case.dispute.ref} has no policy decision yet.")
        await client.views_open(trigger_id=body.get("trigger_id"), view=why_modal(case, decision))


def action_value(body: dict[str, Any]) -> str | None:
    """The `value` of the clicked element, or None when the payload names none."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get("value") if isinstance(first, dict) else None
    return value if isinstance(value, str) else None
