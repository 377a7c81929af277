"""What the thread and the supervisors' channel are told about a refund."""

from __future__ import annotations

from typing import Literal

from blocks.ids import ActionId, Subject
from blocks.kit import Block, button, context, section
from blocks.text import QUOTE_MAX, Message, inline, labelled, link


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
