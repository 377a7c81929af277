"""How resolutions and recommendations read to people."""

from __future__ import annotations

from collections.abc import Sequence

from blocks.text import escape
from disputes.models import Recommendation, SupervisorCause, causes_in_words
from domain.resolutions import Resolution


def resolution_label(resolution: Resolution) -> str:
    return resolution.label


def recommendation_text(recommended: Recommendation | None, currency: str) -> str:
    if recommended is None:
        return "No rule recommends a resolution: use judgement within the allowed options."
    text = resolution_label(recommended.resolution)
    limits = []
    if recommended.percent is not None:
        limits.append(f"{recommended.percent}% of the paid amount")
    if recommended.cap is not None:
        limits.append(f"at most {recommended.cap} {currency}")
    return f"{text} ({', '.join(limits)})" if limits else text


def supervisor_cause_text(causes: Sequence[SupervisorCause], currency: str) -> str:
    """Why a supervisor must approve, in words: "the refund is over the 200.00 USD limit
    (Returns Policy §1.1)", "Frequent returns are reviewed by a supervisor (Returns Policy
    §1.2)". Escaped for mrkdwn; empty when there is no cause."""
    return escape(supervisor_cause_words(causes, currency))


def supervisor_cause_words(causes: Sequence[SupervisorCause], currency: str) -> str:
    """The same words, not yet escaped (for a builder that escapes what it is given)."""
    return causes_in_words(causes, currency)
