"""The supervisors' digest of bottleneck alerts, and the daily summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blocks.disputes import SLA_STAGES
from blocks.ids import ActionId, Subject
from blocks.kit import button, context, header, section
from blocks.text import Message, date, inline, link, user
from disputes.alerts import AlertLine, DigestView, Kind, State
from disputes.lifecycle import Status
from disputes.models import dispute_ref
from domain.reasons import Reason

REASONS = frozenset(reason.value for reason in Reason)
MAX_LINES = 20  # two blocks each, under a message's 50


def digest_message(view: DigestView, links: Mapping[int, str] | None = None) -> Message:
    """The alerts a scan found: each names its dispute, what is late, the owner, with Take and
    Snooze; `links` are the disputes' thread permalinks by number."""
    lines = list(view.lines)
    noun = "alert" if len(lines) == 1 else "alerts"
    text = f"Bottlenecks: {len(lines)} new {noun}"
    blocks: list[dict[str, Any]] = [
        header(f":rotating_light: {text}"),
        context(
            f"Found {date(view.created_at, with_time=True)} · `/dispute queue stuck` lists "
            "every late dispute"
        ),
    ]
    for line in lines[:MAX_LINES]:
        blocks.extend(_line_blocks(line, (links or {}).get(line.number or 0)))
    if len(lines) > MAX_LINES:
        blocks.append(context(f"…and {len(lines) - MAX_LINES} more: `/dispute queue stuck`."))
    return Message(text, blocks)


def _line_blocks(line: AlertLine, permalink: str | None) -> list[dict[str, Any]]:
    blocks = [section(line_text(line, permalink))]
    if line.number is None:
        return blocks
    state = _state_text(line)
    if state:
        blocks.append(context(state))
        return blocks
    subject = Subject(dispute=line.number, alert=line.alert_id)
    elements = [
        button(ActionId.ALERT_TAKE, "Take", subject, style="primary"),
        button(ActionId.ALERT_SNOOZE, "Snooze", subject),
    ]
    blocks.append({"type": "actions", "block_id": f"alert-{line.alert_id}", "elements": elements})
    return blocks


def _state_text(line: AlertLine) -> str:
    """Why the line has no buttons any more: snoozed, or its dispute closed."""
    if line.state is State.SNOOZED and line.snoozed_by:
        until = date(line.snoozed_until, with_time=True)
        return f":zzz: Snoozed by {user(line.snoozed_by)} until {until}"
    if line.status and not Status(line.status).is_open:
        return f"Now {Status(line.status).label.lower()}."
    return ""


def line_text(line: AlertLine, permalink: str | None = None) -> str:
    """One alert in words, escaped."""
    if line.kind is Kind.OVER_CAP:
        held, cap = line.details.get("open"), line.details.get("cap")
        return (
            f":scales: {user(line.person)} holds *{inline(held, 10)}* open disputes, over their "
            f"cap of {inline(cap, 10)}."
        )
    assert line.number is not None
    ref = dispute_ref(line.number)
    name = link(permalink, ref) if permalink else ref
    what = _what(line)
    again = " _(back from a snooze)_" if line.back_from_snooze else ""
    reason = Reason(line.reason).label if line.reason in REASONS else line.reason
    return (
        f"{what}{again}\n*{name}* · {inline(line.order_id, 100)} · {inline(reason, 60)} · "
        f"priority {inline(line.priority, 20)} · Owner: {user(line.owner_id)}"
    )


def _what(line: AlertLine) -> str:
    stage = SLA_STAGES.get(line.stage, inline(line.stage, 40))
    due = date(line.details.get("due_at"), with_time=True)
    if line.kind is Kind.BREACHED:
        if line.stage == "awaiting_customer":
            return f":red_circle: *Waiting on the customer too long* (was due {due})"
        return f":red_circle: *{stage} overdue* (was due {due})"
    if line.kind is Kind.WARNING:
        return f":large_yellow_circle: *{stage} nearly due* (due {due})"
    if line.kind is Kind.UNASSIGNED:
        return f":bust_in_silhouette: *{inline(line.stage, 20)} priority, and nobody owns it*"
    return ":warning: *The refund needs attention*: the provider has not confirmed it"


def summary_message(view: DigestView) -> Message:
    """The day's summary: open disputes by level, stuck ones by stage and owner, unassigned."""
    counts = view.summary
    text = (
        f"Daily summary: {counts.get('open', 0)} open, {counts.get('breached', 0)} overdue, "
        f"{counts.get('warning', 0)} nearly due, {counts.get('unassigned', 0)} unassigned"
    )
    stages = counts.get("stuck_by_stage") or {}
    by_stage = " · ".join(
        f"{SLA_STAGES.get(str(stage), inline(stage, 40))}: {inline(count, 10)}"
        for stage, count in sorted(stages.items())
    )
    owners = counts.get("stuck_by_owner") or []
    by_owner = " · ".join(f"{user(str(owner))}: {inline(count, 10)}" for owner, count in owners)
    blocks = [header(":bar_chart: Daily summary"), section(text + ".")]
    if by_stage:
        blocks.append(section(f"*Late by stage*: {by_stage}"))
    if by_owner:
        blocks.append(section(f"*Late by owner*: {by_owner}"))
    blocks.append(context("`/dispute queue team` shows the team's queue."))
    return Message(text, blocks)
