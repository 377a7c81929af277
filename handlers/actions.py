"""Buttons in dispute threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.policy import trace_modal, why_modal
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.models import CaseFile, PolicyDecision
from handlers.deps import Deps
from handlers.errors import Respond, answering_errors


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.POLICY_WHY.value)
    async def policy_why(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        # views.open needs the trigger within 3 s, so this runs right after the ack.
        await ack()
        case, decision = await decided(deps, Subject.decode(action_value(body)).dispute)
        await client.views_open(trigger_id=body.get("trigger_id"), view=why_modal(case, decision))

    @app.action(ActionId.POLICY_TRACE.value)
    async def policy_trace(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        # Pushed over the Why modal, so "Back" returns to the short explanation.
        await ack()
        case, decision = await decided(deps, Subject.decode(action_value(body)).dispute)
        await client.views_push(trigger_id=body.get("trigger_id"), view=trace_modal(case, decision))

    async def switch_reason(
        subject: Subject, actor: Actor, client: AsyncWebClient, respond: Respond
    ) -> None:
        if subject.reason is None:
            raise DisputeError("That button names no reason to switch to.")
        await deps.policy.switch_reason(subject.dispute, subject.reason, actor, deps.disputes.gate)
        await deps.threads.refresh(subject.dispute)

    on_click(app, deps, ActionId.POLICY_SWITCH_REASON, switch_reason)


async def decided(deps: Deps, number: int) -> tuple[CaseFile, PolicyDecision]:
    """The dispute and the policy decision its card shows."""
    case = await deps.disputes.case(number)
    decision = await deps.policy.latest(number)
    if decision is None:
        raise DisputeError(f"{case.dispute.ref} has no policy decision yet.")
    return case, decision


# What a button does, after the ack, as the person who clicked it.
Click = Callable[[Subject, Actor, AsyncWebClient, Respond], Awaitable[None]]


def on_click(app: AsyncApp, deps: Deps, action: ActionId, work: Click) -> None:
    """Register a button whose `work` runs after the ack on the worker pool (once per
    request), as the clicker, with any refusal or error answered to them alone."""

    @app.action(action.value)
    async def clicked(
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        subject, user_id = Subject.decode(action_value(body)), body["user"]["id"]

        async def job() -> None:
            actor = await deps.actor(client, user_id)
            await answering_errors(respond, work(subject, actor, client, respond))

        deps.later(context, job)


def action_value(body: dict[str, Any]) -> str | None:
    """The `value` of the clicked element, or None when the payload names none."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get("value") if isinstance(first, dict) else None
    return value if isinstance(value, str) else None
