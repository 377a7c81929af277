"""The review: the buttons on the evidence card and the guided resolution modal."""

from __future__ import annotations

from typing import Any

from blocks.conversation import message_customer_button
from blocks.disputes import outcome_text
from blocks.ids import ActionId, Subject
from blocks.kit import TEXT_MAX, Block, button, context, input_block, plain, section, text_input
from blocks.labels import resolution_label
from blocks.text import inline
from disputes.models import PROPOSABLE, CaseFile
from domain.resolutions import MONEY_KINDS, Resolution

REVIEW_OPTIONS = PROPOSABLE
OUTSIDE_POLICY = "(outside policy — needs a supervisor)"


def review_actions(case: CaseFile, *, messaging: bool = False) -> Block:
    """The review's buttons while the dispute is open (with "Message customer" when customer
    messaging is on); once closed, how it ended instead."""
    if not case.dispute.status.is_open:
        return context(f":lock: {outcome_text(case)}")
    return review_button(case.dispute.number, messaging=messaging)


def review_button(number: int, *, messaging: bool = False) -> Block:
    subject = Subject(dispute=number)
    elements = [
        button(ActionId.START_REVIEW, "Start review", subject, style="primary"),
        button(ActionId.ADD_EVIDENCE, "Add evidence", subject),
    ]
    if messaging:
        elements.append(message_customer_button(number))
    return {"type": "actions", "block_id": "review", "elements": elements}


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
    if chosen in MONEY_KINDS:
        chosen = None  # money is never a default: whoever sends it picks it and its amount
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
