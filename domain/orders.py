"""The order document (ARCHITECTURE §4) as pydantic models; money held as integer minor units.

On the wire money is a decimal string in major units ("129.00"); `Order` converts it with the
order's currency before field validation, so the nested models only ever see `*_minor` integers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.money import Money, MoneyError, format_minor, normalise_currency, to_minor
from domain.reasons import Reason
from domain.text import clean_text


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken to be UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _none_to_empty(value: Any) -> Any:
    return [] if value is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
MinorUnits = Annotated[int, Field(strict=True, ge=0)]
Text = Annotated[str, Field(min_length=1)]


class Tier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


class ProofOfDelivery(StrEnum):
    SIGNATURE = "signature"
    PHOTO = "photo"
    NONE = "none"


class Outcome(StrEnum):
    REFUNDED = "refunded"
    PARTIAL_REFUND = "partial_refund"
    DENIED = "denied"
    STORE_CREDIT = "store_credit"


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, str_strip_whitespace=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        """An order system's text never carries control or invisible characters into ours."""
        if isinstance(value, list):
            return [clean_text(v) if isinstance(v, str) else v for v in value]
        return clean_text(value) if isinstance(value, str) else value


class Customer(_Model):
    id: Text
    name: Text
    email: str
    # Lenient defaults: an order system without tiers or return counts still yields an order.
    tier: Tier = Tier.STANDARD
    prior_returns_90d: Annotated[int, Field(ge=0)] = 0

    @field_validator("tier", "prior_returns_90d", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name is not None:
            return cls.model_fields[info.field_name].default
        return value


class Payment(_Model):
    provider: Text
    reference: Text


class Item(_Model):
    sku: Text
    name: Text
    category: Text
    quantity: Annotated[int, Field(ge=1)]
    unit_price_minor: MinorUnits
    original_price_minor: MinorUnits | None = None
    final_sale: bool = False

    @field_validator("final_sale", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def line_total_minor(self) -> int:
        return self.unit_price_minor * self.quantity

    @property
    def is_discounted(self) -> bool:
        return self.original_price_minor is not None and (
            self.original_price_minor > self.unit_price_minor
        )

    @property
    def discount_percent(self) -> int | None:
        """Whole-percent discount off the original price, or None when not discounted."""
        original = self.original_price_minor
        if original is None or original <= self.unit_price_minor:
            return None
        return round((original - self.unit_price_minor) * 100 / original)


class TrackingEvent(_Model):
    at: UtcDatetime
    status: Text
    location: str | None = None


class Shipment(_Model):
    carrier: Text
    tracking_number: str | None = None
    shipped_at: UtcDatetime | None = None
    delivered_at: UtcDatetime | None = None
    proof_of_delivery: ProofOfDelivery | None = None
    events: Annotated[list[TrackingEvent], BeforeValidator(_none_to_empty)] = []

    @property
    def events_newest_first(self) -> list[TrackingEvent]:
        return sorted(self.events, key=lambda event: event.at, reverse=True)

    @property
    def is_delivered(self) -> bool:
        return self.delivered_at is not None


class ReturnItem(_Model):
    sku: Text
    quantity: Annotated[int, Field(ge=1)]


class Decision(_Model):
    outcome: Outcome
    amount_minor: MinorUnits | None = None
    decided_at: UtcDatetime | None = None
    note: str | None = None


class ReturnRequest(_Model):
    id: Text
    requested_at: UtcDatetime
    reason: Reason
    customer_note: str | None = None
    items: Annotated[list[ReturnItem], BeforeValidator(_none_to_empty)] = []
    tracking_number: str | None = None
    received_at: UtcDatetime | None = None
    return_shipping_cost_minor: MinorUnits | None = None
    decision: Decision | None = None


class ConditionReport(_Model):
    inspected_at: UtcDatetime
    grade: Grade
    opened: bool | None = None
    tags_attached: bool | None = None
    original_packaging: bool | None = None
    notes: str | None = None
    photos: Annotated[list[Text], BeforeValidator(_none_to_empty)] = []


class Correspondence(_Model):
    at: UtcDatetime
    direction: Direction
    channel: Text
    sender: str = Field(alias="from")
    body: str


class Order(_Model):
    order_id: Text
    placed_at: UtcDatetime
    currency: str
    total_minor: MinorUnits
    customer: Customer
    payment: Payment
    shipping_total_minor: MinorUnits | None = None
    items: Annotated[list[Item], BeforeValidator(_none_to_empty)] = []
    shipments: Annotated[list[Shipment], BeforeValidator(_none_to_empty)] = []
    return_request: ReturnRequest | None = None
    condition_report: ConditionReport | None = None
    correspondence: Annotated[list[Correspondence], BeforeValidator(_none_to_empty)] = []

    @model_validator(mode="before")
    @classmethod
    def _wire_money_to_minor(cls, data: Any) -> Any:
        """Turn §4 decimal strings (`total`, `unit_price`, ...) into `*_minor` integers."""
        if not isinstance(data, dict) or "currency" not in data:
            return data
        if not isinstance(data["currency"], str):
            got = data["currency"]
            raise ValueError(f"currency: expected a 3-letter ISO 4217 code, got {got!r}")
        try:
            currency = normalise_currency(data["currency"])
        except MoneyError as exc:
            raise ValueError(f"currency: {exc}") from None
        return {**_wire_money_to_minor(data, currency), "currency": currency}

    @classmethod
    def from_wire(cls, data: Any) -> Order:
        """Validate one §4 order document (a dict); raises `pydantic.ValidationError`."""
        return cls.model_validate(data)

    def to_wire(self) -> dict[str, Any]:
        """This order as a §4 JSON document (money as decimal strings, `None`s left out)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        _minor_money_to_wire(data, self.currency)
        return data

    def money(self, minor: int) -> Money:
        return Money(minor, self.currency)

    def format_money(self, minor: int) -> str:
        """`12900` -> `"129.00 USD"`."""
        return str(self.money(minor))

    @property
    def items_total_minor(self) -> int:
        return sum(item.line_total_minor for item in self.items)

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def outbound_shipment(self) -> Shipment | None:
        """The shipment that matters for "was it delivered": the last delivered, else the last."""
        delivered = [s for s in self.shipments if s.delivered_at is not None]
        if delivered:
            return max(delivered, key=lambda s: s.delivered_at or self.placed_at)
        return self.shipments[-1] if self.shipments else None

    @property
    def delivered_at(self) -> datetime | None:
        """When the last delivered shipment arrived; None when nothing shows a delivery."""
        shipment = self.outbound_shipment
        return shipment.delivered_at if shipment is not None else None

    def item(self, sku: str) -> Item | None:
        return next((item for item in self.items if item.sku == sku), None)

    @property
    def returned_items(self) -> list[tuple[Item | None, int]]:
        """The returned lines joined to the order's items (None when the sku is not on it)."""
        if self.return_request is None:
            return []
        return [(self.item(line.sku), line.quantity) for line in self.return_request.items]

    @property
    def returned_value_minor(self) -> int:
        """What the returned items cost the customer (unit price x returned quantity)."""
        return sum(item.unit_price_minor * qty for item, qty in self.returned_items if item)

    @property
    def decision(self) -> Decision | None:
        return self.return_request.decision if self.return_request else None


def _wire_money_to_minor(order: dict[str, Any], currency: str) -> dict[str, Any]:
    """A copy of a wire order with every money field replaced by its `<key>_minor` twin."""
    order = _with_minor(order, ("total", "shipping_total"), currency, "")
    if isinstance(order.get("items"), list):
        order["items"] = [
            _with_minor(item, ("unit_price", "original_price"), currency, f"items[{i}].")
            for i, item in enumerate(order["items"])
        ]
    request = order.get("return_request")
    if isinstance(request, dict):
        request = _with_minor(request, ("return_shipping_cost",), currency, "return_request.")
        request["decision"] = _with_minor(
            request.get("decision"), ("amount",), currency, "return_request.decision."
        )
        order["return_request"] = request
    return order


def _with_minor(node: Any, keys: tuple[str, ...], currency: str, where: str) -> Any:
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in keys:
        if key not in node:
            continue
        value = node.pop(key)
        try:
            node[f"{key}_minor"] = None if value is None else to_minor(value, currency)
        except MoneyError as exc:
            raise ValueError(f"{where}{key}: {exc}") from None
    return node


def _minor_money_to_wire(order: dict[str, Any], currency: str) -> None:
    """In place: the reverse of `_wire_money_to_minor` on a JSON dump."""
    nodes: list[tuple[dict[str, Any], tuple[str, ...]]] = [(order, ("total", "shipping_total"))]
    nodes += [(item, ("unit_price", "original_price")) for item in order.get("items", [])]
    request = order.get("return_request") or {}
    nodes += [(request, ("return_shipping_cost",)), (request.get("decision") or {}, ("amount",))]
    for node, keys in nodes:
        for key in keys:
            if f"{key}_minor" in node:
                node[key] = format_minor(node.pop(f"{key}_minor"), currency)


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One line naming the failing fields: `items[0].quantity: Input should be ...`."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ""
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else part)
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    extra = len(exc.errors()) - limit
    if extra > 0:
        parts.append(f"and {extra} more")
    return "; ".join(parts)
