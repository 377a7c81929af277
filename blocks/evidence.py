"""One section per piece of evidence on the evidence card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blocks.text import clip, date, escape, section
from connectors.evidence import EvidenceKind
from disputes.models import CaseFile

MAX_LINES = 8


def evidence_sections(case: CaseFile) -> list[dict[str, Any]]:
    blocks = []
    for kind in EvidenceKind:
        for item in case.items(kind):
            lines = [f"*{kind.label}* · {escape(item.summary)}"]
            lines += DETAILS.get(kind, _none)(item.payload)[:MAX_LINES]
            blocks.append(section("\n".join(lines)))
    return blocks[:40]


def _none(_payload: dict[str, Any]) -> list[str]:
    return []


def _order(payload: dict[str, Any]) -> list[str]:
    lines = []
    for item in payload.get("items", []):
        flags = []
        if item.get("final_sale"):
            flags.append("final sale")
        if item.get("discount_percent"):
            flags.append(f"{item['discount_percent']}% off {item.get('original_price')}")
        extra = f" _({', '.join(flags)})_" if flags else ""
        lines.append(
            f"• {item.get('quantity')} × {escape(str(item.get('name')))} "
            f"`{escape(str(item.get('sku')))}` — {item.get('line_total')}{extra}"
        )
    customer = payload.get("customer") or {}
    if customer:
        lines.append(
            f"Customer {escape(str(customer.get('name')))} · {customer.get('tier')} · "
            f"{customer.get('prior_returns_90d', 0)} returns in 90 days"
        )
    return lines


def _shipment(payload: dict[str, Any]) -> list[str]:
    lines = []
    for event in payload.get("recent_events", []):
        where = f" — {escape(event['location'])}" if event.get("location") else ""
        lines.append(f"• {date(event['at'], with_time=True)} {escape(event['status'])}{where}")
    return lines


def _return_request(payload: dict[str, Any]) -> list[str]:
    lines = []
    if payload.get("customer_note"):
        lines.append(f"> {escape(clip(payload['customer_note'], 500))}")
    received = payload.get("received_at")
    lines.append(f"Received {date(received)}" if received else "Return not received yet")
    decision = payload.get("decision")
    if decision:
        amount = f" {decision['amount']}" if decision.get("amount") else ""
        note = f": {escape(clip(decision['note'], 300))}" if decision.get("note") else ""
        outcome = decision["outcome"].replace("_", " ")
        lines.append(f"Original decision: *{outcome}{amount}*{note}")
    else:
        lines.append("Original decision: none yet")
    return lines


def _condition(payload: dict[str, Any]) -> list[str]:
    return [f"Notes: {escape(clip(payload['notes'], 500))}"] if payload.get("notes") else []


def _photos(payload: dict[str, Any]) -> list[str]:
    photos = payload.get("photos", [])
    links = [f"<{escape(url)}|Photo {n}>" for n, url in enumerate(photos[:10], start=1)]
    return [" · ".join(links)] if links else []


def _correspondence(payload: dict[str, Any]) -> list[str]:
    last = payload.get("last") or {}
    if not last:
        return []
    more = "…" if last.get("truncated") else ""
    return [
        f"Last, {last.get('direction')} by {escape(str(last.get('from')))} "
        f"{date(last.get('at'), with_time=True)}:",
        f"> {escape(last.get('excerpt', ''))}{more}",
    ]


DETAILS: dict[EvidenceKind, Callable[[dict[str, Any]], list[str]]] = {
    EvidenceKind.ORDER_DETAILS: _order,
    EvidenceKind.PROOF_OF_FULFILLMENT: _shipment,
    EvidenceKind.RETURN_REQUEST: _return_request,
    EvidenceKind.CONDITION_REPORT: _condition,
    EvidenceKind.PROOF_OF_DAMAGE: _photos,
    EvidenceKind.CUSTOMER_COMMUNICATION: _correspondence,
}
