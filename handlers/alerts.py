"""The digest's buttons: Take gives the dispute to the clicker, Snooze holds the alert back."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.kit import section
from blocks.text import date
from disputes.errors import DisputeError
from handlers.actions import action_value
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.ownership import change_owner


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.ALERT_TAKE.value)
    async def take(
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

            async def work() -> None:
                await change_owner(deps, client, subject.dispute, None, actor, respond)
                await _refresh_digest(deps, subject)

            await answering_errors(respond, work())

        deps.later(context, job)

    @app.action(ActionId.ALERT_SNOOZE.value)
    async def snooze(
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

            async def work() -> None:
                if deps.alerts is None or subject.alert is None:
                    raise DisputeError("Alerts are not set up in this Dispute Desk.")
                snoozed = await deps.alerts.snooze(subject.alert, actor)
                text = (
                    f"Snoozed until {date(snoozed.until, with_time=True)}: the alert comes back "
                    "in a digest then if it still holds."
                )
                await respond(
                    text=text,
                    blocks=[section(f":zzz: {text}")],
                    response_type="ephemeral",
                    replace_original=False,
                )
                await _refresh_digest(deps, subject)

            await answering_errors(respond, work())

        deps.later(context, job)


async def _refresh_digest(deps: Deps, subject: Subject) -> None:
    if deps.alerts is None or deps.digests is None or subject.alert is None:
        return
    alert, _ = await deps.alerts.alert(subject.alert)
    if alert.digest_id is not None:
        await deps.digests.refresh(alert.digest_id)
