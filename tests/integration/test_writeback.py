"""Final decisions are written back to an http order system, and recorded in the audit trail."""

from __future__ import annotations

from sqlalchemy import select

from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.http import HttpOrderSource
from connectors.orders.protocol import DecisionUpdate
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from disputes.writeback import write_back
from sandbox.world.order_service import OrderServiceServer, create_order_service
from storage.db import Database
from storage.tables import AuditRow
from tests.support.orders import StaticOrders, order

UPDATE = DecisionUpdate(
    dispute="D-1",
    outcome="partial_refund",
    amount_minor=4000,
    currency="USD",
    refund_status="succeeded",
    provider_refund_id="re_1",
    decided_by="U0SUPER",
    idempotency_key="dd-decision-1-succeeded",
)


async def audit_actions(db: Database) -> list[AuditRow]:
    async with db.reading() as session:
        return list(await session.scalars(select(AuditRow).order_by(AuditRow.id)))


async def test_decision_posted_to_the_order_system_with_retries(db: Database) -> None:
    app = create_order_service({"ORD-T1": order().to_wire()})
    app.state.fail_decisions = 1  # the first attempt meets a 503
    async with OrderServiceServer(app) as url:
        source = HttpOrderSource(url, backoff=0.01)
        intake = IntakeService(db, source, default_evidence_sources())
        await intake.open(OpenRequest("ORD-T1", None, "", Actor.slack_user("U1")))
        assert await write_back(db, source, 1, UPDATE)
        assert await write_back(db, source, 1, UPDATE)  # a repeat is harmless
        await source.aclose()
    (stored,) = app.state.decisions.values()
    assert stored["return_id"] == "R1" and stored["amount_minor"] == 4000
    assert stored["refund_status"] == "succeeded" and stored["dispute"] == "D-1"
    last = (await audit_actions(db))[-1]
    assert last.action == "order.decision_recorded" and last.after["return_id"] == "R1"


async def test_a_source_without_write_back_is_recorded_as_such(db: Database) -> None:
    source = StaticOrders(order())

    async def no_write_back(*_args: object) -> bool:
        return False

    source.record_decision = no_write_back  # type: ignore[attr-defined]
    intake = IntakeService(db, source, default_evidence_sources())
    await intake.open(OpenRequest("ORD-T1", None, "", Actor.slack_user("U1")))
    assert not await write_back(db, source, 1, UPDATE)  # type: ignore[arg-type]
    last = (await audit_actions(db))[-1]
    assert last.action == "order.decision_not_recorded"
    assert "does not take decisions" in last.after["problem"]


async def test_an_order_system_that_refuses_is_recorded_not_raised(db: Database) -> None:
    app = create_order_service({"ORD-T1": order().to_wire()})
    app.state.fail_decisions = 99
    async with OrderServiceServer(app) as url:
        source = HttpOrderSource(url, attempts=2, backoff=0.01)
        intake = IntakeService(db, source, default_evidence_sources())
        await intake.open(OpenRequest("ORD-T1", None, "", Actor.slack_user("U1")))
        assert not await write_back(db, source, 1, UPDATE)
        await source.aclose()
    last = (await audit_actions(db))[-1]
    assert last.action == "order.decision_not_recorded"
    assert "after 2 attempts: HTTP 503" in last.after["problem"]
