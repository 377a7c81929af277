"""How resolutions and recommendations read to people."""

from __future__ import annotations

from collections.abc import Sequence

from blocks.text import clip, escape, one_line
from disputes.models import Recommendation, SupervisorCause
from domain.resolutions import Resolution


def resolution_label(resolution: Resolution) -> str:
    return resolution.value.replace("_", " ").capitalize()


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
    return "; ".join(dict.fromkeys(_cause_words(cause, currency) for cause in causes))


def _cause_words(cause: SupervisorCause, currency: str) -> str:
    where = f" ({clip(one_line(cause.citation), 100)})" if cause.citation else ""
    limit = clip(cause.limit or "", 40)
    if cause.kind == "amount":
        return f"the refund is over the {limit} {clip(currency, 10)} limit{where}"
    if cause.kind == "percent":
        return f"the refund is over {limit}% of the order{where}"
    if cause.kind == "option":
        option = resolution_label(Resolution(cause.limit)) if cause.limit in _RESOLUTIONS else ""
        title = clip(one_line(cause.title), 200) or "the policy"
        return f"{option or 'This option'} needs a supervisor: {title}{where}"
    if cause.title:
        return f"{clip(one_line(cause.title), 200)}{where}"
    return "the policy asks for a supervisor"


_RESOLUTIONS = {r.value for r in Resolution}
