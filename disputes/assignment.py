"""Owners for disputes: assigning, taking, and picking one at intake; every change audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError, NotAllowed
from disputes.lifecycle import CLOSED, Status
from disputes.models import CaseFile, dispute_ref
from disputes.permissions import Gate
from disputes.repository import load_case, load_row
from disputes.roles import CurrentRoles, Roles
from domain.roles import Action
from storage.db import Database
from storage.tables import Counter, DisputeRow

CHANGED = "assignment.changed"
AUTO, ASSIGN, TAKE = "auto", "assign", "take"
CLOSED_VALUES = tuple(status.value for status in CLOSED)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person who may be given a new dispute, and what they hold now."""

    user_id: str
    load: int  # the sum of the priority weights of their open disputes
    open_count: int
    cap: int | None  # None: no cap


def pick_owner(candidates: Iterable[Candidate], away: Iterable[str] = ()) -> str | None:
    """The least-loaded candidate who is in and under their cap; ties go to the one holding
    fewer open disputes, then to the lower user id. None when nobody fits."""
    out = set(away)
    fits = [
        c for c in candidates if c.user_id not in out and (c.cap is None or c.open_count < c.cap)
    ]
    if not fits:
        return None
    return min(fits, key=lambda c: (c.load, c.open_count, c.user_id)).user_id


@dataclass(frozen=True, slots=True)
class OwnerChange:
    """What an assignment did: `before` and `owner` are equal when nothing changed."""

    case: CaseFile
    before: str | None
    owner: str | None
    by: str
    why: str

    @property
    def changed(self) -> bool:
        return self.before != self.owner


async def candidates(session: AsyncSession, roles: Roles) -> list[Candidate]:
    """Everyone who takes disputes, with the load of the open disputes they own."""
    people = roles.assignable()
    if not people:
        return []
    rows = await session.execute(
        select(DisputeRow.owner_id, DisputeRow.priority, func.count())
        .where(DisputeRow.owner_id.in_(people), DisputeRow.status.not_in(CLOSED_VALUES))
        .group_by(DisputeRow.owner_id, DisputeRow.priority)
    )
    load = dict.fromkeys(people, 0)
    held = dict.fromkeys(people, 0)
    for owner, priority, count in rows.all():
        load[str(owner)] += roles.weight_of(priority) * count
        held[str(owner)] += count
    return [Candidate(p, load[p], held[p], roles.cap_of(p)) for p in people]


async def auto_assign_row(session: AsyncSession, row: DisputeRow, roles: Roles) -> str | None:
    """Give the open, unowned dispute its owner by `pick_owner`, audited, inside the caller's
    transaction (intake's, which holds the dispute counter: intakes pick one at a time)."""
    if row.owner_id is not None or not Status(row.status).is_open:
        return row.owner_id
    owner = pick_owner(await candidates(session, roles), roles.away())
    if owner is not None:
        await _set_owner(session, row, owner, Actor.system("assignment"), AUTO)
    return owner


async def _set_owner(
    session: AsyncSession, row: DisputeRow, owner: str, actor: Actor, why: str
) -> None:
    before = row.owner_id
    now = datetime.now(UTC)
    row.owner_id = owner
    row.updated_at = now
    await session.flush()  # the row's version moves on: a concurrent change retries
    await audit.append(
        session,
        row,
        actor,
        CHANGED,
        before={"owner": before},
        after={"from": before, "to": owner, "by": actor.id, "why": why},
        at=now,
    )


class AssignmentService:
    def __init__(self, db: Database, roles: Roles | CurrentRoles, gate: Gate | None) -> None:
        self.db = db
        self.roles = roles
        self.gate = gate  # who may assign and take; without one, everybody

    async def assign(self, number: int, to_user: str, actor: Actor) -> OwnerChange:
        """Make `to_user` the owner; assigning oneself is taking it."""
        if to_user == actor.id:
            return await self.take(number, actor)
        if self.gate is not None:
            await self.gate.require(Action.ASSIGN, actor, number=number)
        return await self._change(number, to_user, actor, ASSIGN)

    async def take(self, number: int, actor: Actor) -> OwnerChange:
        """Become the owner: anyone who may review takes a dispute nobody owns; taking one
        someone else owns needs the right to assign."""
        if self.gate is not None:
            await self.gate.require(Action.REVIEW, actor, number=number)
        return await self._change(number, actor.id, actor, TAKE)

    async def auto_assign(self, number: int) -> OwnerChange:
        """Pick an owner for the dispute as intake does; it stays unowned when nobody fits."""

        async def work(session: AsyncSession) -> OwnerChange:
            # Holding the dispute counter orders this with intakes picking owners too.
            await session.execute(
                select(Counter).where(Counter.name == "dispute").with_for_update()
            )
            row = await load_row(session, number)
            before = row.owner_id
            await auto_assign_row(session, row, self.roles.current())
            return OwnerChange(await load_case(session, row), before, row.owner_id, "system", AUTO)

        return await self.db.run(work)

    async def _change(self, number: int, to_user: str, actor: Actor, why: str) -> OwnerChange:
        try:
            return await self._write(number, to_user, actor, why)
        except _OwnedBy as owned:
            assert self.gate is not None
            # Outside the transaction: the refusal is audited in one of its own.
            await self.gate.require(
                Action.ASSIGN,
                actor,
                number=number,
                refused=f"You cannot take {dispute_ref(number)} from <@{owned.owner}>",
            )
            raise NotAllowed(f"You cannot take {dispute_ref(number)}.") from None  # unreachable

    async def _write(self, number: int, to_user: str, actor: Actor, why: str) -> OwnerChange:
        async def work(session: AsyncSession) -> OwnerChange:
            row = await load_row(session, number)
            if not Status(row.status).is_open:
                raise DisputeError(
                    f"{dispute_ref(number)} is {Status(row.status).label.lower()}: a closed "
                    "dispute keeps the owner it had."
                )
            before = row.owner_id
            if before == to_user:
                return OwnerChange(await load_case(session, row), before, before, actor.id, why)
            if why == TAKE and before is not None and not self._may(Action.ASSIGN, actor):
                # Read inside the transaction: of two people taking it at once, one gets it.
                raise _OwnedBy(before)
            await _set_owner(session, row, to_user, actor, why)
            return OwnerChange(await load_case(session, row), before, to_user, actor.id, why)

        return await self.db.run(work)

    def _may(self, action: Action, actor: Actor) -> bool:
        return self.gate is None or self.gate.may(action, actor)


class _OwnedBy(Exception):
    """Someone else owns the dispute, and the person taking it may not take it over."""

    def __init__(self, owner: str) -> None:
        super().__init__(owner)
        self.owner = owner
