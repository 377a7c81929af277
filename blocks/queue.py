"""Queues as people read them: one line per dispute with its service-level clock and a link to
its thread, and the team's stuck disputes and load. Shared by `/dispute queue` and App Home."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from blocks.disputes import STATUS_EMOJI, title
from blocks.ids import ActionId, Subject
from blocks.kit import Block, button, context, header, plain, section
from blocks.labels import resolution_label
from blocks.text import Message, date, inline, safe_url
from disputes.models import Dispute
from disputes.queues import QueueItem, QueuePage, Team
from domain.money import Money

MESSAGE_ROWS = 25  # disputes listed in a `/dispute queue` answer (50 blocks at most)
TEAM_LINES = 25  # people (or stages) named per team list; the rest are counted
STAGE_LABELS = {
    "first_response": "First response",
    "in_review": "In review",
    "awaiting_approval": "Awaiting approval",
    "awaiting_customer": "Awaiting the customer",
    "executing": "Executing",
}
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")

# What each queue is called, and what it says when it is empty.
QUEUES = {
    "mine": ("My queue", "Nothing is assigned to you."),
    "approvals": ("Waiting for my approval", "No proposal waits for your approval."),
    "unassigned": ("Unassigned", "Every open dispute has an owner."),
    "stuck": ("Stuck", "No open dispute is near or past its service level."),
}


def span(delta: timedelta) -> str:
    """A duration as a person reads it: "2h 10m", "35m", "3d 4h"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def sla_state(item: QueueItem, now: datetime) -> str:
    """How the dispute's clock stands at `now`: "breaches in 2h 10m", "breached 35m ago"."""
    stage = STAGE_LABELS.get(item.stage or "", inline(item.stage or "", 40))
    if item.due_at is None:
        return "no service-level clock"
    left = item.due_at - now
    if left > timedelta(0):
        mark = ":warning: " if item.level == "warning" else ""
        when = (
            "breaches in under a minute"
            if left < timedelta(minutes=1)
            else f"breaches in {span(left)}"
        )
        return f"{mark}{stage}: {when} ({date(item.due_at, with_time=True)})"
    late = -left
    when = "breached just now" if late < timedelta(minutes=1) else f"breached {span(late)} ago"
    return f":rotating_light: {stage}: {when}"


def person(user_id: str | None) -> str:
    """A mention of a Slack user id; anything else as plain text."""
    if user_id is None:
        return "nobody"
    return f"<@{user_id}>" if _SLACK_USER.match(user_id) else inline(user_id, 40)


def thread_title(dispute: Dispute, url: str | None) -> str:
    """The dispute's name, linked to its thread when there is a link."""
    emoji = STATUS_EMOJI.get(dispute.status.value, "")
    safe = safe_url(url) if url else None
    name = f"<{safe}|{title(dispute)}>" if safe else title(dispute)
    return f"{emoji} *{name}*"


def row_text(item: QueueItem, url: str | None, now: datetime) -> str:
    dispute = item.dispute
    facts = [
        f"Priority *{inline(dispute.priority, 40)}*",
        f"Owner {person(dispute.owner_id)}",
        sla_state(item, now),
    ]
    lines = [thread_title(dispute, url), " · ".join(facts)]
    proposal = item.proposal
    if proposal is not None:
        what = f"Proposal {proposal.number}: {resolution_label(proposal.kind)}"
        if proposal.amount_minor is not None:
            what += f" · {inline(Money(proposal.amount_minor, proposal.currency), 60)}"
        supervisor = " · needs a supervisor" if proposal.needs_supervisor else ""
        lines.append(f"{what} · proposed by {person(proposal.proposed_by)}{supervisor}")
    return "\n".join(lines)


def take_button(number: int) -> Block:
    return button(ActionId.TAKE, "Take", Subject(dispute=number), style="primary")


def open_button(url: str | None) -> Block | None:
    """A link button to the thread (Slack still reports the click, which is acknowledged)."""
    if not url or safe_url(url) is None:
        return None
    return {
        "type": "button",
        "action_id": ActionId.HOME_OPEN.value,
        "text": plain("Open", 75),
        "url": url,
    }


def queue_row(
    item: QueueItem, url: str | None, now: datetime, *, take: bool, open_link: bool
) -> Block:
    """One dispute as one block: Take when `take` and nobody owns it, else Open when
    `open_link` and there is a thread."""
    accessory = None
    if take and item.dispute.owner_id is None:
        accessory = take_button(item.dispute.number)
    elif open_link:
        accessory = open_button(url)
    extra: dict[str, Any] = {"accessory": accessory} if accessory else {}
    return section(row_text(item, url, now), **extra)


def shown_range(page: QueuePage) -> str:
    """ "1–20 of 57" (or "57" when it all fits)."""
    if not page.items:
        return str(page.total)
    first, last = page.offset + 1, page.offset + len(page.items)
    of = f"{page.total}" if page.exact else f"at least {page.total}"
    if first == 1 and last == page.total:
        return of
    return f"{first}–{last} of {of}"


def queue_message(
    kind: str, page: QueuePage, links: Mapping[int, str], now: datetime, *, may_take: bool
) -> Message:
    """A `/dispute queue` answer: at most MESSAGE_ROWS disputes, and how many more there are."""
    name, empty = QUEUES[kind]
    blocks: list[Block] = [header(f"{name} ({shown_range(page)})")]
    if not page.items:
        blocks.append(section(f"_{empty}_"))
    for item in page.items[:MESSAGE_ROWS]:
        url = links.get(item.dispute.number)
        blocks.append(queue_row(item, url, now, take=may_take, open_link=False))
    shown = min(len(page.items), MESSAGE_ROWS)
    if page.total > shown:
        blocks.append(
            context(f"{page.total - shown} more not shown here: App Home pages through them all.")
        )
    return Message(f"{name}: {page.total} open disputes", blocks)


def team_lines(team: Team) -> list[str]:
    """The team's stuck disputes by stage and by owner, and each person's load, as mrkdwn
    sections' texts (each well under 3000 characters)."""
    if team.stuck_total:
        stages = _listed(
            [
                f"{STAGE_LABELS.get(stage or '', inline(stage or 'no stage', 40))}: "
                f"{_stuck(warning, breached)}"
                for stage, warning, breached in team.by_stage()
            ]
        )
        owners = _listed(
            [
                f"{person(owner)}: {_stuck(warning, breached)}"
                for owner, warning, breached in team.by_owner()
            ]
        )
        stuck = [f"*Stuck by stage* ({team.stuck_total})\n{stages}", f"*Stuck by owner*\n{owners}"]
    else:
        stuck = ["*Stuck*\n_No open dispute is near or past its service level._"]
    load = _listed(
        [
            f"{person(w.owner)}: {w.open} open · {w.high} high priority · {w.breaching} breaching"
            for w in team.workload
        ]
    )
    return [*stuck, f"*Workload*\n{load or '_Nobody holds an open dispute._'}"]


def team_message(team: Team) -> Message:
    blocks: list[Block] = [header("Team")]
    blocks += [section(text) for text in team_lines(team)]
    return Message(f"Team: {team.stuck_total} stuck disputes", blocks)


def _stuck(warning: int, breached: int) -> str:
    parts = []
    if breached:
        parts.append(f"{breached} breached")
    if warning:
        parts.append(f"{warning} warning")
    return ", ".join(parts)


def _listed(lines: list[str]) -> str:
    shown = [f"• {line}" for line in lines[:TEAM_LINES]]
    if len(lines) > TEAM_LINES:
        shown.append(f"• and {len(lines) - TEAM_LINES} more")
    return "\n".join(shown)
