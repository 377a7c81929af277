"""The §4 order document: parsing, money in minor units, optional fields, errors."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.orders import (
    Direction,
    Grade,
    Order,
    Outcome,
    ProofOfDelivery,
    Tier,
    describe_validation_error,
)
from domain.reasons import Reason

WIRE: dict[str, Any] = {
    "order_id": "ORD-7001",
    "placed_at": "2026-10-02T14:12:09Z",
    "currency": "USD",
    "total": "129.00",
    "customer": {
        "id": "CUS-1",
        "name": "Maya Thompson",
        "email": "maya@example.com",
        "tier": "vip",
        "prior_returns_90d": 3,
    },
    "payment": {"provider": "stripe", "reference": "pi_3QabcDEF"},
    "shipping_total": "7.95",
    "items": [
        {
            "sku": "A-1",
            "name": "Platter",
            "category": "home",
            "quantity": 2,
            "unit_price": "40.00",
            "original_price": "80.00",
            "final_sale": True,
        },
        {"sku": "B-2", "name": "Napkins", "category": "home", "quantity": 1, "unit_price": "41.05"},
    ],
    "shipments": [
        {
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "shipped_at": "2026-10-03T10:00:00Z",
            "delivered_at": "2026-10-05T10:00:00+02:00",
            "proof_of_delivery": "photo",
            "events": [
                {"at": "2026-10-03T10:00:00Z", "status": "Picked up", "location": "Columbus"},
                {"at": "2026-10-05T08:00:00Z", "status": "Delivered"},
            ],
        }
    ],
    "return_request": {
        "id": "RET-1",
        "requested_at": "2026-10-06T09:00:00",
        "reason": "DAMAGED",
        "customer_note": "Box crushed",
        "items": [{"sku": "A-1", "quantity": 1}],
        "tracking_number": "1Z888",
        "received_at": "2026-10-10T09:00:00Z",
        "return_shipping_cost": "12.00",
        "decision": {
            "outcome": "partial_refund",
            "amount": "20.00",
            "decided_at": "2026-10-12T09:00:00Z",
            "note": "half",
        },
    },
    "condition_report": {
        "inspected_at": "2026-10-11T09:00:00Z",
        "grade": "C",
        "opened": True,
        "tags_attached": False,
        "original_packaging": None,
        "notes": "chipped",
        "photos": ["https://returns.example.com/photos/ORD-7001/1.jpg"],
    },
    "correspondence": [
        {
            "at": "2026-10-06T09:05:00Z",
            "direction": "inbound",
            "channel": "email",
            "from": "maya@example.com",
            "body": "It arrived broken",
        }
    ],
}

MINIMAL: dict[str, Any] = {
    "order_id": "ORD-7002",
    "placed_at": "2026-10-02T14:12:09Z",
    "currency": "USD",
    "total": "10.00",
    "customer": {"id": "CUS-2", "name": "Sam", "email": "sam@example.com"},
    "payment": {"provider": "stripe", "reference": "pi_3Qxyz"},
}


def wire(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(WIRE)
    data.update(changes)
    return data


def test_full_order_parses_into_typed_fields() -> None:
    order = Order.model_validate(WIRE)

    assert order.total_minor == 12900
    assert order.shipping_total_minor == 795
    assert order.customer.tier is Tier.VIP
    assert order.items[0].unit_price_minor == 4000
    assert order.items[0].original_price_minor == 8000
    assert order.items[0].final_sale is True
    assert order.items[1].original_price_minor is None
    assert order.items[1].final_sale is False
    assert order.shipments[0].proof_of_delivery is ProofOfDelivery.PHOTO
    assert order.return_request is not None
    assert order.return_request.reason is Reason.DAMAGED
    assert order.return_request.return_shipping_cost_minor == 1200
    assert order.return_request.decision is not None
    assert order.return_request.decision.outcome is Outcome.PARTIAL_REFUND
    assert order.return_request.decision.amount_minor == 2000
    assert order.condition_report is not None
    assert order.condition_report.grade is Grade.C
    assert order.condition_report.original_packaging is None
    assert order.correspondence[0].direction is Direction.INBOUND
    assert order.correspondence[0].sender == "maya@example.com"


def test_derived_properties() -> None:
    order = Order.model_validate(WIRE)

    assert order.items_total_minor == 2 * 4000 + 4105
    assert order.item_count == 3
    assert order.items[0].discount_percent == 50
    assert order.items[1].discount_percent is None
    assert order.delivered_at == datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    assert order.returned_value_minor == 4000
    assert order.format_money(order.total_minor) == "129.00 USD"
    assert [e.status for e in order.shipments[0].events_newest_first] == ["Delivered", "Picked up"]


def test_datetimes_are_utc_and_naive_input_is_taken_as_utc() -> None:
    order = Order.model_validate(WIRE)
    assert order.return_request is not None

    assert order.return_request.requested_at == datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
    assert order.shipments[0].delivered_at is not None
    assert order.shipments[0].delivered_at.utcoffset() is not None
    assert order.shipments[0].delivered_at.hour == 8  # 10:00+02:00


def test_jpy_amounts_have_no_minor_digits() -> None:
    data = wire(currency="JPY", total="21700", shipping_total="800")
    data["items"] = [
        {"sku": "J", "name": "Jacket", "category": "apparel", "quantity": 1, "unit_price": "18500"}
    ]
    data["return_request"]["return_shipping_cost"] = "900"
    data["return_request"]["decision"]["amount"] = "18500"

    order = Order.model_validate(data)

    assert order.total_minor == 21700
    assert order.items[0].unit_price_minor == 18500
    assert order.format_money(order.total_minor) == "21700 JPY"
    assert Order.model_validate(order.to_wire()) == order


def test_jpy_rejects_decimals() -> None:
    with pytest.raises(ValidationError, match=r"total: .*more than 0 decimal places"):
        Order.model_validate(wire(currency="JPY", total="100.50"))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("total",), "129.001", r"total: .*more than 2 decimal places"),
        (("total",), 129.0, "total: amounts must be decimal strings, not floats"),
        (("items", 0, "unit_price"), "12.345", r"items\[0\]\.unit_price"),
        (("return_request", "decision", "amount"), "abc", "return_request.decision.amount"),
        (("return_request", "return_shipping_cost"), 1.5, "return_shipping_cost"),
    ],
)
def test_bad_money_is_a_validation_error_naming_the_field(
    path: tuple[Any, ...], value: Any, message: str
) -> None:
    data = wire()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    with pytest.raises(ValidationError, match=message):
        Order.model_validate(data)


def test_negative_money_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Order.model_validate(wire(total="-1.00"))


def test_optional_fields_may_be_absent() -> None:
    order = Order.model_validate(MINIMAL)

    assert order.shipping_total_minor is None
    assert order.items == []
    assert order.shipments == []
    assert order.return_request is None
    assert order.condition_report is None
    assert order.correspondence == []
    assert order.customer.tier is Tier.STANDARD
    assert order.delivered_at is None
    assert order.decision is None


def test_optional_fields_may_be_null() -> None:
    data = {
        **MINIMAL,
        "shipping_total": None,
        "items": None,
        "shipments": [{"carrier": "USPS", "tracking_number": None, "events": None}],
        "return_request": {
            "id": "R",
            "requested_at": "2026-10-06T09:00:00Z",
            "reason": "OTHER",
            "customer_note": None,
            "items": None,
            "tracking_number": None,
            "received_at": None,
            "return_shipping_cost": None,
            "decision": None,
        },
        "condition_report": None,
        "correspondence": None,
    }

    order = Order.model_validate(data)

    assert order.shipping_total_minor is None
    assert order.shipments[0].events == []
    assert order.shipments[0].proof_of_delivery is None
    assert order.return_request is not None
    assert order.return_request.decision is None
    assert order.return_request.return_shipping_cost_minor is None
    assert order.correspondence == []


def test_unknown_fields_are_ignored() -> None:
    data = wire(gift_message="Happy birthday", risk_score=0.2)
    data["items"][0]["personalisation"] = {"text": "J.R.H."}
    data["customer"]["loyalty_points"] = 120

    order = Order.model_validate(data)

    assert order.items[0].sku == "A-1"
    assert "gift_message" not in order.model_dump()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("return_request", "reason"), "LOST", "return_request.reason"),
        (("return_request", "decision", "outcome"), "refund", "return_request.decision.outcome"),
        (("condition_report", "grade"), "E", "condition_report.grade"),
        (("shipments", 0, "proof_of_delivery"), "doorbell", "shipments[0].proof_of_delivery"),
        (("customer", "tier"), "gold", "customer.tier"),
        (("correspondence", 0, "direction"), "sideways", "correspondence[0].direction"),
    ],
)
def test_bad_enum_value_is_an_error_naming_the_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    data = wire()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    with pytest.raises(ValidationError) as caught:
        Order.model_validate(data)

    assert describe_validation_error(caught.value).startswith(f"{field}: ")


def test_missing_required_field_is_named() -> None:
    data = wire()
    del data["items"][1]["sku"]

    with pytest.raises(ValidationError) as caught:
        Order.model_validate(data)

    assert describe_validation_error(caught.value) == "items[1].sku: Field required"


def test_bad_currency_is_rejected() -> None:
    with pytest.raises(ValidationError, match="currency"):
        Order.model_validate(wire(currency="DOLLARS"))


def test_currency_is_normalised() -> None:
    assert Order.model_validate(wire(currency="usd")).currency == "USD"


def test_to_wire_round_trips_to_the_same_order_and_section_4_shape() -> None:
    order = Order.model_validate(WIRE)

    document = order.to_wire()

    assert document["total"] == "129.00"
    assert document["items"][0]["unit_price"] == "40.00"
    assert document["return_request"]["decision"]["amount"] == "20.00"
    assert document["correspondence"][0]["from"] == "maya@example.com"
    assert "total_minor" not in document
    assert Order.model_validate(document) == order
    assert Order.model_validate(order.model_dump()) == order


def test_an_order_systems_text_is_cleaned_of_controls_and_invisible_characters() -> None:
    from tests.support.orders import ORDER

    data = {**ORDER, "customer": {**ORDER["customer"], "name": "Jane\u202e eoD\x00"}}
    data["condition_report"] = {
        **ORDER["condition_report"],
        "notes": "ok\u200b\r\nfine",
        "photos": ["https://x.example/1.jpg\u2066"],
    }
    order = Order.from_wire(data)
    assert order.customer.name == "Jane eoD"
    assert order.condition_report is not None
    assert order.condition_report.notes == "ok\nfine"
    assert order.condition_report.photos == ["https://x.example/1.jpg"]
