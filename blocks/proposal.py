"""A proposal in the dispute's thread, its decision, and the supervisors' ping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from blocks.ids import ActionId, Subject
from blocks.kit import TEXT_MAX, Block, button, input_block, plain, section, text_input
from blocks.text import (
    QUOTE_MAX,
    Message,
    clip_escaped,
    date,
    inline,
    labelled,
    link,
    quote,
    user,
)

Decision = Literal["approved", "changes_requested"]
OUTSIDE_POLICY_FLAG = ":warning: outside policy — a supervisor must approve"
SUPERVISOR_FLAG = ":warning: over the manager's limit — a supervisor must approve"


@dataclass(frozen=True, slots=True)
class ProposalCard:
    """What a proposal message shows, before and after it is decided."""

    ref: str
    number: int  # the dispute's
    proposal_id: int
    kind_label: str
    amount: str | None
    note: str
    proposer: str
    outside_policy: bool
    needs_supervisor: bool
    justification: str | None
    proposal_number: int = 1  # within the dispute
    customer: str | None = None
    override_reason: str | None = None
    supervisor_cause: str | None = None  # what requires a supervisor, in words
    # The pack has the customer accept this option before anything is carried out.
    offered: bool = False
    # Set once an approval put the option to the customer: until when they may accept it.
    offer_expires_at: datetime | None = None

    @property
    def title(self) -> str:
        return f"Proposal {self.proposal_number} for {inline(self.ref, 100)}"


def _proposal_blocks(card: ProposalCard) -> list[Block]:
    head = f":memo: *{card.title}:* {inline(card.kind_label, 200)}"
    if card.amount:
        head += f" · *{inline(card.amount, 100)}*"
    blocks = [section(f"{head}\nProposed by {user(card.proposer)}")]
    if card.note:
        blocks.append(section(quote(card.note)))
    flags = []
    if card.outside_policy:
        flags.append(OUTSIDE_POLICY_FLAG)
    elif card.needs_supervisor:
        flags.append(supervisor_flag(card.supervisor_cause))
    if card.justification:
        flags.append(labelled("*Justification:*", card.justification, QUOTE_MAX))
    if card.override_reason:
        flags.append(
            labelled(
                "*Reviewed without the required evidence, because:*",
                card.override_reason,
                QUOTE_MAX,
            )
        )
    if flags:
        blocks.append(section("\n".join(flags)))
    return blocks


def supervisor_flag(cause: str | None) -> str:
    """Why a supervisor must approve, naming the rule or the limit when it is known."""
    if not cause:
        return SUPERVISOR_FLAG
    return f":warning: a supervisor must approve: {inline(cause, 500)}"


def _proposal_text(card: ProposalCard) -> str:
    kind = inline(card.kind_label, 200)
    what = f"{kind} {inline(card.amount, 100)}" if card.amount else kind
    return clip_escaped(f"{card.title}: {what} proposed by {user(card.proposer)}", 3000)


def proposal_message(card: ProposalCard) -> Message:
    """A proposal in the dispute's thread, with Approve and Request changes buttons."""
    blocks = _proposal_blocks(card)
    subject = Subject(dispute=card.number, proposal=card.proposal_id)
    blocks.append(
        {
            "type": "actions",
            "block_id": "proposal",
            "elements": [
                button(
                    ActionId.APPROVE,
                    "Approve",
                    subject,
                    style="primary",
                    confirm=_approve_confirm(card),
                ),
                # Not red: Slack keeps danger for what cannot be undone.
                button(ActionId.REQUEST_CHANGES, "Request changes", subject),
            ],
        }
    )
    return Message(_proposal_text(card), blocks)


def _approve_confirm(card: ProposalCard) -> Block:
    whose = f"{card.customer}'s" if card.customer else "the customer's"
    if card.offered:
        what = f"{card.kind_label} {card.amount}" if card.amount else card.kind_label
        title = "Approve the offer?"
        text = (
            f"This offers {what} to the customer of {card.ref}; nothing moves until they accept it."
        )
    elif card.amount:
        title = "Approve refund?"
        text = f"This sends {card.amount} to {whose} card, for {card.ref}."
    else:
        title = "Approve?"
        text = f"This approves {card.kind_label} for {card.ref}; no money is sent."
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain("Approve", 30),
        "deny": plain("Cancel", 30),
    }


def request_changes_modal(card: ProposalCard) -> Block:
    """Asks what should change; the proposer reads the answer in the thread and in a DM."""
    return {
        "type": "modal",
        "callback_id": ActionId.REQUEST_CHANGES_MODAL.value,
        "private_metadata": Subject(dispute=card.number, proposal=card.proposal_id).encode(),
        "title": plain("Request changes", 24),
        "submit": plain("Send back", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*{card.title}:* {inline(card.kind_label, 200)}"),
            input_block(
                "reason",
                "What should change?",
                text_input(multiline=True, max_length=TEXT_MAX),
                optional=False,
                hint="Posted in the dispute's thread and sent to the proposer",
            ),
        ],
    }


def offer_line(expires_at: datetime) -> str:
    """What an approval that put the option to the customer adds."""
    return (
        f"The offer went to the customer, who has until {date(expires_at)} to accept; nothing "
        "moves until they do."
    )


def _decided_by(card: ProposalCard, decision: Decision, decided_by: str, reason: str | None) -> str:
    if decision == "approved":
        approved = f":white_check_mark: Approved by {user(decided_by)}"
        if card.offer_expires_at is not None:
            return f"{approved}. {offer_line(card.offer_expires_at)}"
        return approved
    outcome = f":leftwards_arrow_with_hook: Changes requested by {user(decided_by)}"
    return labelled(f"{outcome}:", reason, QUOTE_MAX) if reason else outcome


def proposal_decided(
    card: ProposalCard,
    *,
    decision: Decision,
    decided_by: str,
    reason: str | None = None,
) -> Message:
    """The same proposal once decided: no buttons, and who decided (and why, when sent back)."""
    blocks = _proposal_blocks(card)
    blocks.append(section(_decided_by(card, decision, decided_by, reason)))
    done = "approved" if decision == "approved" else "sent back for changes"
    if decision == "approved" and card.offer_expires_at is not None:
        done = "approved and offered to the customer"
    return Message(f"{card.title}: {done}", blocks)


def proposer_told(
    card: ProposalCard,
    *,
    decision: Decision,
    decided_by: str,
    reason: str | None,
    permalink: str | None,
) -> Message:
    """A direct message to the proposer: their proposal was approved or sent back."""
    there = f" {link(permalink, 'Open the thread')}" if permalink else ""
    what = inline(card.kind_label, 200) + (f" {inline(card.amount, 100)}" if card.amount else "")
    if decision == "approved":
        text = f":white_check_mark: {user(decided_by)} approved your {card.title} ({what})."
        if card.offer_expires_at is not None:
            text += f" {offer_line(card.offer_expires_at)}"
    else:
        head = f":leftwards_arrow_with_hook: {user(decided_by)} asked for changes to your "
        head += f"{card.title} ({what})"
        text = labelled(f"{head}:", reason, QUOTE_MAX) if reason else head + "."
    done = "approved" if decision == "approved" else "sent back for changes"
    return Message(f"Your {card.title} was {done}", [section(text + there)])


def _alert_facts(card: ProposalCard) -> str:
    facts = [f"{inline(card.kind_label, 200)}"]
    if card.amount:
        facts.append(f"*{inline(card.amount, 100)}*")
    if card.customer:
        facts.append(f"customer {inline(card.customer, 200)}")
    facts.append(f"proposed by {user(card.proposer)}")
    return " · ".join(facts)


def supervisor_ping(card: ProposalCard, permalink: str | None, reason: str) -> Message:
    """The supervisors' alert: what is waiting, for whom, why, and a link to the thread."""
    there = f"\n{link(permalink, 'Open the thread')}" if permalink else ""
    head = f":rotating_light: *{card.title}* needs a supervisor:"
    text = labelled(head, reason, QUOTE_MAX) + f"\n{_alert_facts(card)}"
    fallback = f"{card.title} needs a supervisor: {inline(reason, 1000)}"
    return Message(fallback, [section(text + there)])


def supervisor_ping_handled(
    card: ProposalCard,
    permalink: str | None,
    reason: str,
    *,
    decision: Decision,
    decided_by: str,
    decided_at: str,
) -> Message:
    """The same alert once someone has acted on the proposal: who, when and the outcome."""
    there = f"\n{link(permalink, 'Open the thread')}" if permalink else ""
    done = "approved" if decision == "approved" else "sent back for changes"
    head = f":white_check_mark: *{card.title}* needed a supervisor:"
    text = labelled(head, reason, QUOTE_MAX) + f"\n{_alert_facts(card)}"
    handled = f"\n*Handled:* {done} by {user(decided_by)} {decided_at}"
    return Message(f"{card.title}: {done}", [section(text + handled + there)])
