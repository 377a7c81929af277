"""A proposal in the dispute's thread, its decision, and the supervisors' ping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from blocks.ids import ActionId, Subject
from blocks.kit import Block, button, plain, section
from blocks.text import QUOTE_MAX, Message, clip_escaped, inline, labelled, link, quote, user

Decision = Literal["approved", "changes_requested"]
OUTSIDE_POLICY_FLAG = ":warning: outside policy — a supervisor must approve"
SUPERVISOR_FLAG = ":warning: over the manager's limit — a supervisor must approve"


@dataclass(frozen=True, slots=True)
class ProposalCard:
    """What a proposal message shows, before and after it is decided."""

    ref: str
    number: int
    proposal_id: int
    kind_label: str
    amount: str | None
    note: str
    proposer: str
    outside_policy: bool
    needs_supervisor: bool
    justification: str | None


def _proposal_blocks(card: ProposalCard) -> list[Block]:
    head = (
        f":memo: *Proposal {card.proposal_id} for {inline(card.ref, 100)}:* "
        f"{inline(card.kind_label, 200)}"
    )
    if card.amount:
        head += f" · *{inline(card.amount, 100)}*"
    blocks = [section(f"{head}\nProposed by {user(card.proposer)}")]
    if card.note:
        blocks.append(section(quote(card.note)))
    flags = []
    if card.outside_policy:
        flags.append(OUTSIDE_POLICY_FLAG)
    elif card.needs_supervisor:
        flags.append(SUPERVISOR_FLAG)
    if card.justification:
        flags.append(labelled("*Justification:*", card.justification, QUOTE_MAX))
    if flags:
        blocks.append(section("\n".join(flags)))
    return blocks


def _proposal_text(ref: str, kind_label: str, amount: str | None, proposer: str) -> str:
    what = f"{inline(kind_label, 200)} {inline(amount, 100)}" if amount else inline(kind_label, 200)
    return clip_escaped(f"{inline(ref, 100)}: {what} proposed by {user(proposer)}", 3000)


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
                    confirm=_approve_confirm(card.ref, card.kind_label, card.amount),
                ),
                button(ActionId.REQUEST_CHANGES, "Request changes", subject, style="danger"),
            ],
        }
    )
    return Message(_proposal_text(card.ref, card.kind_label, card.amount, card.proposer), blocks)


def _approve_confirm(ref: str, kind_label: str, amount: str | None) -> Block:
    if amount:
        title, text = "Approve refund?", f"This sends {amount} to the customer's card."
    else:
        title, text = "Approve?", f"This approves {kind_label} for {ref}; no money is sent."
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain("Approve", 30),
        "deny": plain("Cancel", 30),
    }


def proposal_decided(
    card: ProposalCard,
    *,
    decision: Decision,
    decided_by: str,
    reason: str | None = None,
) -> Message:
    """The same proposal once decided: no buttons, and who decided."""
    blocks = _proposal_blocks(card)
    if decision == "approved":
        outcome = f":white_check_mark: Approved by {user(decided_by)}"
    else:
        outcome = f":leftwards_arrow_with_hook: Changes requested by {user(decided_by)}"
        if reason:
            outcome = labelled(f"{outcome}:", reason, QUOTE_MAX)
    blocks.append(section(outcome))
    done = "approved" if decision == "approved" else "sent back for changes"
    return Message(f"{inline(card.ref, 100)}: proposal {card.proposal_id} {done}", blocks)


def supervisor_ping(ref: str, permalink: str | None, reason: str) -> Message:
    """A short note in the supervisors' channel pointing at the dispute's thread."""
    there = f" {link(permalink, 'Open the thread')}" if permalink else ""
    text = labelled(f":rotating_light: *{inline(ref, 100)}* needs a supervisor:", reason, QUOTE_MAX)
    fallback = f"{inline(ref, 100)} needs a supervisor: {inline(reason, 1000)}"
    return Message(fallback, [section(text + there)])
