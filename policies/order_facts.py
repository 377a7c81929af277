"""Facts read off the order document: items, shipments, the return and its inspection."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.orders import Item, Order

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
NO_SCAN_DELIVERY_DAYS = 7  # without a delivery scan, delivery is taken as order date + 7 days


def order_facts(order: Order, as_of: datetime) -> dict[str, Any]:
    facts: dict[str, Any] = {"placed_at": order.placed_at}
    facts |= _items(order)
    facts |= _outbound(order, as_of)
    facts |= _return(order, as_of)
    facts |= _condition(order)
    customer = order.customer
    facts |= {"customer_tier": customer.tier.value, "prior_returns_90d": customer.prior_returns_90d}
    facts["shipping_total"] = order.shipping_total_minor
    cost, value = facts.get("return_shipping_cost"), facts.get("returned_value")
    if cost is not None and value is not None:
        facts["return_costs_more_than_item"] = cost > value
    return facts


def _returned_items(order: Order) -> list[Item]:
    returned = [item for item, _qty in order.returned_items if item is not None]
    return returned or list(order.items)


def _items(order: Order) -> dict[str, Any]:
    items = _returned_items(order)
    if not items:
        return {}
    discounts = [item.discount_percent or 0 for item in items]
    return {
        "item_categories": sorted({item.category for item in items}),
        "has_final_sale_item": any(item.final_sale for item in items),
        "max_discount_percent": max(discounts),
        "min_item_price": min(item.unit_price_minor for item in items),
        "returned_value": order.returned_value_minor or None,
    }


def _outbound(order: Order, as_of: datetime) -> dict[str, Any]:
    shipment = order.outbound_shipment
    if shipment is None:
        return {"outbound_status": "not_shipped"}
    facts: dict[str, Any] = {
        "outbound_status": "delivered" if shipment.delivered_at else "in_transit",
        "proof_of_delivery": shipment.proof_of_delivery.value
        if shipment.proof_of_delivery
        else None,
    }
    delivered = shipment.delivered_at
    if delivered is not None:
        facts["delivered_at"] = delivered
        facts["days_since_delivery"] = (as_of - delivered) // DAY
    request = order.return_request
    start = delivered or order.placed_at + NO_SCAN_DELIVERY_DAYS * DAY
    if request is not None:
        facts["days_delivery_to_request"] = (request.requested_at - start) // DAY
    if delivered is not None:
        reports = [m.at for m in order.correspondence if m.direction == "inbound"]
        if request is not None:
            reports.append(request.requested_at)
        after = [at for at in reports if at >= delivered]
        if after:
            facts["hours_delivery_to_report"] = (min(after) - delivered) // HOUR
    return facts


def _return(order: Order, as_of: datetime) -> dict[str, Any]:
    request = order.return_request
    if request is None:
        return {}
    decision = request.decision
    facts: dict[str, Any] = {
        "return_reason": request.reason.value,
        "return_requested_at": request.requested_at,
        "return_shipping_cost": request.return_shipping_cost_minor,
        "original_decision": decision.outcome.value if decision else "pending",
        "original_decision_amount": decision.amount_minor if decision else None,
    }
    if request.received_at is not None:
        facts["return_status"] = "received"
        facts["return_received_at"] = request.received_at
        facts["days_since_return_received"] = (as_of - request.received_at) // DAY
    else:
        facts["return_status"] = "in_transit" if request.tracking_number else "not_sent"
    return facts


def _condition(order: Order) -> dict[str, Any]:
    report = order.condition_report
    if report is None:
        return {}
    return {
        "condition_grade": report.grade.value,
        "item_opened": report.opened,
        "tags_attached": report.tags_attached,
        "original_packaging": report.original_packaging,
    }
