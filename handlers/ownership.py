"""Owners: `/dispute assign`, `/dispute take` and the thread's Take button."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.ownership import assigned_you, owner_now
from disputes.assignment import OwnerChange
from disputes.audit import Actor
from disputes.errors import DisputeError
from handlers.actions import on_click
from handlers.deps import Deps
from handlers.errors import Respond, slack_error

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    async def take(
        subject: Subject, actor: Actor, client: AsyncWebClient, respond: Respond
    ) -> None:
        await change_owner(deps, client, subject.dispute, None, actor, respond)

    on_click(app, deps, ActionId.TAKE, take)


async def change_owner(
    deps: Deps,
    client: AsyncWebClient,
    number: int,
    to_user: str | None,
    actor: Actor,
    respond: Respond,
) -> None:
    """Assign the dispute to `to_user` (None: the actor takes it), then show and tell it."""
    if deps.assignment is None:
        raise DisputeError("Owners are not set up in this Dispute Desk.")
    if to_user is None:
        change = await deps.assignment.take(number, actor)
    else:
        change = await deps.assignment.assign(number, to_user, actor)
    if change.changed:
        await deps.threads.refresh_parent(change.case)
        await tell_owner(deps, client, change)
    message = owner_now(change.case.dispute, unchanged=not change.changed)
    await respond(
        text=message.text,
        blocks=message.blocks,
        response_type="ephemeral",
        replace_original=False,
    )


async def tell_owner(deps: Deps, client: AsyncWebClient, change: OwnerChange) -> None:
    """A direct message to the new owner, unless they took it themselves; a failure is logged,
    never raised over the change."""
    owner = change.owner
    if owner is None or owner == change.by:
        return
    permalink = await deps.threads.permalink(change.case)
    by = change.by if change.why != "auto" else None
    message = assigned_you(change.case.dispute, by, permalink)
    try:
        await client.chat_postMessage(channel=owner, text=message.text, blocks=message.blocks)
    except SlackApiError as exc:
        log.warning("could not tell %s of %s: %s", owner, change.case.dispute.ref, slack_error(exc))
