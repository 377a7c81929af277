"""`fixtures:` order source, and the demo orders shipped with the app."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.orders.factory import default_fixtures_path
from connectors.orders.fixtures import FixtureError, FixtureOrderSource
from connectors.orders.protocol import OrderNotFound
from domain.orders import Grade, Order, Outcome, ProofOfDelivery, Tier
from domain.reasons import Reason

TODAY = datetime.fromisoformat("2026-11-26T23:59:59+00:00")


def order_doc(order_id: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "order_id": order_id,
        "placed_at": "2026-10-02T10:00:00Z",
        "currency": "USD",
        "total": "10.00",
        "customer": {"id": "C", "name": "Sam", "email": "sam@example.com"},
        "payment": {"provider": "stripe", "reference": "pi_3Qabc"},
        "items": [
            {"sku": "S", "name": "Thing", "category": "home", "quantity": 1, "unit_price": "10.00"}
        ],
    }
    doc.update(changes)
    return doc


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


async def test_single_order_file(tmp_path: Path) -> None:
    source = FixtureOrderSource(write(tmp_path / "one.json", order_doc("ORD-1")))

    order = await source.get_order("ORD-1")

    assert order.total_minor == 1000
    assert source.order_ids == ["ORD-1"]


async def test_list_file(tmp_path: Path) -> None:
    path = write(tmp_path / "many.json", [order_doc("ORD-1"), order_doc("ORD-2")])

    source = FixtureOrderSource(path)

    assert (await source.get_order("ORD-2")).order_id == "ORD-2"
    assert len(source) == 2


async def test_folder_reads_json_files_only_not_recursively(tmp_path: Path) -> None:
    write(tmp_path / "b.json", order_doc("ORD-2"))
    write(tmp_path / "a.json", [order_doc("ORD-1"), order_doc("ORD-3")])
    (tmp_path / "notes.txt").write_text("not an order")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested" / "c.json", order_doc("ORD-9"))

    source = FixtureOrderSource(tmp_path)

    assert source.order_ids == ["ORD-1", "ORD-3", "ORD-2"]
    with pytest.raises(OrderNotFound):
        await source.get_order("ORD-9")


async def test_lookup_strips_whitespace_but_is_case_sensitive(tmp_path: Path) -> None:
    source = FixtureOrderSource(write(tmp_path / "o.json", order_doc("ORD-1")))

    assert (await source.get_order("  ORD-1\n")).order_id == "ORD-1"
    with pytest.raises(OrderNotFound) as caught:
        await source.get_order("ord-1")
    assert caught.value.order_id == "ord-1"


def test_duplicate_id_across_files_is_an_error_naming_both(tmp_path: Path) -> None:
    write(tmp_path / "a.json", order_doc("ORD-1"))
    write(tmp_path / "b.json", order_doc("ORD-1"))

    with pytest.raises(FixtureError, match=r"b\.json: order ORD-1 is already defined in .*a\.json"):
        FixtureOrderSource(tmp_path)


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "good.json", order_doc("ORD-1"))
    (tmp_path / "broken.json").write_text('{"order_id": "ORD-2",')

    with pytest.raises(FixtureError, match=r"broken\.json: not valid JSON"):
        FixtureOrderSource(tmp_path)


def test_invalid_order_names_file_order_and_field(tmp_path: Path) -> None:
    bad = order_doc("ORD-2")
    bad["items"][0]["unit_price"] = "10.001"
    write(tmp_path / "list.json", [order_doc("ORD-1"), bad])

    with pytest.raises(FixtureError) as caught:
        FixtureOrderSource(tmp_path)

    message = str(caught.value)
    assert "list.json: entry [1]: order ORD-2: items[0].unit_price" in message
    assert "more than 2 decimal places" in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    bad = order_doc("ORD-1")
    del bad["payment"]
    write(tmp_path / "o.json", bad)

    with pytest.raises(FixtureError, match=r"o\.json: order ORD-1: payment: Field required"):
        FixtureOrderSource(tmp_path / "o.json")


def test_fixture_error_is_a_value_error(tmp_path: Path) -> None:
    write(tmp_path / "o.json", "just a string")

    with pytest.raises(ValueError, match="expected an order object or a list"):
        FixtureOrderSource(tmp_path / "o.json")


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"no \*\.json order files"):
        FixtureOrderSource(tmp_path)


# --- the shipped demo fixtures ----------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> list[Order]:
    return list(FixtureOrderSource(default_fixtures_path()))


def test_every_shipped_fixture_loads_one_order_per_file_named_by_id(shipped: list[Order]) -> None:
    files = sorted(default_fixtures_path().glob("*.json"))

    assert len(shipped) >= 22
    assert [f.stem for f in files] == [o.order_id for o in shipped]
    assert all(isinstance(json.loads(f.read_text()), dict) for f in files)


def test_shipped_fixtures_cover_every_reason_outcome_grade_and_proof(
    shipped: list[Order],
) -> None:
    reasons = {o.return_request.reason for o in shipped if o.return_request}
    outcomes = {o.decision.outcome for o in shipped if o.decision}
    grades = {o.condition_report.grade for o in shipped if o.condition_report}
    proofs = {s.proof_of_delivery for o in shipped for s in o.shipments if s.proof_of_delivery}

    # A refund that never arrived is a dispute's reason, never a return request's.
    assert reasons == set(Reason) - {Reason.REFUND_NOT_RECEIVED}
    assert outcomes == set(Outcome)
    assert grades == set(Grade)
    assert proofs == set(ProofOfDelivery)
    assert any(o.return_request and o.return_request.decision is None for o in shipped)


def test_shipped_fixtures_cover_the_special_cases(shipped: list[Order]) -> None:
    def some(predicate: Any) -> bool:
        return any(predicate(o) for o in shipped)

    categories = {item.category for o in shipped for item in o.items}
    assert {
        "apparel", "footwear", "electronics", "home", "beauty", "grocery", "gift_card",
        "jewelry", "personalised",
    } <= categories  # fmt: skip
    assert some(lambda o: o.return_request is None)
    assert some(lambda o: o.shipments and o.shipments[0].events and o.delivered_at is None)
    assert some(lambda o: o.customer.tier is Tier.VIP)
    assert some(lambda o: o.customer.prior_returns_90d >= 3)
    assert some(lambda o: any(i.is_discounted for i in o.items))
    assert some(lambda o: any((i.discount_percent or 0) >= 50 for i in o.items))
    assert some(lambda o: any(i.final_sale for i in o.items))
    assert some(lambda o: o.currency == "JPY")
    assert some(lambda o: o.currency == "USD" and o.total_minor > 20000)
    assert some(
        lambda o: (
            o.return_request is not None
            and (o.return_request.return_shipping_cost_minor or 0) > 0
            and any(
                item is not None
                and item.unit_price_minor < 1500
                and o.return_request.return_shipping_cost_minor > item.unit_price_minor
                for item, _ in o.returned_items
            )
        )
    )
    assert some(
        lambda o: (
            o.condition_report is not None
            and o.condition_report.opened
            and any(i.category == "electronics" for i in o.items)
        )
    )
    assert some(
        lambda o: o.condition_report is not None and o.condition_report.tags_attached is False
    )
    assert some(lambda o: o.correspondence == [])
    assert some(lambda o: len(o.correspondence) >= 3)


def test_ord_1001_is_the_crushed_box_damage_case(shipped: list[Order]) -> None:
    order = next(o for o in shipped if o.order_id == "ORD-1001")

    assert order.return_request is not None
    assert order.return_request.reason is Reason.DAMAGED
    assert "crushed" in (order.return_request.customer_note or "")
    assert order.delivered_at is not None
    assert order.return_request.received_at is not None
    assert order.condition_report is not None
    assert order.condition_report.grade in {Grade.C, Grade.D}
    assert order.condition_report.photos[0] == "https://returns.example.com/photos/ORD-1001/1.jpg"
    assert order.decision is not None
    assert order.decision.outcome in {Outcome.DENIED, Outcome.PARTIAL_REFUND}


def test_shipped_fixtures_are_internally_consistent(shipped: list[Order]) -> None:
    for order in shipped:
        where = order.order_id
        shipping = order.shipping_total_minor or 0
        assert order.total_minor == order.items_total_minor + shipping, where
        assert order.payment.reference, where
        skus = {item.sku for item in order.items}
        request = order.return_request
        if request:
            assert {line.sku for line in request.items} <= skus, where
        timeline = [order.placed_at]
        for shipment in order.shipments:
            timeline += [t for t in (shipment.shipped_at, shipment.delivered_at) if t]
            for event in shipment.events:
                assert order.placed_at <= event.at <= TODAY, where
        if request:
            report = order.condition_report
            timeline += [request.requested_at]
            timeline += [request.received_at] if request.received_at else []
            timeline += [report.inspected_at] if report else []
            decided = request.decision.decided_at if request.decision else None
            timeline += [decided] if decided else []
        assert timeline == sorted(timeline), where
        assert timeline[-1] <= TODAY, where
        for message in order.correspondence:
            assert order.placed_at <= message.at <= TODAY, where
            assert message.sender.endswith("@example.com"), where
