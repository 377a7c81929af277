"""The default evidence sources, each deriving some evidence kinds from the order document.

They are separate sources so that a deployment can put a slower system (a carrier API, the
warehouse's inspection tool) behind any one of them without touching the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.evidence_source import EvidenceSource
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order, ReturnRequest, Shipment

Clock = Callable[[], datetime]
EXCERPT_CHARS = 200
RECENT_EVENTS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _day(value: datetime) -> str:
    return value.date().isoformat()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _money(order: Order, key: str, minor: int | None) -> dict[str, Any]:
    """`{key}_minor` and a formatted `{key}` ("129.00 USD"); both None when unknown."""
    formatted = order.format_money(minor) if minor is not None else None
    return {f"{key}_minor": minor, key: formatted}


class _OrderDocumentSource(ABC):
    """Shared plumbing: a name, the kinds produced, and a clock for `captured_at`."""

    name: str
    kinds: tuple[EvidenceKind, ...]

    def __init__(self, *, clock: Clock = _utcnow) -> None:
        self._clock = clock

    async def collect(self, order: Order) -> list[EvidenceDraft]:
        return self.drafts(order)

    @abstractmethod
    def drafts(self, order: Order) -> list[EvidenceDraft]:
        """The evidence this source reads off the order document."""

    def _draft(
        self,
        kind: EvidenceKind,
        summary: str,
        payload: dict[str, Any],
        url: str | None = None,
    ) -> EvidenceDraft:
        return EvidenceDraft(
            kind=kind,
            source=self.name,
            summary=summary,
            payload=payload,
            url=url,
            captured_at=self._clock(),
        )


class OrderDetailsSource(_OrderDocumentSource):
    """What was bought, by whom, for how much; and how it was paid."""

    name = "order-details"
    kinds = (EvidenceKind.ORDER_DETAILS, EvidenceKind.PAYMENT_RECORD)

    def drafts(self, order: Order) -> list[EvidenceDraft]:
        return [self._details(order), self._payment(order)]

    def _details(self, order: Order) -> EvidenceDraft:
        customer = order.customer
        summary = (
            f"{_plural(order.item_count, 'item')} · {order.format_money(order.total_minor)}"
            f" · placed {_day(order.placed_at)}"
        )
        if customer.tier == "vip":
            summary += " · VIP customer"
        items = [
            {
                "sku": item.sku,
                "name": item.name,
                "category": item.category,
                "quantity": item.quantity,
                **_money(order, "unit_price", item.unit_price_minor),
                **_money(order, "original_price", item.original_price_minor),
                "discount_percent": item.discount_percent,
                **_money(order, "line_total", item.line_total_minor),
                "final_sale": item.final_sale,
            }
            for item in order.items
        ]
        payload = {
            "order_id": order.order_id,
            "placed_at": _iso(order.placed_at),
            "currency": order.currency,
            **_money(order, "total", order.total_minor),
            **_money(order, "items_total", order.items_total_minor),
            **_money(order, "shipping_total", order.shipping_total_minor),
            "item_count": order.item_count,
            "items": items,
            "customer": {
                "id": customer.id,
                "name": customer.name,
                "email": customer.email,
                "tier": customer.tier.value,
                "prior_returns_90d": customer.prior_returns_90d,
            },
        }
        return self._draft(EvidenceKind.ORDER_DETAILS, summary, payload)

    def _payment(self, order: Order) -> EvidenceDraft:
        payment = order.payment
        summary = (
            f"{order.format_money(order.total_minor)} paid via {payment.provider}"
            f" · {payment.reference}"
        )
        payload = {
            "provider": payment.provider,
            "reference": payment.reference,
            "currency": order.currency,
            **_money(order, "amount", order.total_minor),
        }
        return self._draft(EvidenceKind.PAYMENT_RECORD, summary, payload)


class ShipmentTrackingSource(_OrderDocumentSource):
    """One proof of fulfillment per outbound shipment; none when nothing was shipped."""

    name = "shipment-tracking"
    kinds = (EvidenceKind.PROOF_OF_FULFILLMENT,)

    def drafts(self, order: Order) -> list[EvidenceDraft]:
        return [self._shipment(shipment) for shipment in order.shipments]

    def _shipment(self, shipment: Shipment) -> EvidenceDraft:
        recent = shipment.events_newest_first[:RECENT_EVENTS]
        parts = [shipment.carrier]
        if shipment.tracking_number:
            parts[0] += f" {shipment.tracking_number}"
        if shipment.delivered_at is not None:
            parts.append(f"delivered {_day(shipment.delivered_at)}")
            if shipment.proof_of_delivery is not None:
                parts.append(f"proof: {shipment.proof_of_delivery.value}")
        else:
            if shipment.shipped_at is not None:
                parts.append(f"shipped {_day(shipment.shipped_at)}")
            last = f"; last scan: {recent[0].status} {_day(recent[0].at)}" if recent else ""
            parts.append(f"no delivery scan{last}")
        payload = {
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "shipped_at": _iso(shipment.shipped_at),
            "delivered_at": _iso(shipment.delivered_at),
            "delivered": shipment.is_delivered,
            "proof_of_delivery": (
                shipment.proof_of_delivery.value if shipment.proof_of_delivery else None
            ),
            "event_count": len(shipment.events),
            "recent_events": [
                {"at": _iso(event.at), "status": event.status, "location": event.location}
                for event in recent
            ],
        }
        return self._draft(EvidenceKind.PROOF_OF_FULFILLMENT, " · ".join(parts), payload)


class ReturnRequestSource(_OrderDocumentSource):
    """The return as the customer asked for it and as it was first decided."""

    name = "return-request"
    kinds = (EvidenceKind.RETURN_REQUEST, EvidenceKind.RETURN_TRACKING_INFORMATION)

    def drafts(self, order: Order) -> list[EvidenceDraft]:
        request = order.return_request
        if request is None:
            return []
        drafts = [self._request(order, request)]
        if request.tracking_number or request.received_at is not None:
            drafts.append(self._tracking(request))
        return drafts

    def _request(self, order: Order, request: ReturnRequest) -> EvidenceDraft:
        decision = request.decision
        count = sum(line.quantity for line in request.items)
        parts = [
            request.id,
            request.reason.label,
            _plural(count, "item"),
            f"requested {_day(request.requested_at)}",
        ]
        if decision is None:
            parts.append("no decision yet")
        else:
            outcome = decision.outcome.value.replace("_", " ")
            if decision.amount_minor is not None:
                outcome += f" {order.format_money(decision.amount_minor)}"
            parts.append(outcome)
        items = []
        for line in request.items:
            item = order.item(line.sku)  # None when the customer named a sku not on the order
            items.append(
                {
                    "sku": line.sku,
                    "name": item.name if item else None,
                    "quantity": line.quantity,
                    **_money(order, "unit_price", item.unit_price_minor if item else None),
                    "final_sale": item.final_sale if item else False,
                }
            )
        payload = {
            "id": request.id,
            "reason": request.reason.value,
            "reason_label": request.reason.label,
            "customer_note": request.customer_note,
            "requested_at": _iso(request.requested_at),
            "received_at": _iso(request.received_at),
            "tracking_number": request.tracking_number,
            "currency": order.currency,
            "items": items,
            **_money(order, "returned_value", order.returned_value_minor),
            **_money(order, "return_shipping_cost", request.return_shipping_cost_minor),
            "decision": None
            if decision is None
            else {
                "outcome": decision.outcome.value,
                **_money(order, "amount", decision.amount_minor),
                "decided_at": _iso(decision.decided_at),
                "note": decision.note,
            },
        }
        return self._draft(EvidenceKind.RETURN_REQUEST, " · ".join(parts), payload)

    def _tracking(self, request: ReturnRequest) -> EvidenceDraft:
        parts = [f"Return {request.tracking_number}" if request.tracking_number else "Return"]
        if request.received_at is not None:
            parts.append(f"received {_day(request.received_at)}")
        else:
            parts.append("not received yet")
        payload = {
            "tracking_number": request.tracking_number,
            "received_at": _iso(request.received_at),
            "received": request.received_at is not None,
        }
        return self._draft(EvidenceKind.RETURN_TRACKING_INFORMATION, " · ".join(parts), payload)


class ConditionReportSource(_OrderDocumentSource):
    """The warehouse's inspection of the returned item, and its photos."""

    name = "condition-report"
    kinds = (EvidenceKind.CONDITION_REPORT, EvidenceKind.PROOF_OF_DAMAGE)

    def drafts(self, order: Order) -> list[EvidenceDraft]:
        report = order.condition_report
        if report is None:
            return []
        flags = [
            _flag(report.opened, "opened", "unopened"),
            _flag(report.tags_attached, "tags attached", "tags missing"),
            _flag(report.original_packaging, "original packaging", "no original packaging"),
        ]
        inspected = f"inspected {_day(report.inspected_at)}"
        summary = " · ".join([f"Grade {report.grade.value}", *filter(None, flags), inspected])
        payload = {
            "grade": report.grade.value,
            "opened": report.opened,
            "tags_attached": report.tags_attached,
            "original_packaging": report.original_packaging,
            "notes": report.notes,
            "inspected_at": _iso(report.inspected_at),
            "photo_count": len(report.photos),
        }
        drafts = [self._draft(EvidenceKind.CONDITION_REPORT, summary, payload)]
        if report.photos:
            drafts.append(
                self._draft(
                    EvidenceKind.PROOF_OF_DAMAGE,
                    f"{_plural(len(report.photos), 'photo')} from the inspection on "
                    f"{_day(report.inspected_at)}",
                    {"photos": list(report.photos), "count": len(report.photos)},
                    url=report.photos[0],
                )
            )
        return drafts


def _flag(value: bool | None, yes: str, no: str) -> str | None:
    if value is None:
        return None
    return yes if value else no


class CorrespondenceSource(_OrderDocumentSource):
    """The messages exchanged with the customer about this order so far."""

    name = "correspondence"
    kinds = (EvidenceKind.CUSTOMER_COMMUNICATION,)

    def drafts(self, order: Order) -> list[EvidenceDraft]:
        messages = sorted(order.correspondence, key=lambda message: message.at)
        if not messages:
            return []
        last = messages[-1]
        inbound = sum(1 for message in messages if message.direction == "inbound")
        summary = (
            f"{_plural(len(messages), 'message')} · last {last.direction.value} "
            f"{last.channel} {_day(last.at)}"
        )
        payload = {
            "count": len(messages),
            "inbound_count": inbound,
            "outbound_count": len(messages) - inbound,
            "last": {
                "at": _iso(last.at),
                "direction": last.direction.value,
                "channel": last.channel,
                "from": last.sender,
                "excerpt": last.body[:EXCERPT_CHARS],
                "truncated": len(last.body) > EXCERPT_CHARS,
            },
        }
        return [self._draft(EvidenceKind.CUSTOMER_COMMUNICATION, summary, payload)]


def default_evidence_sources(*, clock: Clock = _utcnow) -> list[EvidenceSource]:
    """One of each source above, in the evidence card's order."""
    return [
        OrderDetailsSource(clock=clock),
        ShipmentTrackingSource(clock=clock),
        ReturnRequestSource(clock=clock),
        ConditionReportSource(clock=clock),
        CorrespondenceSource(clock=clock),
    ]
