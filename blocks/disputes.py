"""Messages about one dispute: the thread's parent, the evidence card, summaries."""

from __future__ import annotations

from typing import Any

from blocks.evidence import evidence_sections
from blocks.ledger import earlier_blocks, ledger_blocks
from blocks.text import Message, clip, context, date, divider, escape, header, section, user
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
    "resolved": ":checkered_flag:",
    "escalated": ":rotating_light:",
    "withdrawn": ":heavy_minus_sign:",
    "reopened": ":leftwards_arrow_with_hook:",
}


def title(dispute: Dispute) -> str:
    return f"{dispute.ref} · {dispute.order_id} · {dispute.reason.label} · {dispute.status.label}"


def _facts(dispute: Dispute) -> str:
    amount = dispute.disputed_amount
    parts = [
        f"Customer: {escape(dispute.customer_name or dispute.customer_id or 'unknown')}",
        f"Disputed: {amount}" if amount else f"Order total: {dispute.order_total}",
        f"Priority: {dispute.priority}",
        f"Opened by {user(dispute.opened_by)} {date(dispute.created_at, with_time=True)}",
    ]
    return " · ".join(parts)


def parent_message(dispute: Dispute) -> Message:
    emoji = STATUS_EMOJI.get(dispute.status.value, "")
    blocks: list[dict[str, Any]] = [section(f"{emoji} *{escape(title(dispute))}*")]
    if dispute.claim:
        blocks.append(section(f"> {escape(clip(dispute.claim, 2800))}"))
    blocks.append(context(_facts(dispute)))
    return Message(title(dispute), blocks)


MAX_MESSAGE_BLOCKS = 50
MAX_GAPS = 5


def evidence_card(case: CaseFile) -> Message:
    dispute = case.dispute
    tail: list[dict[str, Any]] = []
    money = ledger_blocks(case.ledger) + earlier_blocks(case.earlier)
    if money:
        tail += [divider(), *money]
    tail += [divider(), section("*Checklist*\n" + checklist_text(case))]
    for gap in case.unavailable[:MAX_GAPS]:
        kinds = ", ".join(kind.label for kind in gap.kinds)
        tail.append(
            context(f":warning: {escape(gap.source)} unavailable ({escape(gap.reason)}): {kinds}")
        )
    room = MAX_MESSAGE_BLOCKS - 1 - len(tail)
    blocks = [header(f"Evidence · {dispute.ref} · {dispute.order_id}")]
    blocks += evidence_sections(case)[:room]
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


def summary(case: CaseFile, permalink: str | None) -> Message:
    dispute = case.dispute
    missing = ", ".join(kind.label for kind in case.missing_required) or "none"
    lines = [
        f"*{escape(title(dispute))}*",
        _facts(dispute),
        f"Evidence: {len(case.evidence)} items · required missing: {missing}",
        f"Owner: {user(dispute.owner_id)} · last change {date(dispute.updated_at, with_time=True)}",
    ]
    if permalink:
        lines.append(f"<{permalink}|Open the thread>")
    return Message(title(dispute), [section("\n".join(lines))])


def opened(dispute: Dispute, permalink: str | None) -> Message:
    link = f" <{permalink}|Open the thread>" if permalink else ""
    return Message(
        f"Opened {dispute.ref} for {dispute.order_id}.",
        [section(f":white_check_mark: Opened *{dispute.ref}* for {dispute.order_id}.{link}")],
    )


def already_open(dispute: Dispute, permalink: str | None) -> Message:
    link = f" <{permalink}|Go to its thread>" if permalink else ""
    text = (
        f"{dispute.order_id} already has an open dispute, {dispute.ref} "
        f"({dispute.status.label.lower()}). Nothing new was created."
    )
    return Message(text, [section(f":information_source: {escape(text)}{link}")])


def thread_not_posted(dispute: Dispute, error: str) -> Message:
    text = (
        f"Opened {dispute.ref} for {dispute.order_id}, but its thread could not be posted "
        f"(Slack said `{error}`). Nothing is lost: `/dispute show {dispute.ref}` posts it again."
    )
    return Message(text, [section(f":warning: {escape(text)}")])


def customer_reply(sender: str, body: str) -> Message:
    text = f"The customer ({sender}) replied: {clip(body, 200)}"
    return Message(
        text,
        [
            section(f":incoming_envelope: *The customer replied* ({escape(sender)})"),
            section("> " + escape(clip(body, 2800)).replace("\n", "\n> ")),
        ],
    )
