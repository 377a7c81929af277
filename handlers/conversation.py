"""Writing to the customer from the thread: "Message customer" opens the composer, picking a
template renders it in place, "Send" queues it in the customer outbox; "Show message" opens a
message as it was sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.conversation import (
    BODY_BLOCK,
    SUBJECT_BLOCK,
    TEMPLATE_BLOCK,
    Composer,
    TemplateOption,
    composer_modal,
    message_modal,
    not_written_error,
    queued_text,
)
from blocks.ids import ActionId, Subject
from blocks.kit import field_errors
from disputes.audit import Actor
from disputes.conversation import ConversationService, missing_fact_text
from disputes.errors import DisputeError
from handlers.actions import action_value
from handlers.deps import Deps
from handlers.errors import Respond, answering_errors, slack_error
from handlers.modal_values import ModalValues

log = logging.getLogger(__name__)

MESSAGING_OFF = (
    "Customer messaging is off: this Dispute Desk has no way to reach customers set up, so "
    "nothing can be written to them from Slack."
)


class MessagingOff(DisputeError):
    def __init__(self) -> None:
        super().__init__(MESSAGING_OFF)


def service_of(deps: Deps) -> ConversationService:
    if deps.conversation is None:
        raise MessagingOff()
    return deps.conversation


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.MESSAGE_CUSTOMER.value)
    async def message_customer(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()  # views.open needs the trigger within 3 s: open it right after the ack
        subject = Subject.decode(action_value(body))

        async def open_composer() -> None:
            service = service_of(deps)
            actor = await deps.actor(client, body["user"]["id"], within=1.0)
            view = await composer(deps, service, subject.dispute, actor)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await answering_errors(respond, open_composer())

    @app.action(ActionId.MESSAGE_TEMPLATE.value)
    async def template_picked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        view = body.get("view") or {}
        subject = Subject.decode(view.get("private_metadata"))
        key = picked(body)
        user_id = body["user"]["id"]

        async def render() -> None:
            service = service_of(deps)
            actor = await deps.actor(client, user_id)
            new = await composer(deps, service, subject.dispute, actor, key)
            try:
                await client.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
            except SlackApiError as exc:
                if slack_error(exc) != "hash_conflict":
                    raise
                # Another pick changed the composer since: the newer one shows.
                log.info("composer of D-%d changed meanwhile: not re-rendered", subject.dispute)

        deps.later(context, lambda: answering_errors(teller(deps, user_id, subject), render()))

    @app.view(ActionId.SEND_MESSAGE.value)
    async def send(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        entered = read_composed(view)
        if entered.errors:
            await ack(**field_errors(entered.errors))
            return
        await ack()
        subject = Subject.decode(view.get("private_metadata"))
        user_id = body["user"]["id"]
        tell = teller(deps, user_id, subject)

        async def queue() -> None:
            service = service_of(deps)
            actor = await deps.actor(client, user_id)
            assert entered.key is not None  # read_composed found no errors
            queued = await service.send(
                subject.dispute, entered.key, entered.subject, entered.text, actor
            )
            await tell(queued_text(queued.subject))

        deps.later(context, lambda: answering_errors(tell, queue()))

    @app.action(ActionId.SHOW_MESSAGE.value)
    async def show_message(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()  # views.open needs the trigger within 3 s
        subject = Subject.decode(action_value(body))

        async def open_message() -> None:
            service = service_of(deps)
            if subject.message is None:
                raise DisputeError("This button does not name a message.")
            actor = await deps.actor(client, body["user"]["id"], within=1.0)
            # The message names the customer and says what was put to them: a private view
            # for those who may see the customer.
            await deps.disputes.require_customer(subject.dispute, actor)
            message = await service.message(subject.dispute, subject.message)
            await client.views_open(
                trigger_id=body["trigger_id"], view=message_modal(message, in_full=True)
            )

        await answering_errors(respond, open_message())


async def composer(
    deps: Deps, service: ConversationService, number: int, actor: Actor, key: str | None = None
) -> dict[str, Any]:
    """The composer for `actor`, with `key` (else the first template) rendered."""
    draft = await service.draft(number, actor, key)
    preview = draft.preview
    missing = None
    if preview is not None and preview.missing is not None:
        missing = missing_fact_text(number, preview.key, preview.missing)
    return composer_modal(
        Composer(
            number=number,
            to_name=draft.to_name,
            to_address=draft.to_address,
            choices=[TemplateOption(c.key, c.label, c.kind) for c in draft.choices],
            chosen=preview.key if preview is not None else key,
            subject=preview.subject if preview is not None else "",
            text=preview.text if preview is not None else "",
            missing=missing,
            in_full=deps.disputes.may_see_customer(actor),
        )
    )


def picked(body: dict[str, Any]) -> str | None:
    """The template chosen in the composer's select."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else {}
    option = first.get("selected_option") if isinstance(first, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Composed:
    """What a submitted composer holds, and what is wrong with it (by input block)."""

    key: str | None
    subject: str
    text: str
    errors: dict[str, str]


def read_composed(view: dict[str, Any]) -> Composed:
    """The submitted composer, checked without the database: a template, and the subject and
    text it was rendered into (absent when the template lacked a fact)."""
    entered = ModalValues(view)
    template = entered.named(TEMPLATE_BLOCK) or shown_template(view)[0] or TEMPLATE_BLOCK
    key = entered.choice(template, ActionId.MESSAGE_TEMPLATE.value) or shown_template(view)[1]
    subject_block, body_block = entered.named(SUBJECT_BLOCK), entered.named(BODY_BLOCK)
    subject = (entered.text(subject_block, SUBJECT_BLOCK) or "").strip() if subject_block else ""
    text = (entered.text(body_block, BODY_BLOCK) or "").strip() if body_block else ""
    errors: dict[str, str] = {}
    if key is None:
        errors[template] = "Pick a template."
    elif body_block is None:
        errors[template] = not_written_error()
    else:
        if not subject and subject_block:
            errors[subject_block] = "Write a subject for the message."
        if not text:
            errors[body_block] = "The message is empty: write what the customer should read."
    return Composed(key, subject, text, errors)


def shown_template(view: dict[str, Any]) -> tuple[str | None, str | None]:
    """The composer's template block and the template it shows: what a client that leaves an
    untouched select out of the state submitted (a required select cannot be emptied)."""
    blocks = view.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str) and block_id.startswith(f"{TEMPLATE_BLOCK}."):
            element = block.get("element")
            option = element.get("initial_option") if isinstance(element, dict) else None
            value = option.get("value") if isinstance(option, dict) else None
            return block_id, value if isinstance(value, str) and value else None
    return None, None


def teller(deps: Deps, user_id: str, subject: Subject) -> Respond:
    """A `respond` stand-in for modals (which carry no response_url): one message to the person
    alone, in the dispute's thread."""

    async def tell(text: str, **_: object) -> None:
        thread_ts = await deps.disputes.thread_of(subject.dispute)
        await deps.threads.tell(user_id, text, thread_ts)

    return tell
