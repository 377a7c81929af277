"""The digest's buttons: Take gives the dispute to the clicker, Snooze holds the alert back."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.kit import section
from blocks.text import date
from disputes.audit import Actor
from disputes.errors import DisputeError
from handlers.actions import on_click
from handlers.deps import Deps
from handlers.errors import Respond
from handlers.ownership import change_owner


def register(app: AsyncApp, deps: Deps) -> None:
    async def take(
        subject: Subject, actor: Actor, client: AsyncWebClient, respond: Respond
    ) -> None:
        await change_owner(deps, client, subject.dispute, None, actor, respond)
        await _refresh_digest(deps, subject)

    async def snooze(
        subject: Subject, actor: Actor, client: AsyncWebClient, respond: Respond
    ) -> None:
        if deps.alerts is None or subject.alert is None:
            raise DisputeError("Alerts are not set up in this Dispute Desk.")
        snoozed = await deps.alerts.snooze(subject.alert, actor)
        text = (
            f"Snoozed until {date(snoozed.until, with_time=True)}: the alert comes back in a "
            "digest then if it still holds."
        )
        await respond(
            text=text,
            blocks=[section(f":zzz: {text}")],
            response_type="ephemeral",
            replace_original=False,
        )
        await _refresh_digest(deps, subject)

    on_click(app, deps, ActionId.ALERT_TAKE, take)
    on_click(app, deps, ActionId.ALERT_SNOOZE, snooze)


async def _refresh_digest(deps: Deps, subject: Subject) -> None:
    if deps.alerts is None or deps.digests is None or subject.alert is None:
        return
    alert, _ = await deps.alerts.alert(subject.alert)
    if alert.digest_id is not None:
        await deps.digests.refresh(alert.digest_id)
