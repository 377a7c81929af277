"""The App Home tab: the open disputes at a glance."""

from __future__ import annotations

from typing import Any

from blocks.disputes import STATUS_EMOJI, title
from blocks.text import context, date, divider, escape, header, section
from disputes.models import Dispute

MAX_LISTED = 45  # two blocks each, under the Home tab's 100


def home_view(disputes: list[Dispute]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        header("Dispute Desk"),
        section(
            "Open a dispute with `/dispute open ORDER-ID [reason] [claim]`; "
            "`/dispute help` lists every command."
        ),
        divider(),
    ]
    if not disputes:
        blocks.append(section("_No open disputes._"))
    for dispute in disputes[:MAX_LISTED]:
        emoji = STATUS_EMOJI.get(dispute.status.value, "")
        amount = dispute.disputed_amount or dispute.order_total
        blocks.append(section(f"{emoji} *{escape(title(dispute))}*"))
        blocks.append(
            context(
                f"{escape(dispute.customer_name or 'unknown customer')} · {amount} · "
                f"priority {dispute.priority} · opened {date(dispute.created_at)}"
            )
        )
    return {"type": "home", "blocks": blocks}
