"""Orders for the benchmark dataset, as the order system would send them (`domain.orders.Order`
wire JSON), and the evidence the default sources file from them.

The evidence is built straight from the generated values instead of parsing each order and
running `connectors.orders.evidence_sources` (about 0.75 ms a dispute, too slow for a million);
its payloads and summaries are the ones those sources produce, which the dataset's tests check.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.dataset_cases import HOT_CARRIER, HOT_SKU, Case
from domain.evidence import EvidenceKind
from domain.money import exponent
from domain.reasons import Reason

# Currency, share of orders, and how many minor units one US cent is worth (roughly).
CURRENCIES = (("USD", 0.86, 1.0), ("EUR", 0.06, 0.92), ("GBP", 0.04, 0.79), ("CAD", 0.03, 1.37))
JPY_SHARE = 0.01  # yen have no minor unit: 1 USD is about 150 JPY minor units
CARRIERS = ("UPS", "FedEx", "USPS", "DHL", "OnTrac", "LaserShip")
CARRIER_WEIGHTS = (30, 25, 25, 10, 5, 5)
# Category, SKU prefix, nouns, unit price range in USD cents.
CATALOG = (
    ("apparel", "AP", ("Merino Sweater", "Linen Shirt", "Rain Jacket", "Chino Pants"), 2500, 18000),
    ("footwear", "FW", ("Trail Runner", "Leather Boot", "Canvas Sneaker", "Sandal"), 4000, 22000),
    ("electronics", "EL", ("Wireless Earbuds", "Smart Watch", "Tablet", "Camera"), 3000, 120000),
    ("home", "HM", ("Dinnerware Set", "Duvet Cover", "Cookware Set", "Floor Lamp"), 1500, 40000),
    ("beauty", "BT", ("Face Serum", "Hair Dryer", "Fragrance", "Skincare Kit"), 800, 9000),
    ("sports", "SP", ("Yoga Mat", "Road Bike Helmet", "Rowing Machine", "Tent"), 2000, 90000),
    ("toys", "TY", ("Building Set", "Plush Bear", "Puzzle", "Remote Car"), 1000, 15000),
)
CATEGORY_WEIGHTS = (24, 14, 16, 18, 10, 10, 8)
ADJECTIVES = ("Classic", "Premium", "Everyday", "Studio", "Outdoor", "Compact", "Deluxe", "Urban")
VARIANTS = ("S-BLK", "M-NVY", "L-GRY", "XL-OLV", "ONE-WHT", "ONE-RED", "2P-SLT", "4P-SND")
FIRST = ("Maya", "Liam", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Ines", "Kai", "Mei", "Tom")
LAST = ("Thompson", "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Kim", "Patel", "Silva")
NOTES = {
    Reason.DAMAGED: "The box arrived crushed and the item inside is broken.",
    Reason.DEFECTIVE: "It stopped working after two days of normal use.",
    Reason.NOT_AS_DESCRIBED: "The colour and material are not what the listing showed.",
    Reason.WRONG_ITEM: "I received a different item from the one I ordered.",
    Reason.SIZE_TOO_SMALL: "Too small, I need a size up.",
    Reason.SIZE_TOO_LARGE: "Far too large even though I ordered my usual size.",
    Reason.UNWANTED: "I changed my mind and sent it back unopened.",
    Reason.REFUND_NOT_RECEIVED: "You said my refund was issued but nothing reached my card.",
    Reason.OTHER: "There is a problem with this order, please look into it.",
}
EXCERPT_CHARS = 200
BIG_ORDER_CENTS = 50_000  # the default SLA file's urgent line ("500.00")
HOT_SKU_CENTS = 24_900


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str
    tier: str
    prior_returns_90d: int


@dataclass(frozen=True, slots=True)
class GeneratedOrder:
    """An order's wire JSON and the values a dispute is opened with."""

    wire: dict[str, Any]
    currency: str
    total_minor: int
    disputed_minor: int
    return_received: bool
    evidence: list[tuple[str, str, str, dict[str, Any], str | None]]  # kind, source, summary, ...
    tags: list[tuple[str, str]]  # what `disputes.tags.order_tags` finds in it, sorted
    order_claim_minor: int  # what the order system says it refunded


def customer(index: int) -> Customer:
    """Customer number `index`, the same every time it is asked for (about 7% VIP)."""
    mix = index * 2654435761 % 1_000_003
    first, last = FIRST[mix % len(FIRST)], LAST[mix // 7 % len(LAST)]
    tier = "vip" if mix % 100 < 7 else "standard"
    return Customer(
        f"CUS-{10_000 + index}",
        f"{first} {last}",
        f"{first.lower()}.{last.lower()}.{index}@example.com",
        tier,
        mix // 11 % 4,
    )


def pick_currency(rng: random.Random) -> tuple[str, float]:
    roll = rng.random()
    if roll < JPY_SHARE:
        return "JPY", 1.5
    roll = (roll - JPY_SHARE) / (1 - JPY_SHARE)
    for code, share, rate in CURRENCIES:
        if roll < share:
            return code, rate
        roll -= share
    return "USD", 1.0


def make_order(
    rng: random.Random,
    order_id: str,
    buyer: Customer,
    case: Case,
    opened_at: datetime,
    *,
    big: bool,
) -> GeneratedOrder:
    """An order whose return went wrong as `case` says, all of it before `opened_at`; with
    `big`, the returned goods are worth 500.00 or more (the default SLA file's urgent line)."""
    reason = case.reason
    currency, rate = pick_currency(rng)
    items = _items(rng, rate, big=big)
    if case.hot_sku:
        sku, name, category = HOT_SKU
        cents = BIG_ORDER_CENTS + 4_900 if big else HOT_SKU_CENTS
        items[0] = (sku, name, category, 1, max(_convert(cents, rate), 1))
    ship_cents = rng.choice((0, 0, 0, 499, 799, 1299))
    shipping = _convert(ship_cents, rate)
    total = sum(price * qty for _, _, _, qty, price in items) + shipping
    requested_at = opened_at - timedelta(seconds=rng.randint(12 * 3600, 20 * 86400))
    delivered_at = requested_at - timedelta(seconds=rng.randint(3600, 12 * 86400))
    shipped_at = delivered_at - timedelta(seconds=rng.randint(86400, 6 * 86400))
    placed_at = shipped_at - timedelta(seconds=rng.randint(1800, 3 * 86400))
    carrier = rng.choices(CARRIERS, CARRIER_WEIGHTS)[0]
    if case.hot_carrier:
        carrier = HOT_CARRIER
    returned_sku, _, _, returned_qty, returned_price = items[0]
    returned_value = returned_price * returned_qty
    received = case.received
    arrival = requested_at + timedelta(seconds=rng.randint(2 * 86400, 9 * 86400))
    received_at = min(arrival, opened_at - timedelta(seconds=600)) if received else None
    decision = _decision(rng, reason, received_at, returned_value, opened_at)
    money = _Money(currency)
    refunded = 0
    if decision is not None and decision["outcome"] in ("refunded", "partial_refund"):
        refunded = decision["amount_minor"]
    if reason is Reason.REFUND_NOT_RECEIVED:
        disputed = refunded
    else:
        disputed = max(returned_value - refunded, 0)

    pod = rng.choice(("photo", "signature", "none"))
    shipment = {
        "carrier": carrier,
        "tracking_number": _tracking(rng, carrier),
        "shipped_at": shipped_at,
        "delivered_at": delivered_at,
        "proof_of_delivery": pod,
        "events": [
            {"at": shipped_at - timedelta(hours=5), "status": "Label created", "location": None},
            {"at": shipped_at, "status": "Picked up", "location": None},
            {"at": delivered_at - timedelta(hours=6), "status": "Out for delivery"},
            {"at": delivered_at, "status": "Delivered", "location": None},
        ],
    }
    request: dict[str, Any] = {
        "id": f"RET-{order_id.removeprefix('ORD-')}",
        "requested_at": requested_at,
        "reason": reason.value,
        "customer_note": NOTES[reason],
        "items": [{"sku": returned_sku, "quantity": returned_qty}],
        "tracking_number": _tracking(rng, carrier),
        "received_at": received_at,
        "decision": decision,
    }
    report = None
    if received_at is not None and reason is not Reason.REFUND_NOT_RECEIVED:
        photos = case.photos
        report = {
            "inspected_at": min(
                received_at + timedelta(hours=rng.randint(2, 40)), opened_at - timedelta(minutes=1)
            ),
            "grade": rng.choice("ABCD"),
            "opened": rng.random() < 0.7,
            "original_packaging": rng.random() < 0.6,
            "notes": "Inspected at the returns centre.",
            "photos": [
                f"https://returns.example.com/photos/{order_id}/{n}.jpg"
                for n in range(1, photos + 1)
            ],
        }
    letters = [
        (requested_at + timedelta(minutes=5), "inbound", buyer.email, NOTES[reason]),
        (requested_at + timedelta(hours=7), "outbound", "support@example.com", "We are on it."),
    ]
    if rng.random() < 0.5:
        letters.append((opened_at - timedelta(minutes=30), "inbound", buyer.email, _COMPLAINT * 3))

    wire = {
        "order_id": order_id,
        "placed_at": _iso(placed_at),
        "currency": currency,
        "total": money.amount(total),
        "customer": {
            "id": buyer.id,
            "name": buyer.name,
            "email": buyer.email,
            "tier": buyer.tier,
            "prior_returns_90d": buyer.prior_returns_90d,
        },
        "payment": {"provider": "stripe", "reference": _payment_reference(rng)},
        "shipping_total": money.amount(shipping),
        "items": [
            {
                "sku": sku,
                "name": name,
                "category": category,
                "quantity": qty,
                "unit_price": money.amount(price),
            }
            for sku, name, category, qty, price in items
        ],
        "shipments": [_wire_times(shipment)],
        "return_request": _wire_request(request, money),
        "correspondence": [
            {"at": _iso(at), "direction": way, "channel": "email", "from": who, "body": body}
            for at, way, who, body in letters
        ],
    }
    if report is not None:
        wire["condition_report"] = _wire_times(report)

    evidence = [
        *_order_details(wire, items, buyer, money, total, shipping, placed_at),
        _shipment_evidence(shipment),
        *_return_evidence(request, items, money, returned_value),
        *_condition_evidence(report),
        _correspondence_evidence(letters),
    ]
    returned = [line for line in items if line[0] == returned_sku]
    tags = {("sku", sku) for sku, *_ in returned} | {("category", c) for _, _, c, *_ in returned}
    tags.add(("carrier", carrier))
    return GeneratedOrder(
        wire, currency, total, disputed, received_at is not None, evidence, sorted(tags), refunded
    )


_COMPLAINT = "I have written twice already and still have no answer about my return. "


class _Money:
    """Amounts as `domain.money` writes them (never negative here), without Decimal."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.places = exponent(currency)

    def amount(self, minor: int) -> str:
        if self.places == 0:
            return str(minor)
        whole, part = divmod(minor, 10**self.places)
        return f"{whole}.{part:0{self.places}d}"

    def text(self, minor: int) -> str:
        return f"{self.amount(minor)} {self.currency}"

    def fields(self, key: str, minor: int | None) -> dict[str, Any]:
        """What `_money` in the evidence sources makes: `{key}_minor` and `{key}`."""
        return {f"{key}_minor": minor, key: None if minor is None else self.text(minor)}


def _convert(cents: int, rate: float) -> int:
    return round(cents * rate)


def _items(rng: random.Random, rate: float, *, big: bool) -> list[tuple[str, str, str, int, int]]:
    """The order's lines as (sku, name, category, quantity, unit price); the first is the one
    returned, worth 500.00+ with `big` and under it otherwise."""
    lines = []
    for n in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if n == 0 and big:
            category, prefix, nouns, _, high = CATALOG[rng.choice((2, 5))]
            # At least 500.00 in the order's own currency (the SLA rule reads it so).
            cents = round(rng.randint(BIG_ORDER_CENTS, max(high, 3 * BIG_ORDER_CENTS)) / rate)
            qty = 1
        else:
            index = rng.choices(range(len(CATALOG)), CATEGORY_WEIGHTS)[0]
            category, prefix, nouns, low, high = CATALOG[index]
            cents = rng.randint(low, min(high, 30_000))
            qty = 1 if rng.random() < 0.85 or n == 0 else 2
        noun, adjective = rng.randrange(len(nouns)), rng.randrange(len(ADJECTIVES))
        variant = rng.choice(VARIANTS)
        sku = f"{prefix}-{noun}{adjective}{rng.randrange(10)}-{variant}"
        name = f"{ADJECTIVES[adjective]} {nouns[noun]}, {variant.replace('-', ' ')}"
        lines.append((sku, name, category, qty, max(_convert(cents, rate), 1)))
    return lines


def _decision(
    rng: random.Random,
    reason: Reason,
    received_at: datetime | None,
    returned_value: int,
    opened_at: datetime,
) -> dict[str, Any] | None:
    if received_at is None:
        return None
    decided_at = min(received_at + timedelta(hours=rng.randint(4, 96)), opened_at)
    amount: int | None = returned_value
    outcome = "refunded"
    if reason is not Reason.REFUND_NOT_RECEIVED:
        outcome = rng.choices(("denied", "partial_refund", "store_credit"), (60, 30, 10))[0]
        amount = returned_value * rng.randint(20, 60) // 100 if outcome != "denied" else None
    note = "Refund issued to the original payment method." if outcome == "refunded" else None
    return {"outcome": outcome, "amount_minor": amount, "decided_at": decided_at, "note": note}


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=16))
    return "".join(rng.choices(string.digits, k=rng.choice((12, 15, 20))))


def _payment_reference(rng: random.Random) -> str:
    return "pi_" + "".join(rng.choices(string.ascii_letters + string.digits, k=24))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _wire_times(node: dict[str, Any]) -> dict[str, Any]:
    """A copy with datetimes as ISO text and `None`s left out, nested lists included."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, list):
            value = [_wire_times(v) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out


def _wire_request(request: dict[str, Any], money: _Money) -> dict[str, Any]:
    wire = _wire_times({**request, "decision": None})
    decision = request["decision"]
    if decision is not None:
        amount = decision["amount_minor"]
        wire["decision"] = _wire_times(
            {
                "outcome": decision["outcome"],
                "amount": None if amount is None else money.amount(amount),
                "decided_at": decision["decided_at"],
                "note": decision["note"],
            }
        )
    return wire


Evidence = tuple[str, str, str, dict[str, Any], str | None]


def _order_details(
    wire: dict[str, Any],
    items: list[tuple[str, str, str, int, int]],
    buyer: Customer,
    money: _Money,
    total: int,
    shipping: int,
    placed_at: datetime,
) -> list[Evidence]:
    count = sum(qty for *_, qty, _ in items)
    summary = f"{_plural(count, 'item')} · {money.text(total)} · placed {_day(placed_at)}"
    if buyer.tier == "vip":
        summary += " · VIP customer"
    lines = [
        {
            "sku": sku,
            "name": name,
            "category": category,
            "quantity": qty,
            **money.fields("unit_price", price),
            **money.fields("original_price", None),
            "discount_percent": None,
            **money.fields("line_total", price * qty),
            "final_sale": False,
        }
        for sku, name, category, qty, price in items
    ]
    details = {
        "order_id": wire["order_id"],
        "placed_at": _iso(placed_at),
        "currency": money.currency,
        **money.fields("total", total),
        **money.fields("items_total", sum(price * qty for *_, qty, price in items)),
        **money.fields("shipping_total", shipping),
        "item_count": count,
        "items": lines,
        "customer": {
            "id": buyer.id,
            "name": buyer.name,
            "email": buyer.email,
            "tier": buyer.tier,
            "prior_returns_90d": buyer.prior_returns_90d,
        },
    }
    payment = wire["payment"]
    paid = {
        "provider": payment["provider"],
        "reference": payment["reference"],
        "currency": money.currency,
        **money.fields("amount", total),
    }
    paid_summary = f"{money.text(total)} paid via {payment['provider']} · {payment['reference']}"
    return [
        (EvidenceKind.ORDER_DETAILS.value, "order-details", summary, details, None),
        (EvidenceKind.PAYMENT_RECORD.value, "order-details", paid_summary, paid, None),
    ]


def _shipment_evidence(shipment: dict[str, Any]) -> Evidence:
    events = sorted(shipment["events"], key=lambda e: e["at"], reverse=True)[:3]
    summary = (
        f"{shipment['carrier']} {shipment['tracking_number']} · delivered "
        f"{_day(shipment['delivered_at'])} · proof: {shipment['proof_of_delivery']}"
    )
    payload = {
        "carrier": shipment["carrier"],
        "tracking_number": shipment["tracking_number"],
        "shipped_at": _iso(shipment["shipped_at"]),
        "delivered_at": _iso(shipment["delivered_at"]),
        "delivered": True,
        "proof_of_delivery": shipment["proof_of_delivery"],
        "event_count": len(shipment["events"]),
        "recent_events": [
            {"at": _iso(e["at"]), "status": e["status"], "location": e.get("location")}
            for e in events
        ],
    }
    return (EvidenceKind.PROOF_OF_FULFILLMENT.value, "shipment-tracking", summary, payload, None)


def _return_evidence(
    request: dict[str, Any],
    items: list[tuple[str, str, str, int, int]],
    money: _Money,
    returned_value: int,
) -> list[Evidence]:
    reason = Reason(request["reason"])
    decision = request["decision"]
    count = sum(line["quantity"] for line in request["items"])
    parts = [request["id"], reason.label, _plural(count, "item")]
    parts.append(f"requested {_day(request['requested_at'])}")
    if decision is None:
        parts.append("no decision yet")
    else:
        outcome = decision["outcome"].replace("_", " ")
        if decision["amount_minor"] is not None:
            outcome += f" {money.text(decision['amount_minor'])}"
        parts.append(outcome)
    by_sku = {sku: (name, price) for sku, name, _, _, price in items}
    lines = [
        {
            "sku": line["sku"],
            "name": by_sku[line["sku"]][0],
            "quantity": line["quantity"],
            **money.fields("unit_price", by_sku[line["sku"]][1]),
            "final_sale": False,
        }
        for line in request["items"]
    ]
    payload = {
        "id": request["id"],
        "reason": reason.value,
        "reason_label": reason.label,
        "customer_note": request["customer_note"],
        "requested_at": _iso(request["requested_at"]),
        "received_at": _iso(request["received_at"]),
        "tracking_number": request["tracking_number"],
        "currency": money.currency,
        "items": lines,
        **money.fields("returned_value", returned_value),
        **money.fields("return_shipping_cost", None),
        "decision": None
        if decision is None
        else {
            "outcome": decision["outcome"],
            **money.fields("amount", decision["amount_minor"]),
            "decided_at": _iso(decision["decided_at"]),
            "note": decision["note"],
        },
    }
    received = request["received_at"]
    track_parts = [f"Return {request['tracking_number']}"]
    track_parts.append(f"received {_day(received)}" if received else "not received yet")
    tracking = {
        "tracking_number": request["tracking_number"],
        "received_at": _iso(received),
        "received": received is not None,
    }
    return [
        (EvidenceKind.RETURN_REQUEST.value, "return-request", " · ".join(parts), payload, None),
        (
            EvidenceKind.RETURN_TRACKING_INFORMATION.value,
            "return-request",
            " · ".join(track_parts),
            tracking,
            None,
        ),
    ]


def _condition_evidence(report: dict[str, Any] | None) -> list[Evidence]:
    if report is None:
        return []
    flags = [
        "opened" if report["opened"] else "unopened",
        "original packaging" if report["original_packaging"] else "no original packaging",
    ]
    inspected = report["inspected_at"]
    summary = " · ".join([f"Grade {report['grade']}", *flags, f"inspected {_day(inspected)}"])
    payload = {
        "grade": report["grade"],
        "opened": report["opened"],
        "tags_attached": None,
        "original_packaging": report["original_packaging"],
        "notes": report["notes"],
        "inspected_at": _iso(inspected),
        "photo_count": len(report["photos"]),
    }
    found: list[Evidence] = [
        (EvidenceKind.CONDITION_REPORT.value, "condition-report", summary, payload, None)
    ]
    photos = report["photos"]
    if photos:
        found.append(
            (
                EvidenceKind.PROOF_OF_DAMAGE.value,
                "condition-report",
                f"{_plural(len(photos), 'photo')} from the inspection on {_day(inspected)}",
                {"photos": list(photos), "count": len(photos)},
                photos[0],
            )
        )
    return found


def _correspondence_evidence(letters: list[tuple[datetime, str, str, str]]) -> Evidence:
    at, direction, sender, body = letters[-1]
    inbound = sum(1 for letter in letters if letter[1] == "inbound")
    summary = f"{_plural(len(letters), 'message')} · last {direction} email {_day(at)}"
    payload = {
        "count": len(letters),
        "inbound_count": inbound,
        "outbound_count": len(letters) - inbound,
        "last": {
            "at": _iso(at),
            "direction": direction,
            "channel": "email",
            "from": sender,
            "excerpt": body[:EXCERPT_CHARS],
            "truncated": len(body) > EXCERPT_CHARS,
        },
    }
    return (EvidenceKind.CUSTOMER_COMMUNICATION.value, "correspondence", summary, payload, None)
