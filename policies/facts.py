"""The facts of a dispute that policy rules can test, and how they are read off the order.

A fact that cannot be known (no delivery scan, no condition report, ...) is absent from the
mapping: rules see it as "unknown", and any condition on it is false.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.evidence import EvidenceKind
from domain.orders import Order
from domain.reasons import Reason
from policies.order_facts import order_facts


class FactType(StrEnum):
    ENUM = "enum"  # one of `values`
    INT = "int"
    MONEY = "money"  # integer minor units; rules write decimal strings in the order's currency
    BOOL = "bool"
    TEXT = "text"
    LIST = "list"  # of strings, each one of `values` when given
    DATE = "date"  # timezone-aware datetime


@dataclass(frozen=True, slots=True)
class FactSpec:
    type: FactType
    description: str
    values: tuple[str, ...] = ()


GRADES = ("A", "B", "C", "D")
OUTCOMES = ("refunded", "partial_refund", "denied", "store_credit", "pending")

FACTS: dict[str, FactSpec] = {
    "reason": FactSpec(
        FactType.ENUM, "the dispute's return reason", tuple(r.value for r in Reason)
    ),
    "return_reason": FactSpec(
        FactType.ENUM,
        "the reason on the order's return request",
        tuple(r.value for r in Reason),
    ),
    "opened_reason": FactSpec(
        FactType.ENUM,
        "the reason given when the dispute was opened (typed, or else the return request's)",
        tuple(r.value for r in Reason),
    ),
    "claim_text": FactSpec(FactType.TEXT, "what the customer says, as typed"),
    "currency": FactSpec(FactType.TEXT, "ISO currency of the order"),
    "order_total": FactSpec(FactType.MONEY, "what the customer paid for the order"),
    "disputed_amount": FactSpec(FactType.MONEY, "returned value less cash already refunded"),
    "returned_value": FactSpec(FactType.MONEY, "what the returned items cost the customer"),
    "disputed_percent_of_order": FactSpec(FactType.INT, "disputed amount as % of the order"),
    "shipping_total": FactSpec(FactType.MONEY, "outbound shipping paid"),
    "return_shipping_cost": FactSpec(FactType.MONEY, "what shipping the return back costs"),
    "return_costs_more_than_item": FactSpec(
        FactType.BOOL, "shipping the return back costs more than the returned items are worth"
    ),
    "min_item_price": FactSpec(FactType.MONEY, "lowest unit price among the returned items"),
    "item_categories": FactSpec(FactType.LIST, "categories of the returned items (else all)"),
    "has_final_sale_item": FactSpec(FactType.BOOL, "a returned item is marked final sale"),
    "max_discount_percent": FactSpec(FactType.INT, "largest discount off original price, %"),
    "condition_grade": FactSpec(FactType.ENUM, "warehouse grade of the returned item", GRADES),
    "item_opened": FactSpec(FactType.BOOL, "the returned item was opened or used"),
    "tags_attached": FactSpec(FactType.BOOL, "tags still attached"),
    "original_packaging": FactSpec(FactType.BOOL, "returned in its original packaging"),
    "customer_tier": FactSpec(FactType.ENUM, "customer tier", ("standard", "vip")),
    "prior_returns_90d": FactSpec(FactType.INT, "the customer's returns in the last 90 days"),
    "prior_disputes": FactSpec(FactType.INT, "the customer's disputes opened before this one"),
    "age_hours": FactSpec(FactType.INT, "hours since the dispute was opened"),
    "outbound_status": FactSpec(
        FactType.ENUM,
        "carrier status of the outbound shipment",
        ("delivered", "in_transit", "not_shipped"),
    ),
    "proof_of_delivery": FactSpec(
        FactType.ENUM, "proof the carrier holds", ("signature", "photo", "none")
    ),
    "return_status": FactSpec(
        FactType.ENUM, "carrier status of the return", ("received", "in_transit", "not_sent")
    ),
    "evidence_present": FactSpec(
        FactType.LIST, "evidence kinds in the case file", tuple(k.value for k in EvidenceKind)
    ),
    "original_decision": FactSpec(FactType.ENUM, "how the return was first decided", OUTCOMES),
    "original_decision_amount": FactSpec(FactType.MONEY, "amount of the original decision"),
    "placed_at": FactSpec(FactType.DATE, "when the order was placed"),
    "delivered_at": FactSpec(FactType.DATE, "delivery scan of the outbound shipment"),
    "return_requested_at": FactSpec(FactType.DATE, "when the customer asked to return"),
    "return_received_at": FactSpec(FactType.DATE, "when the warehouse received the return"),
    "days_since_delivery": FactSpec(FactType.INT, "days from delivery to the dispute"),
    "days_delivery_to_request": FactSpec(
        FactType.INT, "days from delivery (or order date + 7 without a scan) to the return request"
    ),
    "hours_delivery_to_report": FactSpec(
        FactType.INT, "hours from delivery to the first report (return request or message)"
    ),
    "days_since_return_received": FactSpec(FactType.INT, "days from receipt of the return"),
}


def facts_from_order(
    order: Order,
    *,
    reason: Reason,
    claim: str,
    disputed_amount_minor: int,
    evidence_present: Iterable[EvidenceKind],
    as_of: datetime,
    opened_reason: Reason | None = None,
) -> dict[str, Any]:
    """Every fact that can be known; unknown ones are left out. `reason` is the one the policy
    uses; `opened_reason` the one given at opening, when it may differ."""
    facts: dict[str, Any] = {
        "reason": reason.value,
        "opened_reason": (opened_reason or reason).value,
        "claim_text": claim,
        "currency": order.currency,
        "order_total": order.total_minor,
        "disputed_amount": disputed_amount_minor,
        "evidence_present": sorted(kind.value for kind in evidence_present),
    }
    if order.total_minor:
        facts["disputed_percent_of_order"] = disputed_amount_minor * 100 // order.total_minor
    facts.update(order_facts(order, as_of))
    return {name: value for name, value in facts.items() if value is not None}
