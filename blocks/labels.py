"""How resolutions and recommendations read to people."""

from __future__ import annotations

from disputes.models import Recommendation
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
