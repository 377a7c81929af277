"""The App Home tab: the open disputes at a glance."""

from __future__ import annotations

from typing import Any

from blocks.disputes import STATUS_EMOJI, title
from blocks.kit import context, divider, header, section
from blocks.text import date, escape, inline
from disputes.models import Dispute

MAX_LISTED = 45  # two blocks each, under the Home tab's 100


MAX_NAMED = 10  # failed refunds named in the attention line


def home_view(
    disputes: list[Dispute],
    failed: tuple[int, list[Dispute]] = (0, []),
    attention: tuple[int, list[Dispute]] = (0, []),
) -> dict[str, Any]:
    """The open disputes, newest first, after lines naming refunds whose outcome stayed unknown
    (`attention`) and refunds that failed (`failed`): how many, and the longest-waiting."""
    blocks: list[dict[str, Any]] = [
        header("Dispute Desk"),
        section(
            "Open a dispute with `/dispute open ORDER-ID [reason] [claim]`; "
            "`/dispute help` lists every command."
        ),
    ]
    if attention[0]:
        blocks.append(refunds_needing_attention(*attention))
    if failed[0]:
        blocks.append(failed_refunds(*failed))
    blocks.append(divider())
    if not disputes:
        blocks.append(section("_No open disputes._"))
    for dispute in disputes[:MAX_LISTED]:
        emoji = STATUS_EMOJI.get(dispute.status.value, "")
        amount = dispute.disputed_amount or dispute.order_total
        blocks.append(section(f"{emoji} *{title(dispute)}*"))
        blocks.append(
            context(
                f"Customer {inline(dispute.customer_name or 'unknown', 200)} · {escape(amount)} · "
                f"priority {inline(dispute.priority, 40)} · opened {date(dispute.created_at)}"
            )
        )
    return {"type": "home", "blocks": blocks}


def _named(total: int, waiting: list[Dispute]) -> str:
    named = ", ".join(f"D-{d.number}" for d in waiting[:MAX_NAMED])
    more = f" and {total - MAX_NAMED} more" if total > MAX_NAMED else ""
    return named + more


def failed_refunds(total: int, waiting: list[Dispute]) -> dict[str, Any]:
    """Refunds the provider refused: each waits for someone to Retry."""
    noun = "refund" if total == 1 else "refunds"
    return section(
        f":x: *{total} {noun} failed* and wait for a *Retry* in the dispute's thread: "
        f"{_named(total, waiting)}. `/dispute show D-&lt;n&gt;` links to the thread."
    )


def refunds_needing_attention(total: int, waiting: list[Dispute]) -> dict[str, Any]:
    """Refunds whose outcome stayed unknown too long, or that the provider holds oddly."""
    noun, verb = ("refund", "needs") if total == 1 else ("refunds", "need")
    return section(
        f":warning: *{total} {noun} {verb} attention*: the provider has not confirmed them "
        f"(it is still asked in the background): {_named(total, waiting)}. Check each payment "
        "in the provider's dashboard."
    )
