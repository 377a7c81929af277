"""The default evidence sources derive their drafts from the order document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.orders.evidence_sources import (
    ConditionReportSource,
    CorrespondenceSource,
    OrderDetailsSource,
    ReturnRequestSource,
    ShipmentTrackingSource,
    default_evidence_sources,
)
from connectors.orders.factory import default_fixtures_path
from connectors.orders.fixtures import FixtureOrderSource
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FIXTURES = FixtureOrderSource(default_fixtures_path())


def clock() -> datetime:
    return NOW


_orders = {order.order_id: order for order in FIXTURES}


def bare(order_id: str = "ORD-1001", **changes: Any) -> Order:
    """A shipped fixture with some parts removed."""
    return _orders[order_id].model_copy(update=changes)


def by_kind(drafts: list[EvidenceDraft]) -> dict[EvidenceKind, EvidenceDraft]:
    kinds = [d.kind for d in drafts]
    assert len(kinds) == len(set(kinds)), kinds
    return {d.kind: d for d in drafts}


def assert_json_safe(draft: EvidenceDraft) -> None:
    assert json.loads(json.dumps(draft.payload)) == draft.payload


async def test_order_details_and_payment() -> None:
    source = OrderDetailsSource(clock=clock)

    drafts = by_kind(await source.collect(_orders["ORD-1001"]))

    details = drafts[EvidenceKind.ORDER_DETAILS]
    assert details.summary == "2 items · 129.00 USD · placed 2026-10-02"
    assert details.source == "order-details"
    assert details.captured_at == NOW
    assert details.payload["total_minor"] == 12900
    assert details.payload["total"] == "129.00 USD"
    assert details.payload["currency"] == "USD"
    assert details.payload["placed_at"] == "2026-10-02T14:12:09+00:00"
    assert details.payload["items"][0]["sku"] == "HM-DIN-12-SLT"
    assert details.payload["items"][0]["unit_price_minor"] == 9400
    assert details.payload["customer"]["name"] == "Maya Thompson"
    assert details.payload["customer"]["prior_returns_90d"] == 0
    payment = drafts[EvidenceKind.PAYMENT_RECORD]
    assert payment.payload["provider"] == "stripe"
    assert payment.payload["reference"].startswith("pi_3Q")
    assert payment.payload["reference"] in payment.summary
    assert_json_safe(details)
    assert_json_safe(payment)


async def test_order_details_mark_vip_discount_and_final_sale() -> None:
    drafts = by_kind(await OrderDetailsSource().collect(_orders["ORD-1007"]))
    line = drafts[EvidenceKind.ORDER_DETAILS].payload["items"][0]

    assert line["final_sale"] is True
    assert line["discount_percent"] == 55
    assert line["original_price"] == "360.00 USD"

    vip = by_kind(await OrderDetailsSource().collect(_orders["ORD-1002"]))
    assert vip[EvidenceKind.ORDER_DETAILS].summary.endswith("VIP customer")


async def test_order_details_in_jpy() -> None:
    drafts = by_kind(await OrderDetailsSource().collect(_orders["ORD-1011"]))

    assert drafts[EvidenceKind.ORDER_DETAILS].summary == "3 items · 21700 JPY · placed 2026-10-05"
    assert drafts[EvidenceKind.PAYMENT_RECORD].payload["amount_minor"] == 21700


async def test_order_details_without_shipping_total() -> None:
    drafts = by_kind(await OrderDetailsSource().collect(_orders["ORD-1008"]))
    payload = drafts[EvidenceKind.ORDER_DETAILS].payload

    assert payload["shipping_total_minor"] is None
    assert payload["shipping_total"] is None


async def test_shipment_tracking_for_a_delivered_shipment() -> None:
    drafts = await ShipmentTrackingSource(clock=clock).collect(_orders["ORD-1001"])

    assert [d.kind for d in drafts] == [EvidenceKind.PROOF_OF_FULFILLMENT]
    proof = drafts[0]
    assert proof.summary == "UPS 1Z4E97W80312345671 · delivered 2026-10-07 · proof: photo"
    assert proof.payload["delivered"] is True
    assert proof.payload["proof_of_delivery"] == "photo"
    assert proof.payload["delivered_at"] == "2026-10-07T18:22:00+00:00"
    assert [e["status"] for e in proof.payload["recent_events"]] == [
        "Delivered, left at front door (photo)",
        "Out for delivery",
        "Departed facility",
    ]
    assert proof.payload["event_count"] == 6
    assert_json_safe(proof)


async def test_shipment_tracking_without_a_delivery_scan() -> None:
    (proof,) = await ShipmentTrackingSource().collect(_orders["ORD-1009"])

    assert proof.payload["delivered"] is False
    assert proof.payload["delivered_at"] is None
    assert proof.payload["proof_of_delivery"] is None
    assert "no delivery scan; last scan: In transit, arriving late 2026-11-14" in proof.summary


async def test_shipment_tracking_is_absent_without_a_shipment() -> None:
    assert await ShipmentTrackingSource().collect(_orders["ORD-1008"]) == []


async def test_return_request_and_return_tracking() -> None:
    drafts = by_kind(await ReturnRequestSource(clock=clock).collect(_orders["ORD-1003"]))

    request = drafts[EvidenceKind.RETURN_REQUEST]
    assert request.summary == (
        "RET-5003 · Not as described · 1 item · requested 2026-10-17 · partial refund 42.00 USD"
    )
    assert request.payload["reason"] == "NOT_AS_DESCRIBED"
    assert request.payload["customer_note"].startswith("Listing says 100% merino")
    assert request.payload["items"] == [
        {
            "sku": "AP-SWT-MER-OAT-M",
            "name": "Merino Crewneck Sweater, Oatmeal, M",
            "quantity": 1,
            "unit_price_minor": 8400,
            "unit_price": "84.00 USD",
            "final_sale": False,
        }
    ]
    assert request.payload["return_shipping_cost_minor"] == 650
    assert request.payload["decision"]["outcome"] == "partial_refund"
    assert request.payload["decision"]["amount_minor"] == 4200
    assert request.payload["decision"]["note"].startswith("Garment matches")
    tracking = drafts[EvidenceKind.RETURN_TRACKING_INFORMATION]
    assert tracking.payload == {
        "tracking_number": "9202090153540000123456",
        "received_at": "2026-10-24T13:05:00+00:00",
        "received": True,
    }
    assert tracking.summary == "Return 9202090153540000123456 · received 2026-10-24"
    assert_json_safe(request)


async def test_return_request_without_decision_or_tracking() -> None:
    drafts = by_kind(await ReturnRequestSource().collect(_orders["ORD-1008"]))

    assert set(drafts) == {EvidenceKind.RETURN_REQUEST}
    assert drafts[EvidenceKind.RETURN_REQUEST].payload["decision"] is None
    assert drafts[EvidenceKind.RETURN_REQUEST].summary.endswith("no decision yet")


async def test_return_tracking_sent_but_not_received() -> None:
    drafts = by_kind(await ReturnRequestSource().collect(_orders["ORD-1020"]))

    tracking = drafts[EvidenceKind.RETURN_TRACKING_INFORMATION]
    assert tracking.payload["received"] is False
    assert tracking.summary.endswith("not received yet")


async def test_return_request_absent_without_a_return() -> None:
    assert await ReturnRequestSource().collect(_orders["ORD-1016"]) == []


async def test_condition_report_with_photos() -> None:
    drafts = by_kind(await ConditionReportSource(clock=clock).collect(_orders["ORD-1001"]))

    report = drafts[EvidenceKind.CONDITION_REPORT]
    assert report.summary == "Grade D · opened · original packaging · inspected 2026-10-17"
    assert report.payload["grade"] == "D"
    assert report.payload["tags_attached"] is None
    assert report.payload["photo_count"] == 4
    photos = drafts[EvidenceKind.PROOF_OF_DAMAGE]
    assert photos.url == "https://returns.example.com/photos/ORD-1001/1.jpg"
    assert photos.payload["photos"][3] == "https://returns.example.com/photos/ORD-1001/4.jpg"
    assert photos.summary == "4 photos from the inspection on 2026-10-17"
    assert_json_safe(report)


async def test_condition_report_tags_missing_without_photos() -> None:
    order = _orders["ORD-1006"]
    report = order.condition_report
    assert report is not None
    order = order.model_copy(update={"condition_report": report.model_copy(update={"photos": []})})

    drafts = by_kind(await ConditionReportSource().collect(order))

    assert set(drafts) == {EvidenceKind.CONDITION_REPORT}
    assert "tags missing" in drafts[EvidenceKind.CONDITION_REPORT].summary


async def test_condition_report_absent_without_a_report() -> None:
    assert await ConditionReportSource().collect(_orders["ORD-1010"]) == []


async def test_correspondence_summarises_the_last_message() -> None:
    (draft,) = await CorrespondenceSource(clock=clock).collect(_orders["ORD-1001"])

    assert draft.kind is EvidenceKind.CUSTOMER_COMMUNICATION
    assert draft.summary == "4 messages · last inbound email 2026-10-21"
    assert draft.payload["count"] == 4
    assert draft.payload["inbound_count"] == 2
    last = draft.payload["last"]
    assert last["direction"] == "inbound"
    assert last["at"] == "2026-10-21T09:44:00+00:00"
    assert last["channel"] == "email"
    assert last["excerpt"].startswith("That makes no sense.")
    assert last["truncated"] is False
    assert_json_safe(draft)


async def test_correspondence_excerpt_is_the_first_200_characters() -> None:
    order = _orders["ORD-1001"]
    last = order.correspondence[-1].model_copy(update={"body": "x" * 150 + "y" * 100})
    order = bare(correspondence=[*order.correspondence[:-1], last])

    (draft,) = await CorrespondenceSource().collect(order)

    assert draft.payload["last"]["excerpt"] == "x" * 150 + "y" * 50
    assert draft.payload["last"]["truncated"] is True


async def test_correspondence_last_is_by_time_not_list_order() -> None:
    order = _orders["ORD-1013"]
    shuffled = bare("ORD-1013", correspondence=list(reversed(order.correspondence)))

    (draft,) = await CorrespondenceSource().collect(shuffled)

    assert draft.payload["last"]["at"] == "2026-09-21T08:00:00+00:00"
    assert draft.payload["last"]["truncated"] is False


async def test_correspondence_absent_when_empty() -> None:
    assert await CorrespondenceSource().collect(_orders["ORD-1016"]) == []


@pytest.mark.parametrize("order_id", sorted(_orders))
async def test_default_sources_cover_each_kind_once_and_stay_json_safe(order_id: str) -> None:
    sources = default_evidence_sources(clock=clock)
    produced: list[EvidenceDraft] = []
    for source in sources:
        drafts = await source.collect(_orders[order_id])
        assert {d.kind for d in drafts} <= set(source.kinds)
        assert all(d.source == source.name for d in drafts)
        produced += drafts

    assert {s.name for s in sources} == {
        "order-details", "shipment-tracking", "return-request", "condition-report",
        "correspondence",
    }  # fmt: skip
    # Every kind an order document can hold; files shared in Slack are the only other kind.
    assert {k for s in sources for k in s.kinds} == set(EvidenceKind) - {EvidenceKind.ATTACHMENT}
    for draft in produced:
        assert draft.summary and "\n" not in draft.summary
        assert_json_safe(draft)
