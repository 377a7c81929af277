"""Queue pages for tests of what is shown: disputes with clocks, paged as the service pages them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from disputes.models import Dispute
from disputes.queues import PendingProposal, QueueItem, QueuePage, StuckCount, Team, Workload
from domain.resolutions import Resolution
from tests.support.disputes import NOW, make_dispute

LINK = "https://acme.slack.com/archives/C0DISPUTES/p1000100"
QUEUE_SIZE = 500


def item(dispute: Dispute, *, minutes: int | None = 90, level: str = "ok") -> QueueItem:
    """`dispute` with its clock due `minutes` after NOW (before it when negative; None: none)."""
    due = None if minutes is None else NOW + timedelta(minutes=minutes)
    return QueueItem(dispute, "first_response", due, level)


def waiting(dispute: Dispute, proposer: str = "U0AGENT", amount: int | None = 9400) -> QueueItem:
    """`dispute` with a proposal waiting for approval."""
    proposal = PendingProposal(3, 1, Resolution.FULL_REFUND, amount, "USD", proposer, False)
    return QueueItem(dispute, "awaiting_approval", NOW + timedelta(hours=1), "warning", proposal)


def page_of(items: Sequence[QueueItem], page: int = 0, size: int = 20) -> QueuePage:
    """Page `page` of `items`, `size` per page, as QueueService returns it."""
    shown = tuple(items[page * size : (page + 1) * size])
    return QueuePage(shown, len(items), page * size, size)


def long_dispute(number: int) -> Dispute:
    """A dispute in a thread, whose every outside text is as long and as hostile as it may be."""
    hostile = "<!channel> *bold* _it_ `code` &amp; <@U1> " * 40
    return make_dispute(
        number=number,
        order_id=hostile[:100],
        priority=hostile,
        customer_name=hostile,
        owner_id="U0AGENT",
        channel_id="C0DISPUTES",
        thread_ts=f"{1000 + number}.000100",
    )


def long_queue(size: int = QUEUE_SIZE, **changes: Any) -> list[QueueItem]:
    """`size` long disputes (with `changes`), their clocks spread around NOW."""
    return [
        item(replace(long_dispute(n), **changes), minutes=(n % 7 - 3) * 50, level="warning")
        for n in range(1, size + 1)
    ]


def big_team(size: int = QUEUE_SIZE) -> Team:
    """`size` people, each with stuck disputes and a load."""
    people = [f"U{n:08d}" for n in range(size)]
    stuck = tuple(StuckCount("in_review", who, 2, 3) for who in people)
    return Team(stuck, tuple(Workload(who, 40, 20, 10) for who in people))


def texts(blocks: Any) -> list[str]:
    """Every text field of blocks or a view."""
    found: list[str] = []
    if isinstance(blocks, dict):
        if blocks.get("type") in ("mrkdwn", "plain_text"):
            found.append(blocks["text"])
        for value in blocks.values():
            found += texts(value)
    elif isinstance(blocks, list):
        for value in blocks:
            found += texts(value)
    return found
