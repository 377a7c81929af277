"""One section per piece of evidence on the evidence card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from blocks.contact import masked_within
from blocks.kit import section
from blocks.text import date, inline, labelled, link, quote, safe_url
from disputes.models import CaseFile, EvidenceItem
from domain.evidence import EvidenceKind

MAX_LINES = 8
MAX_PHOTOS = 10
SUMMARY_MAX = 1000


def evidence_sections(case: CaseFile) -> list[dict[str, Any]]:
    """Every item, in the card's order of kinds; the card decides how many it shows."""
    blocks = []
    for kind in EvidenceKind:
        for item in case.items(kind):
            lines = [labelled(f"*{kind.label}* ·", item.summary, SUMMARY_MAX)]
            lines += DETAILS.get(kind, _none)(item.payload)[:MAX_LINES]
            lines += _links(item, photos_shown=kind in SHOWS_PHOTOS)
            blocks.append(section("\n".join(lines)))
    return blocks


def _s(value: Any, limit: int = 200) -> str:
    return inline(str(value), limit)


def _none(_payload: dict[str, Any]) -> list[str]:
    return []


def _order(payload: dict[str, Any]) -> list[str]:
    lines = []
    for item in payload.get("items", []):
        flags = []
        if item.get("final_sale"):
            flags.append("final sale")
        if item.get("discount_percent"):
            off = _s(item["discount_percent"], 20)
            flags.append(f"{off}% off {_s(item.get('original_price'))}")
        extra = f" _({', '.join(flags)})_" if flags else ""
        lines.append(
            f"• {_s(item.get('quantity'), 20)} × {_s(item.get('name'))} "
            f"`{_s(item.get('sku'), 100)}` — {_s(item.get('line_total'), 100)}{extra}"
        )
    customer = payload.get("customer") or {}
    if customer:
        lines.append(
            f"Customer {_s(customer.get('name'))} · {_s(customer.get('tier'), 40)} · "
            f"{_s(customer.get('prior_returns_90d', 0), 20)} returns in 90 days"
        )
    return lines


def _shipment(payload: dict[str, Any]) -> list[str]:
    lines = []
    for event in payload.get("recent_events", []):
        where = f" — {_s(event['location'])}" if event.get("location") else ""
        lines.append(f"• {date(event['at'], with_time=True)} {_s(event['status'])}{where}")
    return lines


def _return_request(payload: dict[str, Any]) -> list[str]:
    lines = []
    if payload.get("customer_note"):
        lines.append(quote(payload["customer_note"], 500))
    received = payload.get("received_at")
    lines.append(f"Received {date(received)}" if received else "Return not received yet")
    decision = payload.get("decision")
    if decision:
        amount = f" {_s(decision['amount'], 100)}" if decision.get("amount") else ""
        outcome = _s(str(decision["outcome"]).replace("_", " "), 100)
        head = f"Original decision: *{outcome}{amount}*"
        lines.append(labelled(f"{head}:", decision["note"], 400) if decision.get("note") else head)
    else:
        lines.append("Original decision: none yet")
    return lines


def _condition(payload: dict[str, Any]) -> list[str]:
    return [labelled("Notes:", payload["notes"], 500)] if payload.get("notes") else []


def _photos(payload: dict[str, Any]) -> list[str]:
    photos = payload.get("photos", [])
    links = [link(url, f"Photo {n}") for n, url in enumerate(photos[:MAX_PHOTOS], start=1)]
    return [" · ".join(links)] if links else []


def _correspondence(payload: dict[str, Any]) -> list[str]:
    last = payload.get("last") or {}
    if not last:
        return []
    more = "…" if last.get("truncated") else ""
    # The card is a channel message: a customer's address is masked (the team's own is not).
    sender = last.get("from")
    by = _s(sender) if last.get("direction") == "outbound" else masked_within(str(sender or ""))
    return [
        f"Last, {_s(last.get('direction'), 40)} by {by} {date(last.get('at'), with_time=True)}:",
        quote(last.get("excerpt", ""), 1000) + more,
    ]


def _links(item: EvidenceItem, *, photos_shown: bool) -> list[str]:
    """The item's own link (labelled with its file name) and the one a person gave with it
    (labelled with its host), unless already shown as a photo."""
    photos = item.payload.get("photos", []) if photos_shown else []
    shown = {str(url) for url in photos[:MAX_PHOTOS]}
    name = item.payload.get("name")
    labels: dict[str, str] = {}
    for url, label in ((item.url, name), (item.payload.get("link"), None)):
        if url and str(url) not in shown and str(url) not in labels:
            labels[str(url)] = str(label) if label else _host(url)
    if not labels:
        return []
    return [":link: " + " · ".join(link(url, label) for url, label in labels.items())]


def _host(url: Any) -> str:
    if safe_url(url) is None:
        return "Link"
    return urlsplit(str(url).strip()).hostname or "Link"


DETAILS: dict[EvidenceKind, Callable[[dict[str, Any]], list[str]]] = {
    EvidenceKind.ORDER_DETAILS: _order,
    EvidenceKind.PROOF_OF_FULFILLMENT: _shipment,
    EvidenceKind.RETURN_REQUEST: _return_request,
    EvidenceKind.CONDITION_REPORT: _condition,
    EvidenceKind.PROOF_OF_DAMAGE: _photos,
    EvidenceKind.CUSTOMER_COMMUNICATION: _correspondence,
}
SHOWS_PHOTOS = {kind for kind, details in DETAILS.items() if details is _photos}
