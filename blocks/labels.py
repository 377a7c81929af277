"""How resolutions and recommendations read to people."""

from __future__ import annotations

from collections.abc import Sequence

from blocks.text import inline
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
    return "; ".join(dict.fromkeys(_cause_text(cause, currency) for cause in causes))


def _cause_text(cause: SupervisorCause, currency: str) -> str:
    where = f" ({inline(cause.citation, 100)})" if cause.citation else ""
    if cause.kind == "amount":
        return (
            f"the refund is over the {inline(cause.limit, 40)} {inline(currency, 10)} limit{where}"
        )
    if cause.kind == "percent":
        return f"the refund is over {inline(cause.limit, 10)}% of the order{where}"
    if cause.kind == "option":
        option = resolution_label(Resolution(cause.limit)) if cause.limit in _RESOLUTIONS else ""
        title = inline(cause.title, 200) or "the policy"
        return f"{option or 'This option'} needs a supervisor: {title}{where}"
    if cause.title:
        return f"{inline(cause.title, 200)}{where}"
    return "the policy asks for a supervisor"


_RESOLUTIONS = {r.value for r in Resolution}
