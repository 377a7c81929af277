"""Review and resolution: the resolution modal, proposals, approvals and refund outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from blocks.ids import ActionId, Subject
from blocks.labels import resolution_label
from blocks.text import (
    QUOTE_MAX,
    Message,
    clip,
    clip_escaped,
    context,
    inline,
    labelled,
    link,
    plain,
    quote,
    section,
    user,
)
from disputes.models import PROPOSABLE
from domain.evidence import EvidenceKind
from domain.resolutions import Resolution

Block = dict[str, Any]

REVIEW_OPTIONS = PROPOSABLE
OUTSIDE_POLICY = "(outside policy — needs a supervisor)"
TEXT_MAX = 2500  # free text typed in a modal; leaves room in a 3000-character section
MAX_EVIDENCE_FILES = 10  # the most a file_input takes, and a message carries
OUTSIDE_POLICY_FLAG = ":warning: outside policy — a supervisor must approve"
SUPERVISOR_FLAG = ":warning: over the manager's limit — a supervisor must approve"


def button(
    action: ActionId, text: str, subject: Subject, *, style: str | None = None, **extra: Any
) -> Block:
    out: Block = {
        "type": "button",
        "action_id": action.value,
        "text": plain(text, 75),
        "value": subject.encode(),
    }
    if style:
        out["style"] = style
    return out | extra


def text_input(*, multiline: bool = False, initial: Any = None, **extra: Any) -> Block:
    element: Block = {"type": "plain_text_input", "multiline": multiline, **extra}
    if initial:
        # The person's own words, returned as typed: an input value, never rendered as mrkdwn.
        element["initial_value"] = clip(str(initial), element.get("max_length", 3000))
    return element


def input_block(
    name: str, label: str, element: Block, *, optional: bool = True, hint: str | None = None
) -> Block:
    """An input whose block_id and action_id are both `name`: handlers read values[name][name]."""
    block: Block = {
        "type": "input",
        "block_id": name,
        "label": plain(label, 2000),
        "element": element | {"action_id": name},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


# -- review -------------------------------------------------------------------------


def review_button(number: int) -> Block:
    subject = Subject(dispute=number)
    return {
        "type": "actions",
        "block_id": "review",
        "elements": [
            button(ActionId.START_REVIEW, "Start review", subject, style="primary"),
            button(ActionId.ADD_EVIDENCE, "Add evidence", subject),
        ],
    }


def _kind_option(resolution: Resolution, allowed: set[str]) -> Block:
    label = resolution_label(resolution)
    if resolution.value not in allowed:
        label = f"{label} {OUTSIDE_POLICY}"
    return {"text": plain(label, 75), "value": resolution.value}


def _summary(
    ref: str,
    currency: str,
    paid: str,
    refundable: str,
    recommended: str | None,
    allowed: list[str],
    fee_percent: int | None,
) -> Block:
    names = [resolution_label(r) for r in REVIEW_OPTIONS if r.value in allowed]
    lines = [
        f"*{inline(ref, 100)}* · paid {inline(paid, 100)} {inline(currency, 10)} · "
        f"refundable {inline(refundable, 100)} {inline(currency, 10)}",
        "*Recommended:* "
        + inline(
            recommended or "no rule recommends one: use judgement within the allowed options",
            1000,
        ),
        "*Allowed by policy:* " + (", ".join(names) or "none"),
    ]
    if fee_percent:
        lines.append(f"*Restocking fee:* {fee_percent}%")
    return section("\n".join(lines))


def resolution_modal(
    *,
    number: int,
    ref: str,
    currency: str,
    paid: str,
    refundable: str,
    recommended: str | None,
    allowed: list[str],
    missing_evidence: list[str],
    fee_percent: int | None,
    values: dict[str, Any] | None = None,
    recommended_kind: str | None = None,
    money_note: str | None = None,
) -> Block:
    """The guided resolution modal; `values` refills it (e.g. after "Request changes")."""
    values = values or {}
    allowed_set = set(allowed)
    blocks: list[Block] = [
        _summary(ref, currency, paid, refundable, recommended, allowed, fee_percent)
    ]
    if money_note:
        blocks.append(context(inline(money_note, 2000)))
    if missing_evidence:
        listed = ", ".join(inline(kind, 100) for kind in missing_evidence)
        blocks.append(
            section(
                f":warning: *Required evidence is missing:* {listed}.\n"
                "You may go on without it; your reason is kept in the audit log."
            )
        )
        blocks.append(
            input_block(
                "override_reason",
                "Why go on without it?",
                text_input(
                    multiline=True, initial=values.get("override_reason"), max_length=TEXT_MAX
                ),
                optional=False,
            )
        )
    options = [_kind_option(r, allowed_set) for r in REVIEW_OPTIONS]
    kind: Block = {"type": "radio_buttons", "options": options}
    chosen = values.get("kind") or recommended_kind
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is not None:
        kind["initial_option"] = initial
    blocks.append(input_block("kind", "Resolution", kind, optional=False))
    blocks.append(
        input_block(
            "amount",
            f"Amount ({currency})",
            text_input(initial=values.get("amount"), max_length=32),
            hint=f"e.g. 25.00 in {currency}, or leave empty with a percentage",
        )
    )
    percent: Block = {
        "type": "number_input",
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "100",
    }
    if values.get("percent") not in (None, ""):
        percent["initial_value"] = str(values["percent"])
    blocks.append(input_block("percent", "Percentage of the paid amount", percent))
    blocks.append(
        input_block(
            "note",
            "Note for the thread",
            text_input(multiline=True, initial=values.get("note"), max_length=TEXT_MAX),
        )
    )
    blocks.append(
        input_block(
            "justification",
            "Justification",
            text_input(multiline=True, initial=values.get("justification"), max_length=TEXT_MAX),
            hint="required for options outside policy",
        )
    )
    return {
        "type": "modal",
        "callback_id": ActionId.PROPOSE.value,
        "private_metadata": Subject(dispute=number).encode(),
        "title": plain(f"Resolve {ref}", 24),
        "submit": plain("Propose", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def field_errors(errors: dict[str, str]) -> dict[str, Any]:
    """A view_submission answer that shows each message under its input block."""
    return {"response_action": "errors", "errors": dict(errors)}


# -- proposals ----------------------------------------------------------------------


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
    decision: Literal["approved", "changes_requested"],
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


# -- refunds ------------------------------------------------------------------------


def refund_alert(
    ref: str, amount: str, status: str, detail: str | None, permalink: str | None
) -> Message:
    """For the supervisors' channel: a refund that needs a person (unknown too long, a refund
    the provider holds oddly, or one paid more than once)."""
    there = f" {link(permalink, 'Open the thread')}" if permalink else ""
    what = "was refunded more than once" if status == "duplicate" else "needs attention"
    shown, where = inline(amount, 100), inline(ref, 100)
    text = f":rotating_light: The refund of *{shown}* for *{where}* {what}"
    if detail:
        text = labelled(f"{text}:", detail, QUOTE_MAX)
    return Message(f"{where}: the refund of {shown} {what}", [section(text + there)])


RefundNews = Literal["succeeded", "duplicate", "failed", "unknown", "needs_attention", "found"]


def refund_outcome(
    *,
    ref: str,
    number: int,
    request_id: str,
    status: RefundNews,
    amount: str,
    provider_refund_ids: tuple[str, ...] | list[str] = (),
    detail: str | None = None,
) -> Message:
    """A change in a refund's state, in the thread: one message per change, never per attempt.
    A refused one carries a Retry button (which asks the provider before sending anything)."""
    shown, where = inline(amount, 100), inline(ref, 100)
    why = f" ({inline(detail, 1000)})" if detail else ""
    ids = ", ".join(f"`{inline(i, 200)}`" for i in list(provider_refund_ids)[:10])
    heads = {
        "succeeded": f":white_check_mark: Refunded *{shown}* for {where}.",
        "found": (
            f":white_check_mark: The provider holds refund {ids} for {where}: *{shown}* was "
            "refunded after all. Nothing new was sent."
        ),
        "duplicate": (
            f":rotating_light: *{shown}* for {where} was refunded *more than once*: the provider "
            f"holds {ids} for this one request. Supervisors have been told; recover the extra "
            "with the payments team."
        ),
        "failed": f":x: The refund of *{shown}* for {where} was refused{why}.",
        "unknown": (
            f":hourglass_flowing_sand: The refund of *{shown}* for {where} was sent, but its "
            f"outcome is not known yet{why}. Nothing is sent again before the provider has been "
            "asked; this thread says when it settles."
        ),
        "needs_attention": (
            f":warning: The refund of *{shown}* for {where} *needs attention*{why}. The provider "
            "is still asked in the background; check the payment in its dashboard."
        ),
    }
    facts = [f"Request `{inline(request_id, 200)}`"]
    if ids and status in ("succeeded", "unknown", "needs_attention"):
        facts.append(f"refund {ids}")
    blocks: list[Block] = [section(heads[status]), context(" · ".join(facts))]
    if status == "failed":
        blocks.append(
            {
                "type": "actions",
                "block_id": "refund",
                "elements": [
                    button(ActionId.RETRY_REFUND, "Retry", Subject(dispute=number), style="primary")
                ],
            }
        )
    words = {
        "succeeded": "refunded",
        "found": "refunded, found at the provider",
        "duplicate": "refunded more than once",
        "failed": "refused",
        "unknown": "sent, outcome not known yet",
        "needs_attention": "needs attention",
    }
    return Message(f"{where}: refund of {shown} {words[status]}", blocks)


# -- evidence -----------------------------------------------------------------------


def evidence_modal(number: int, kinds: Sequence[EvidenceKind] = tuple(EvidenceKind)) -> Block:
    """The "Add evidence" modal: what kind (of those the person may add), a note, and an
    optional link and files."""
    options = [{"text": plain(kind.label, 75), "value": kind.value} for kind in kinds]
    blocks = [
        input_block("kind", "Kind", {"type": "static_select", "options": options}, optional=False),
        input_block(
            "note", "What it shows", text_input(multiline=True, max_length=TEXT_MAX), optional=False
        ),
        input_block(
            "link",
            "Link",
            text_input(placeholder=plain("https://…", 150)),
            hint="A tracking page, a helpdesk ticket or a shared document",
        ),
        input_block(
            "file",
            "Files",
            {"type": "file_input", "max_files": MAX_EVIDENCE_FILES},
            hint="Photos of the item, a receipt, the warehouse report",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ActionId.EVIDENCE_MODAL.value,
        "private_metadata": Subject(dispute=number).encode(),
        "title": plain("Add evidence", 24),
        "submit": plain("Add", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }
