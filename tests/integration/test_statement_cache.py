"""The statements an intake runs are compiled once per process, not once per dispute: after
every shape of order has been opened once, opening the same shapes again compiles nothing.

A statement built from the data it writes (a VALUES list of this call's rows, a column list
that depends on the order) is compiled again for each call, which costs more CPU than running
it; SQLAlchemy tells each execution whether its compiled form came from the cache."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event

from bot.settings import default_policy_pack, default_sla_file
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path
from disputes import sla_clock
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from domain.orders import Order
from policies.current import CurrentPack
from policies.sla import SlaPolicy
from storage.db import Database
from tests.support.orders import StaticOrders

MANAGER = Actor.slack_user("U0MANAGER1")


def copies(prefix: str) -> list[Order]:
    """Every demo order (each a different shape: reasons, returns, shipments, currencies),
    under order ids and payments of its own."""
    found = []
    for path in sorted(default_fixtures_path().glob("ORD-*.json")):
        data = json.loads(path.read_text())
        data["order_id"] = f"{prefix}-{data['order_id']}"
        data["payment"]["reference"] = f"{data['payment']['reference']}_{prefix}"
        found.append(Order.from_wire(data))
    return found


class Compilations:
    """The statements executed while listening whose compiled form was not a cache hit."""

    def __init__(self, db: Database) -> None:
        self.misses: list[str] = []
        self.listening = False
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self.hook)

    def hook(self, _conn: Any, _cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[1]
        if not self.listening or context is None or context.compiled is None:
            return  # a driver-level statement (BEGIN, PRAGMA): nothing compiled
        if context.cache_hit != context.dialect.CACHE_HIT:
            self.misses.append(" ".join(statement.split())[:160])


async def test_opening_disputes_compiles_no_statement_after_the_first_of_each_shape(
    db: Database,
) -> None:
    sla_clock.watch(db, SlaPolicy.load(default_sla_file()))
    first, again = copies("A"), copies("B")
    intake = IntakeService(
        db,
        StaticOrders(*first, *again),
        default_evidence_sources(),
        policy=CurrentPack(default_policy_pack()),
    )
    compilations = Compilations(db)
    for order in first:
        await intake.open(OpenRequest(order.order_id, None, "box crushed", MANAGER))
    compilations.listening = True
    for order in again:
        result = await intake.open(OpenRequest(order.order_id, None, "box crushed", MANAGER))
        assert result.created
    assert compilations.misses == []
