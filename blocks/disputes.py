"""Messages about one dispute: the thread's parent, the evidence card, summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from blocks.contact import masked_within
from blocks.conversation import message_customer_button
from blocks.evidence_details import evidence_sections
from blocks.ids import ActionId, Subject
from blocks.kit import button, context, divider, header, section
from blocks.labels import resolution_label
from blocks.ledger import earlier_blocks, ledger_blocks
from blocks.notes import note_blocks, notes_line
from blocks.text import Message, date, escape, inline, link, quote, user
from disputes.models import CaseFile, Dispute

STATUS_EMOJI = {
    "new": ":new:",
    "evidence_ready": ":card_index_dividers:",
    "in_review": ":mag:",
    "proposed": ":memo:",
    "approved": ":white_check_mark:",
    "executing": ":hourglass_flowing_sand:",
    "execution_failed": ":x:",
    "needs_attention": ":warning:",
    "awaiting_customer": ":envelope:",
    "offer_expired": ":alarm_clock:",
    "resolved": ":checkered_flag:",
    "escalated": ":rotating_light:",
    "withdrawn": ":heavy_minus_sign:",
    "reopened": ":leftwards_arrow_with_hook:",
}


def title(dispute: Dispute) -> str:
    """The dispute's one-line name, escaped: fit for any text field as it is."""
    return (
        f"{dispute.ref} · {inline(dispute.order_id, 100)} · {dispute.reason.label} · "
        f"{dispute.status.label}"
    )


def _facts(dispute: Dispute) -> str:
    amount = dispute.disputed_amount
    parts = [
        f"Customer: {inline(dispute.customer_name or dispute.customer_id or 'unknown', 200)}",
        f"Disputed: {escape(amount)}" if amount else f"Order total: {escape(dispute.order_total)}",
        f"Priority: {inline(dispute.priority, 40)}",
        f"Opened by {user(dispute.opened_by)} {date(dispute.created_at, with_time=True)}",
    ]
    return " · ".join(parts)


SLA_STAGES = {
    "first_response": "First response",
    "in_review": "Review",
    "awaiting_approval": "Approval",
    "awaiting_customer": "Customer's answer",
    "executing": "Carrying out",
}
SLA_LEVELS = {
    "ok": ":large_green_circle: on time",
    "warning": ":large_yellow_circle: nearly due",
    "breached": ":red_circle: overdue",
}


def sla_line(stage: str, due_at: datetime, level: str) -> str:
    """The running stage's clock: "SLA: Review due <date> · :red_circle: overdue"."""
    name = SLA_STAGES.get(stage, inline(stage, 40))
    shown = SLA_LEVELS.get(level, inline(level, 20))
    verb = "was due" if level == "breached" else "due"
    return f"SLA: {name} {verb} {date(due_at, with_time=True)} · {shown}"


def parent_message(dispute: Dispute) -> Message:
    emoji = STATUS_EMOJI.get(dispute.status.value, "")
    blocks: list[dict[str, Any]] = [section(f"{emoji} *{title(dispute)}*")]
    if dispute.claim:
        blocks.append(section(quote(dispute.claim)))
    blocks.append(context(f"{_facts(dispute)} · Owner: {user(dispute.owner_id)}"))
    if dispute.status.is_open and dispute.sla_stage and dispute.sla_due_at:
        blocks.append(context(sla_line(dispute.sla_stage, dispute.sla_due_at, dispute.sla_level)))
    if dispute.status.is_open:
        take = button(ActionId.TAKE, "Take", Subject(dispute=dispute.number))
        blocks.append({"type": "actions", "block_id": "owner", "elements": [take]})
    return Message(title(dispute), blocks)


MAX_MESSAGE_BLOCKS = 50
MAX_GAPS = 5
MAX_LISTED_EVIDENCE = 100  # evidence lines in `/dispute show`
EVIDENCE_LINE = 150


def evidence_card(case: CaseFile) -> Message:
    """The case file in the thread; when its items do not all fit one message, a line says
    how many were left out and where they are listed."""
    dispute = case.dispute
    tail: list[dict[str, Any]] = []
    money = ledger_blocks(case.ledger) + earlier_blocks(case.earlier)
    if money:
        tail += [divider(), *money]
    tail += [divider(), section("*Checklist*\n" + checklist_text(case))]
    if case.note_count:
        tail.append(context(notes_line(case)))
    for gap in case.unavailable[:MAX_GAPS]:
        kinds = ", ".join(kind.label for kind in gap.kinds)
        tail.append(
            context(
                f":warning: {inline(gap.source, 100)} unavailable ({inline(gap.reason, 300)}): "
                f"{kinds}"
            )
        )
    room = MAX_MESSAGE_BLOCKS - 1 - len(tail)
    blocks = [header(f"Evidence · {dispute.ref} · {dispute.order_id}")]
    sections = evidence_sections(case)
    if len(sections) > room:
        shown = room - 1
        blocks += sections[:shown]
        blocks.append(
            context(f"…and {len(sections) - shown} more: `/dispute show {dispute.ref}` lists them.")
        )
    else:
        blocks += sections
    missing = case.missing_required
    return Message(
        f"Evidence for {dispute.ref}: {len(case.evidence)} items, {len(missing)} required missing",
        blocks + tail,
    )


def checklist_text(case: CaseFile) -> str:
    lines = []
    for entry in case.checklist:
        if entry.present:
            mark = ":white_check_mark:"
        elif entry.required:
            mark = ":x:"
        else:
            mark = ":white_circle:"
        need = "" if entry.present or not entry.required else " — *required, missing*"
        lines.append(f"{mark} {entry.kind.label}{need}")
    return "\n".join(lines)


def evidence_lines(case: CaseFile) -> list[str]:
    """One line per piece of evidence: its kind and the first line of its summary."""
    lines = [
        f"• *{item.kind.label}* · {inline(item.summary, EVIDENCE_LINE)}"
        for item in case.evidence[:MAX_LISTED_EVIDENCE]
    ]
    if len(case.evidence) > MAX_LISTED_EVIDENCE:
        lines.append(f"…and {len(case.evidence) - MAX_LISTED_EVIDENCE} more")
    return lines


def _in_sections(lines: list[str], limit: int = 3000) -> list[dict[str, Any]]:
    """`lines` packed into as few sections as fit, none over `limit` characters."""
    blocks, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > limit:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks


def outcome_text(case: CaseFile) -> str:
    """How a closed dispute ended, in one line: what was decided and refunded, by whom, when."""
    dispute, outcome = case.dispute, case.outcome
    if outcome is None:
        return f"*{dispute.status.label}* · nothing was approved"
    what = resolution_label(outcome.resolution)
    if outcome.amount is not None:
        what += f" {outcome.amount}"
    line = f"*{dispute.status.label}:* {what}"
    if outcome.approved_by:
        line += f", approved by {user(outcome.approved_by)}"
    if outcome.approved_at:
        line += f" {date(outcome.approved_at, with_time=True)}"
    if outcome.refunded_minor:
        line += f" · refunded {outcome.refunded}"
    return line


def summary(case: CaseFile, permalink: str | None, *, messaging: bool = False) -> Message:
    """`/dispute show`: the dispute, its evidence, and (`messaging`, while it is open) a
    "Message customer" button."""
    dispute = case.dispute
    missing = ", ".join(kind.label for kind in case.missing_required) or "none"
    lines = [
        f"*{title(dispute)}*",
        _facts(dispute),
        f"Evidence: {len(case.evidence)} items · required missing: {missing}",
        f"Owner: {user(dispute.owner_id)} · last change {date(dispute.updated_at, with_time=True)}",
    ]
    if case.note_count:
        lines.insert(3, notes_line(case))
    if not dispute.status.is_open:
        lines.insert(2, outcome_text(case))
    if permalink:
        lines.append(link(permalink, "Open the thread"))
    blocks = [section("\n".join(lines))]
    if messaging and dispute.status.is_open:
        blocks.append(
            {
                "type": "actions",
                "block_id": "show",
                "elements": [message_customer_button(dispute.number)],
            }
        )
    blocks += _in_sections(evidence_lines(case))
    blocks += note_blocks(case)
    return Message(title(dispute), blocks)


def _spelled(dispute: Dispute, typed: str | None) -> str:
    """Says which order id was used when it is not the one typed (`ord-1002` → `ORD-1002`)."""
    if typed is None or typed == dispute.order_id:
        return ""
    return f" (as the order system writes it; you typed {inline(typed, 100)})"


def opened(dispute: Dispute, permalink: str | None, typed: str | None = None) -> Message:
    order = inline(dispute.order_id, 100)
    there = f" {link(permalink, 'Open the thread')}" if permalink else ""
    spelled = _spelled(dispute, typed)
    return Message(
        f"Opened {dispute.ref} for {order}{spelled}.",
        [section(f":white_check_mark: Opened *{dispute.ref}* for {order}{spelled}.{there}")],
    )


def already_open(dispute: Dispute, permalink: str | None, typed: str | None = None) -> Message:
    there = f" {link(permalink, 'Go to its thread')}" if permalink else ""
    text = (
        f"Order {inline(dispute.order_id, 100)}{_spelled(dispute, typed)} already has an open "
        f"dispute, {dispute.ref} ({dispute.status.label.lower()}). Nothing new was created."
    )
    return Message(text, [section(f":information_source: {text}{there}")])


def thread_not_posted(dispute: Dispute, error: str | None) -> Message:
    """The answer to `open` when the dispute's thread is late: the thread outbox posts it."""
    said = f" (Slack said `{inline(error, 200)}`)" if error else ""
    text = (
        f"Opened {dispute.ref} for {inline(dispute.order_id, 100)}. Slack is busy{said}, so its "
        "thread is late: it will appear in the channel by itself, with its cards. Nothing is "
        "lost."
    )
    return Message(text, [section(f":hourglass_flowing_sand: {text}")])


REPLY_PREVIEW = 200


def customer_reply(sender: str, body: str) -> Message:
    """A customer's reply in the dispute's thread: a channel, so their address is masked."""
    shown = masked_within(sender)
    return Message(
        f"The customer ({shown}) replied: {inline(body, REPLY_PREVIEW)}",
        [
            section(f":incoming_envelope: *The customer replied* ({shown})"),
            section(quote(body)),
        ],
    )
