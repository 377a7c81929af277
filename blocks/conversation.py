"""The customer conversation in Slack: the composer ("Message customer"), a message's full text
("Show message"), and what the dispute's thread says as messages go out and the customer
answers. In the thread the customer's address is always masked; in full only in the private
views of people who may see the customer (`blocks.contact`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from blocks.contact import masked, recipient
from blocks.ids import ActionId, Subject
from blocks.kit import Block, button, context, input_block, plain, section, text_input
from blocks.proposal import ProposalCard
from blocks.text import Message, date, inline, link, quote, user
from disputes.customer_messages import CustomerMessage
from disputes.models import dispute_ref

SUBJECT_MAX = 200  # what the service keeps of a subject
INPUT_MAX = 3000  # Slack's longest plain_text_input
MAX_OPTIONS = 100
MODAL_BLOCKS = 100
LINE_PIECE = 500  # raw characters of a body line per quoted piece: 2,500 escaped at worst
SECTION_ROOM = 2900
HIDDEN_LINK = "[the customer's own link, not shown here]"
# The composer's inputs are named per template, so that picking another one replaces what
# the inputs hold (Slack keeps a person's input across views.update while its block_id stays).
TEMPLATE_BLOCK, SUBJECT_BLOCK, BODY_BLOCK = "template", "subject", "body"

KIND_WORDS = {
    "message": "message",
    "offer": "offer",
    "reminder": "reminder of the offer",
    "closing": "closing message with the survey",
}
TEMPLATE_GROUPS = {"general": "General", "notice": "Policy notices"}
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class TemplateOption:
    """One template the composer offers (a `policies.messages.TemplateChoice`'s fields)."""

    key: str
    label: str
    kind: str = "general"


@dataclass(frozen=True, slots=True)
class Composer:
    """What the composer shows: who it goes to, the templates, and the chosen one rendered (or
    the sentence naming the fact it lacks)."""

    number: int
    to_name: str | None
    to_address: str
    choices: Sequence[TemplateOption]
    chosen: str | None
    subject: str = ""
    text: str = ""
    missing: str | None = None  # why the chosen template cannot be written for this dispute
    in_full: bool = False  # the viewer may see the customer: their address is shown whole


def template_tag(key: str | None) -> str:
    """A short, stable name for a template key, for the composer's block ids."""
    return hashlib.sha1((key or "").encode()).hexdigest()[:12]


def block_name(prefix: str, key: str | None) -> str:
    return f"{prefix}.{template_tag(key)}"


def _named_input(
    prefix: str, key: str | None, label: str, element: Block, *, action: str | None = None
) -> Block:
    """An input whose block id names the template it shows (`body.<tag>`) and whose element's
    action id stays `action` (else `prefix`), so that handlers find it whatever the template."""
    block = input_block(block_name(prefix, key), label, element, optional=False)
    block["element"]["action_id"] = action or prefix
    return block


def message_customer_button(number: int) -> Block:
    return button(ActionId.MESSAGE_CUSTOMER, "Message customer", Subject(dispute=number))


def _option(choice: TemplateOption) -> Block:
    return {"text": plain(choice.label, 75), "value": choice.key}


def _template_select(composer: Composer) -> Block:
    usable = [c for c in composer.choices if 0 < len(c.key) <= 150][:MAX_OPTIONS]
    select: Block = {"type": "static_select", "placeholder": plain("Pick a template", 150)}
    kinds = list(dict.fromkeys(choice.kind for choice in usable))
    if len(kinds) > 1:
        select["option_groups"] = [
            {
                "label": plain(TEMPLATE_GROUPS.get(kind, kind.replace("_", " ").capitalize()), 75),
                "options": [_option(c) for c in usable if c.kind == kind],
            }
            for kind in kinds
        ]
    else:
        select["options"] = [_option(c) for c in usable]
    chosen = next((c for c in usable if c.key == composer.chosen), None)
    if chosen is not None:
        select["initial_option"] = _option(chosen)
    action = ActionId.MESSAGE_TEMPLATE.value
    block = _named_input(TEMPLATE_BLOCK, composer.chosen, "Template", select, action=action)
    block["dispatch_action"] = True  # picking one renders it in place
    return block


def composer_modal(composer: Composer) -> Block:
    """The "Message customer" modal: a template, its subject and text rendered with the
    dispute's facts (editable), or the fact it lacks in place of the text."""
    ref = dispute_ref(composer.number)
    to = recipient(composer.to_name, composer.to_address, in_full=composer.in_full)
    blocks: list[Block] = [context(f"*To:* {to} · {ref}")]
    if not composer.choices:
        blocks.append(
            section(
                ":warning: The policy pack has no message templates, so nothing can be written "
                "to the customer from here."
            )
        )
        return _modal(composer.number, blocks, submit=False)
    blocks.append(_template_select(composer))
    key = composer.chosen
    if composer.missing is not None:
        blocks.append(section(f":warning: {inline(composer.missing, 2000)}", block_id="missing"))
    else:
        subject = text_input(initial=composer.subject, max_length=SUBJECT_MAX)
        body = text_input(multiline=True, initial=composer.text, max_length=INPUT_MAX)
        blocks.append(_named_input(SUBJECT_BLOCK, key, "Subject", subject))
        blocks.append(_named_input(BODY_BLOCK, key, "Message", body))
        if len(composer.text) > INPUT_MAX:
            blocks.append(
                context(
                    f":warning: This template's text is longer than a Slack input holds "
                    f"({INPUT_MAX:,} characters): its end was cut. Read it before sending."
                )
            )
    blocks.append(
        context(
            f"The customer reads this as an email from the team, with {ref} in its subject. "
            "The dispute's thread shows it once it is delivered."
        )
    )
    return _modal(composer.number, blocks, submit=True)


def _modal(number: int, blocks: list[Block], *, submit: bool) -> Block:
    view: Block = {
        "type": "modal",
        "callback_id": ActionId.SEND_MESSAGE.value,
        "private_metadata": Subject(dispute=number).encode(),
        "title": plain("Message customer", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks[:MODAL_BLOCKS],
    }
    if submit:
        view["submit"] = plain("Send", 24)
    return view


def not_written_error() -> str:
    """The composer submitted while its template could not be written (its fact is named above
    the template); plain text for the template input's error."""
    return (
        "This template cannot be written for this dispute yet (the fact it needs is named "
        "below): pick another template, or add what it needs first."
    )


def queued_text(subject: str) -> str:
    """The answer to the person who sent a message, shown to them alone."""
    return (
        f":envelope: Queued for the customer: {inline(subject, 500)}. The thread shows it once "
        "it is delivered."
    )


# -- a message's full text ----------------------------------------------------------------


def hide_links(body: str, links: Sequence[str]) -> str:
    """The body without the links made for the customer: each one answers as the customer (an
    offer's Accept, a survey), so nobody else may be handed it, not even in a private view."""
    for url in sorted(links, key=len, reverse=True):
        if url:
            body = body.replace(url, HIDDEN_LINK)
    return body


def quoted_sections(text: str, room: int) -> tuple[list[Block], bool]:
    """`text` as quoted sections, at most `room` of them, none over Slack's limit; and whether
    the end had to be left out."""
    pieces: list[str] = []
    for line in text.splitlines() or [""]:
        pieces += [line[i : i + LINE_PIECE] for i in range(0, len(line), LINE_PIECE)] or [""]
    blocks: list[Block] = []
    current = ""
    for piece in pieces:
        shown = quote(piece)
        if current and len(current) + 1 + len(shown) > SECTION_ROOM:
            if len(blocks) == room:
                return blocks, True
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{shown}" if current else shown
    if current:
        if len(blocks) == room:
            return blocks, True
        blocks.append(section(current))
    return blocks, False


def _sender(message: CustomerMessage) -> str:
    author = message.created_by
    return f" · by {user(author)}" if _SLACK_USER.match(author or "") else ""


def _when(message: CustomerMessage) -> str:
    if message.sent_at is not None:
        return f"sent {date(message.sent_at, with_time=True)}"
    return f"written {date(message.created_at, with_time=True)}"


def message_modal(message: CustomerMessage, *, in_full: bool) -> Block:
    """A message to the customer as it was sent (its subject, to whom, when, its whole text),
    for "Show message"; the customer's links are left out."""
    to = recipient(message.to_name, message.to_address, in_full=in_full)
    kind = KIND_WORDS.get(message.kind, inline(message.kind, 40))
    head: list[Block] = [
        section(f"*{inline(message.subject, 500)}*"),
        context(f"*To:* {to} · {kind} · {_when(message)}{_sender(message)} · {message.ref}"),
    ]
    body = hide_links(message.body, message.links)
    tail = [context("Links made for the customer are not shown: they answer as the customer.")]
    room = MODAL_BLOCKS - len(head) - len(tail) - 1
    text, cut = quoted_sections(body, room)
    if cut:
        tail.insert(0, context("…the rest of this long message is not shown here."))
    return {
        "type": "modal",
        "title": plain("Message to customer", 24),
        "close": plain("Close", 24),
        "blocks": head + text + tail,
    }


# -- the thread: deliveries -------------------------------------------------------------


def _show_button(message: CustomerMessage) -> Block:
    subject = Subject(dispute=message.dispute_number, message=message.id)
    return {
        "type": "actions",
        "block_id": "customer_message",
        "elements": [button(ActionId.SHOW_MESSAGE, "Show message", subject)],
    }


def delivery_message(message: CustomerMessage, news: str) -> Message:
    """A message to the customer in its dispute's thread: sent, not delivered yet (retrying),
    or refused for good. The address is masked: the thread is a channel."""
    subject = inline(message.subject, 500)
    kind = KIND_WORDS.get(message.kind, inline(message.kind, 40))
    reason = inline(message.last_error or "no reason given", 500)
    facts = f"To {masked(message.to_address)} · {kind} · {_when(message)}{_sender(message)}"
    if news == "sent":
        head = f":envelope: *Sent to the customer:* {subject}"
        fallback = f"{message.ref}: sent to the customer: {subject}"
    elif news == "retrying":
        head = (
            f":hourglass_flowing_sand: *Not delivered to the customer yet:* {reason}. Retrying."
            f"\n_{subject}_"
        )
        fallback = f"{message.ref}: not delivered to the customer yet: {reason}. Retrying."
    else:
        head = (
            f":x: *Could not deliver* the {kind} to the customer ({reason}): check "
            f"CUSTOMER_CHANNEL. Nothing more is tried.\n_{subject}_"
        )
        fallback = f"{message.ref}: could not deliver the {kind} to the customer ({reason})"
    blocks = [section(head), context(facts), _show_button(message)]
    return Message(fallback, blocks)


# -- the thread: the customer's answers and the conversation's chores ----------------------


def _what(kind_label: str | None, amount: str | None) -> str:
    what = inline(kind_label or "the offer", 200)
    return f"{what} {inline(amount, 100)}" if amount else what


def _said(prefix: str, words: str | None, suffix: str) -> str:
    """`prefix: “words”suffix` when the customer's words are one line, else the words quoted
    below (so that their second line never reads as the app's)."""
    if not words or not words.strip():
        return f"{prefix}{suffix}"
    if len(words.strip().splitlines()) <= 1:
        return f"{prefix}: “{inline(words, 1500)}”{suffix}"
    return f"{prefix}{suffix}\n{quote(words.strip(), 2000)}"


def offer_accepted(ref: str, kind_label: str | None, amount: str | None) -> Message:
    what = _what(kind_label, amount)
    text = f":white_check_mark: *The customer accepted the offer:* {what}. Carrying it out."
    return Message(f"{ref}: the customer accepted the offer: {what}", [section(text)])


def offer_declined(ref: str, reason: str | None) -> Message:
    text = _said(
        ":leftwards_arrow_with_hook: *The customer declined the offer*", reason, ". Back to review."
    )
    fallback = f"{ref}: the customer declined the offer. Back to review."
    return Message(fallback, [section(text)])


def stars(rating: int) -> str:
    shown = max(0, min(rating, 5))
    return "★" * shown + "☆" * (5 - shown) + f" {shown}/5"


def customer_rated(ref: str, rating: int, comment: str | None) -> Message:
    text = _said(f":star: *The customer rated the handling* {stars(rating)}", comment, "")
    return Message(f"{ref}: the customer rated the handling {rating}/5", [section(text)])


def offer_expired(ref: str) -> Message:
    text = (
        ":alarm_clock: *The offer expired without an answer:* the dispute waits for a person "
        "(*Start review* to make a new proposal)."
    )
    return Message(f"{ref}: the offer expired without an answer", [section(text)])


def _there(permalink: str | None) -> str:
    return f" {link(permalink, 'Open the thread')}" if permalink else ""


def proposer_told_declined(
    card: ProposalCard, reason: str | None, permalink: str | None
) -> Message:
    """A direct message to the proposer: the customer declined what they proposed."""
    what = _what(card.kind_label, card.amount)
    head = (
        f":leftwards_arrow_with_hook: The customer declined the offer of your {card.title} ({what})"
    )
    # The link before the customer's words: after a quote it would read as part of it.
    back = f". {inline(card.ref, 100)} is back in review.{_there(permalink)}"
    text = _said(head, reason, back)
    return Message(f"The customer declined the offer of your {card.title}", [section(text)])


def proposer_told_expired(card: ProposalCard, permalink: str | None) -> Message:
    """A direct message to the proposer: the customer let the offer run out."""
    what = _what(card.kind_label, card.amount)
    text = (
        f":alarm_clock: The customer did not answer the offer of your {card.title} ({what}) in "
        f"time: {inline(card.ref, 100)} waits for a new proposal."
    )
    return Message(f"The offer of your {card.title} expired", [section(text + _there(permalink))])
