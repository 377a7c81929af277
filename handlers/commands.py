"""`/dispute`: parse, ack at once, then do the work on the bounded worker pool."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.disputes import already_open, opened, summary, thread_not_posted
from blocks.help import help_message
from blocks.insights import insights_message
from blocks.policy import search_results
from blocks.queue import MESSAGE_ROWS, queue_message, team_message
from disputes.assignment import AUTO, OwnerChange
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.insight_report import Period
from disputes.intake import OpenRequest
from handlers.deps import Deps
from handlers.errors import Respond, answering_errors, slack_error
from handlers.ownership import change_owner, tell_owner
from handlers.parsing import (
    AssignCommand,
    CommandError,
    HelpCommand,
    InsightsCommand,
    OpenCommand,
    PolicyCommand,
    QueueCommand,
    ShowCommand,
    TakeCommand,
    parse_command,
)

log = logging.getLogger(__name__)
# Seconds a command waits out Slack's rate limit to post a thread before it answers that the
# thread is late (the thread outbox posts it then).
THREAD_PATIENCE = 5.0


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/dispute")
    async def dispute_command(
        ack: AsyncAck,
        command: dict[str, Any],
        respond: Respond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        user_id, text = command.get("user_id"), command.get("text")
        if not isinstance(user_id, str) or not user_id:
            log.warning("slash command without user_id: not processed")
            await ack(response_type="ephemeral", text="Slack sent this command without its user.")
            return
        try:
            parsed = parse_command(text if isinstance(text, str) else "")
        except CommandError as exc:
            await ack(response_type="ephemeral", text=str(exc))
            return
        if isinstance(parsed, HelpCommand):
            message = help_message()
            await ack(response_type="ephemeral", text=message.text, blocks=message.blocks)
        elif isinstance(parsed, OpenCommand):
            await ack(response_type="ephemeral", text=f"Opening a dispute for {parsed.order_id}…")
            opening = parsed

            async def open_job() -> None:
                # The result (or the one error) takes the place of "Opening a dispute…".
                actor = await deps.actor(client, user_id)
                work = open_dispute(deps, opening, actor, respond, client)
                await answering_errors(respond, work, replace=True)

            deps.later(context, open_job)
        elif isinstance(parsed, PolicyCommand):
            rules = deps.policy.search(parsed.words, parsed.reason)
            message = search_results(parsed.words, rules)
            await ack(response_type="ephemeral", text=message.text, blocks=message.blocks)
        elif isinstance(parsed, ShowCommand):
            await ack()
            showing = parsed

            async def show_job() -> None:
                actor = await deps.actor(client, user_id)
                await answering_errors(respond, show_dispute(deps, showing, actor, respond))

            deps.later(context, show_job)
        elif isinstance(parsed, AssignCommand | TakeCommand):
            await ack()
            number = parsed.number
            to_user = parsed.user_id if isinstance(parsed, AssignCommand) else None

            async def owner_job() -> None:
                actor = await deps.actor(client, user_id)
                work = change_owner(deps, client, number, to_user, actor, respond)
                await answering_errors(respond, work)

            deps.later(context, owner_job)
        elif isinstance(parsed, QueueCommand):
            await ack()
            view = parsed.view

            async def queue_job() -> None:
                actor = await deps.actor(client, user_id)
                await answering_errors(respond, show_queue(deps, view, actor, respond))

            deps.later(context, queue_job)
        elif isinstance(parsed, InsightsCommand):
            label = parsed.period
            await ack(response_type="ephemeral", text=f"Counting the last {label[:-1]} days…")

            async def insights_job() -> None:
                # The report (or the one refusal) takes the place of "Counting…".
                actor = await deps.actor(client, user_id)
                await answering_errors(
                    respond, show_insights(deps, label, actor, respond), replace=True
                )

            deps.later(context, insights_job)


async def open_dispute(
    deps: Deps, command: OpenCommand, actor: Actor, respond: Respond, client: AsyncWebClient
) -> None:
    result = await deps.intake.open(
        OpenRequest(
            order_id=command.order_id,
            reason=command.reason,
            claim=command.claim,
            actor=actor,
        )
    )
    typed = command.order_id
    if not result.created:
        link = await deps.threads.permalink(result.case)
        message = already_open(result.case.dispute, link, typed)
    else:
        try:
            posting = deps.threads.publish(result.case, patience=THREAD_PATIENCE, new=result.thread)
            case, error = await posting, None
        except SlackApiError as exc:
            case, error = await deps.disputes.case(result.case.dispute.number), slack_error(exc)
        if case.dispute.thread_ts is None:  # the thread outbox posts it
            message = thread_not_posted(case.dispute, error)
        else:
            message = opened(case.dispute, await deps.threads.thread_link(case), typed)
            # Told of the owner intake gave it: one given since (a Take, an assignment while
            # the thread was posted) is told by whoever gave it.
            if (intake_owner := result.case.dispute.owner_id) is not None:
                given = OwnerChange(case, None, intake_owner, "system", AUTO)
                await tell_owner(deps, client, given)
    await respond(
        text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=True
    )


async def show_dispute(deps: Deps, command: ShowCommand, actor: Actor, respond: Respond) -> None:
    case = await deps.disputes.case(command.number)
    if case.dispute.thread_ts is None or case.dispute.evidence_card_ts is None:
        try:
            case = await deps.threads.publish(case, patience=THREAD_PATIENCE)
        except SlackApiError as exc:
            log.warning("could not post the thread of %s: %s", case.dispute.ref, slack_error(exc))
    link = await deps.threads.permalink(case)
    shown = deps.disputes.as_seen_by(case, actor)
    message = summary(shown, link, messaging=deps.conversation is not None)
    await respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


async def show_queue(deps: Deps, view: str, actor: Actor, respond: Respond) -> None:
    """`/dispute queue`: one of the queues, or the team's (managers and supervisors)."""
    queues = deps.queues
    if queues is None:
        raise DisputeError("Queues are not set up in this Dispute Desk.")
    if view == "team":
        queues.require_team(actor)
        message = team_message(await queues.team())
    else:
        if view == "mine":
            page = await queues.mine(actor.id, limit=MESSAGE_ROWS)
        elif view == "unassigned":
            page = await queues.unassigned(limit=MESSAGE_ROWS)
        else:
            page = await queues.stuck(limit=MESSAGE_ROWS)
        links = await deps.threads.links(item.dispute for item in page.items)
        now = datetime.now(UTC)
        message = queue_message(view, page, links, now, may_take=queues.may_take(actor))
    await respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


async def show_insights(deps: Deps, label: str, actor: Actor, respond: Respond) -> None:
    """`/dispute insights`: the period's numbers, for managers and supervisors by default."""
    if deps.insights is None:
        raise DisputeError("Insights are not set up in this Dispute Desk.")
    report = await deps.insights.report(Period.parse(label), actor)
    message = insights_message(report)
    await respond(
        text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=True
    )
