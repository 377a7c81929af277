"""Owners on SQLite and PostgreSQL: assigning, taking and picking at intake, each change in
the audit trail with the change itself; refusals; two people taking one dispute at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from disputes.assignment import AssignmentService
from disputes.audit import Actor
from disputes.errors import DisputeError, NotAllowed
from disputes.intake import IntakeService, OpenRequest
from disputes.permissions import Gate
from disputes.roles import CurrentRoles
from storage.db import Database
from storage.tables import AuditRow, DisputeRow
from tests.support.orders import StaticOrders, order

SUPERVISOR, MANAGER, MANAGER2, AGENT, AGENT2 = "U0SUP", "U0MAN", "U0MAN2", "U0AGE", "U0AGE2"
ROLES = """
roles:
  supervisor: {users: [U0SUP], approval_limit: null}
  manager: {users: [U0MAN, U0MAN2], approval_limit: "200.00"}
  agent: {users: [U0AGE, U0AGE2], approval_limit: "0"}
two_person_rule_above: null
"""
AUTO = """
assignment:
  eligible: [agent]
  caps_by_user: {U0AGE: 1}
out_of_office: [U0AGE2]
"""


class World:
    def __init__(self, db: Database, folder: Path, extra: str = "") -> None:
        path = folder / "roles.yml"
        path.write_text(ROLES + extra)
        self.db = db
        self.roles = CurrentRoles(path)
        self.gate = Gate(db, self.roles)
        self.owners = AssignmentService(db, self.roles, self.gate)
        self.orders = StaticOrders(*(order(order_id=f"ORD-T{n}") for n in range(1, 6)))
        self.intake = IntakeService(db, self.orders, [], gate=self.gate, owners=self.roles)

    async def open(self, n: int) -> int:
        request = OpenRequest(f"ORD-T{n}", None, "crushed", Actor.slack_user(MANAGER))
        return (await self.intake.open(request)).case.dispute.number

    async def owner(self, number: int) -> str | None:
        async with self.db.reading() as session:
            return await session.scalar(
                select(DisputeRow.owner_id).where(DisputeRow.number == number)
            )

    async def changes(self, number: int) -> list[dict[str, Any]]:
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(AuditRow)
                .join(DisputeRow, AuditRow.dispute_id == DisputeRow.id)
                .where(DisputeRow.number == number, AuditRow.action == "assignment.changed")
                .order_by(AuditRow.seq)
            )
            return [row.after for row in rows]

    async def refusals(self, number: int) -> list[str]:
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(AuditRow)
                .join(DisputeRow, AuditRow.dispute_id == DisputeRow.id)
                .where(DisputeRow.number == number, AuditRow.action == "permission.refused")
            )
            return [row.after["action"] for row in rows]


def person(user_id: str) -> Actor:
    return Actor.slack_user(user_id)


async def test_a_manager_assigns_and_an_agent_takes_an_unowned_one(
    db: Database, tmp_path: Path
) -> None:
    world = World(db, tmp_path)
    first, second = await world.open(1), await world.open(2)
    assert await world.owner(first) is None  # no assignment section: nobody is picked

    change = await world.owners.assign(first, AGENT, person(MANAGER))
    assert change.changed and change.case.dispute.owner_id == AGENT
    assert await world.owner(first) == AGENT
    taken = await world.owners.take(second, person(AGENT2))
    assert taken.owner == AGENT2 and taken.by == AGENT2
    assert await world.changes(first) == [
        {"from": None, "to": AGENT, "by": MANAGER, "why": "assign"}
    ]
    assert await world.changes(second) == [
        {"from": None, "to": AGENT2, "by": AGENT2, "why": "take"}
    ]
    # Assigning oneself is taking; a manager may take over one somebody owns.
    over = await world.owners.assign(first, MANAGER2, person(MANAGER2))
    assert (over.before, over.owner, over.why) == (AGENT, MANAGER2, "take")
    again = await world.owners.take(first, person(MANAGER2))
    assert not again.changed
    assert len(await world.changes(first)) == 2  # nothing changed, nothing written


async def test_refusals_name_the_role_and_are_audited(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(1)
    with pytest.raises(NotAllowed) as refused:
        await world.owners.assign(number, AGENT2, person(AGENT))
    assert "You cannot assign D-1 to someone" in str(refused.value)
    assert "manager or supervisor" in str(refused.value)
    await world.owners.take(number, person(AGENT))
    with pytest.raises(NotAllowed) as refused:
        await world.owners.take(number, person(AGENT2))
    assert f"You cannot take D-1 from <@{AGENT}>" in str(refused.value)
    assert "manager or supervisor" in str(refused.value)
    with pytest.raises(NotAllowed):
        await world.owners.take(number, person("U0NOBODY"))  # may not even review
    assert await world.owner(number) == AGENT
    assert await world.refusals(number) == ["assign", "assign", "review"]


async def test_a_closed_dispute_keeps_its_owner(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(1)
    async with db.transaction() as session:
        await session.execute(
            update(DisputeRow)
            .where(DisputeRow.number == number)
            .values(status="resolved", active_order_key=None)
        )
    for attempt in (
        world.owners.assign(number, AGENT, person(SUPERVISOR)),
        world.owners.take(number, person(SUPERVISOR)),
    ):
        with pytest.raises(DisputeError) as refused:
            await attempt
        assert "D-1 is resolved" in str(refused.value)
    assert await world.owner(number) is None
    assert await world.changes(number) == []
    assert (await world.owners.auto_assign(number)).owner is None


async def test_two_takes_at_once_leave_one_owner(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(1)
    results = await asyncio.gather(
        world.owners.take(number, person(AGENT)),
        world.owners.take(number, person(AGENT2)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], NotAllowed)
    assert await world.owner(number) == won[0].owner
    assert [c["to"] for c in await world.changes(number)] == [won[0].owner]


async def test_intake_gives_the_least_loaded_agent_in_office_under_their_cap(
    db: Database, tmp_path: Path
) -> None:
    world = World(db, tmp_path, AUTO)
    # U0AGE2 is out of office, managers are not eligible, U0AGE holds at most one.
    first = await world.open(1)
    assert await world.owner(first) == AGENT
    assert await world.changes(first) == [
        {"from": None, "to": AGENT, "by": "assignment", "why": "auto"}
    ]
    second = await world.open(2)
    assert await world.owner(second) is None  # everyone eligible is away or full
    assert await world.changes(second) == []
    # Once U0AGE2 is back, auto-assignment picks them.
    (tmp_path / "roles.yml").write_text(ROLES + AUTO.replace("[U0AGE2]", "[]  "))
    assert (await world.owners.auto_assign(second)).owner == AGENT2
    assert await world.owner(second) == AGENT2
