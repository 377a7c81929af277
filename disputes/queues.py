"""Who has what to do: a person's own disputes, the proposals waiting for their approval, the
disputes nobody owns, the stuck ones, and the team's load. Read-only, every read bounded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.audit import Actor
from disputes.errors import NotAllowed
from disputes.lifecycle import CLOSED, Status
from disputes.models import Dispute
from disputes.permissions import Gate
from disputes.repository import to_dispute
from disputes.resolution import ResolutionService
from disputes.roles import ROLES_HELP, CurrentRoles, Roles
from domain.resolutions import Resolution
from domain.roles import Action, Role
from policies.sla import Level, SlaPolicy
from storage.db import Database
from storage.tables import DisputeRow, ProposalRow

MAX_LIMIT = 100  # rows one read may return
# Open proposals weighed against the approver's role and limits in one read: the approval
# checks run per proposal, so the read stops here on a backlog larger than any team clears.
APPROVAL_SCAN = 500
MAX_TEAM_GROUPS = 5000  # (person, priority, level) groups read for the team's load
# Without an SLA file, the priorities the roles file's default weights name, highest first.
DEFAULT_PRIORITIES = ("urgent", "high", "normal", "low")
STUCK_LEVELS = (Level.BREACHED.value, Level.WARNING.value)
TEAM_ROLES = frozenset({Role.MANAGER, Role.SUPERVISOR})
CLOSED_VALUES = tuple(status.value for status in CLOSED)


@dataclass(frozen=True, slots=True)
class PendingProposal:
    """A proposal waiting for an approver."""

    id: int
    number: int  # within the dispute
    kind: Resolution
    amount_minor: int | None
    currency: str
    proposed_by: str
    needs_supervisor: bool


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One open dispute in a queue, with its service-level clock as last stored."""

    dispute: Dispute
    stage: str | None  # the stage whose clock runs; None when none does
    due_at: datetime | None
    level: str  # ok, warning, breached
    proposal: PendingProposal | None = None  # in the approvals queue: what waits


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of a queue: its items, and where they sit among `total`."""

    items: tuple[QueueItem, ...]
    total: int
    offset: int
    limit: int
    # False when the queue was read only in part (the approvals of a very large backlog):
    # `total` then counts what was read.
    exact: bool = True

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True)
class StuckCount:
    """Open disputes in warning or breached, of one stage and one owner (None: nobody)."""

    stage: str | None
    owner: str | None
    warning: int
    breached: int

    @property
    def total(self) -> int:
        return self.warning + self.breached


@dataclass(frozen=True, slots=True)
class Workload:
    """What one person holds: open disputes, how many of high priority, how many breached."""

    owner: str
    open: int
    high: int
    breaching: int


@dataclass(frozen=True, slots=True)
class Team:
    """The stuck disputes by stage and owner, and everyone's load, most pressed first."""

    stuck: tuple[StuckCount, ...]
    workload: tuple[Workload, ...]

    @property
    def stuck_total(self) -> int:
        return sum(count.total for count in self.stuck)

    def by_stage(self) -> list[tuple[str | None, int, int]]:
        """(stage, warning, breached), most breached first."""
        return _totals(self.stuck, lambda c: c.stage)

    def by_owner(self) -> list[tuple[str | None, int, int]]:
        """(owner, warning, breached), most breached first; None is nobody."""
        return _totals(self.stuck, lambda c: c.owner)


def _totals(
    counts: tuple[StuckCount, ...], key: Callable[[StuckCount], str | None]
) -> list[tuple[str | None, int, int]]:
    sums: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for count in counts:
        name = key(count)
        sums[name][0] += count.warning
        sums[name][1] += count.breached
    rows = [(name, w, b) for name, (w, b) in sums.items()]
    return sorted(rows, key=lambda r: (-r[2], -(r[1] + r[2]), r[0] or "~"))


def open_disputes() -> ColumnElement[bool]:
    """Open disputes: still holding their order's key, in a status that is not closed."""
    return and_(DisputeRow.active_order_key.is_not(None), DisputeRow.status.not_in(CLOSED_VALUES))


class QueueService:
    def __init__(
        self,
        db: Database,
        roles: Roles | CurrentRoles,
        resolution: ResolutionService,
        *,
        gate: Gate | None = None,
        sla: SlaPolicy | None = None,
    ) -> None:
        self.db = db
        self.roles = roles
        self.resolution = resolution  # its approval check decides who may approve what
        self.gate = gate
        self.sla = sla

    @property
    def priorities(self) -> tuple[str, ...]:
        """Every priority, highest first."""
        return self.sla.priorities if self.sla is not None else DEFAULT_PRIORITIES

    def is_high(self, priority: str) -> bool:
        if self.sla is not None:
            return self.sla.is_high(priority)
        return priority != "normal"

    def may_take(self, actor: Actor) -> bool:
        """Whether `actor` may take a dispute nobody owns."""
        return self.gate is None or self.gate.may(Action.REVIEW, actor)

    def sees_team(self, actor: Actor) -> bool:
        """Managers and supervisors see the team's load."""
        if not actor.is_person:
            return True
        return self.roles.current().role_of(actor.id, actor.groups) in TEAM_ROLES

    def require_team(self, actor: Actor) -> None:
        if not self.sees_team(actor):
            raise NotAllowed(
                f"The team's queue is for managers and supervisors ({ROLES_HELP}). "
                "`/dispute queue` shows yours."
            )

    async def mine(self, user_id: str, *, limit: int, offset: int = 0) -> QueuePage:
        """The open disputes `user_id` owns, the nearest breach first (no clock: last)."""
        where = and_(DisputeRow.owner_id == user_id, open_disputes())
        order = (DisputeRow.sla_due_at.asc().nulls_last(), DisputeRow.number.asc())
        return await self._page(where, order, limit, offset)

    async def unassigned(self, *, limit: int, offset: int = 0) -> QueuePage:
        """The open disputes nobody owns, the highest priority first, then the nearest breach."""
        rank = case(
            {name: n for n, name in enumerate(self.priorities)},
            value=DisputeRow.priority,
            else_=len(self.priorities),
        )
        where = and_(DisputeRow.owner_id.is_(None), open_disputes())
        order = (rank, DisputeRow.sla_due_at.asc().nulls_last(), DisputeRow.number.asc())
        return await self._page(where, order, limit, offset)

    async def stuck(self, *, limit: int, offset: int = 0) -> QueuePage:
        """The open disputes in warning or breached: breached first, then the nearest due."""
        where = and_(DisputeRow.sla_level.in_(STUCK_LEVELS), open_disputes())
        # "breached" sorts before "warning": the order follows ix_disputes_level_due.
        order = (
            DisputeRow.sla_level.asc(),
            DisputeRow.sla_due_at.asc().nulls_last(),
            DisputeRow.number.asc(),
        )
        return await self._page(where, order, limit, offset)

    async def approvals(self, actor: Actor, *, limit: int, offset: int = 0) -> QueuePage:
        """The open proposals `actor` may approve now (their role, their limits, the
        two-person rule), the nearest breach first."""
        _check_bounds(limit, offset)
        roles = self.roles.current()
        role = roles.role_of(actor.id, actor.groups)
        allowed = self.gate is None or self.gate.may(Action.APPROVE, actor)
        if role is None or not allowed:
            return QueuePage((), 0, offset, limit)
        query = (
            select(ProposalRow, DisputeRow)
            .join(DisputeRow, DisputeRow.id == ProposalRow.dispute_id)
            .where(
                ProposalRow.status == "open",
                DisputeRow.status == Status.PROPOSED.value,
                DisputeRow.active_order_key.is_not(None),
            )
            .order_by(DisputeRow.sla_due_at.asc().nulls_last(), ProposalRow.id)
            .limit(APPROVAL_SCAN + 1)
        )
        if role is not Role.SUPERVISOR:  # the check below refuses these too: not read at all
            query = query.where(ProposalRow.needs_supervisor.is_(False))
        async with self.db.reading() as session:
            found = (await session.execute(query)).all()
            weighed = found[:APPROVAL_SCAN]
            mine = [
                (proposal, row)
                for proposal, row in weighed
                if await self._may_approve(session, actor, row, proposal)
            ]
        items = tuple(_item(row, proposal) for proposal, row in mine[offset : offset + limit])
        return QueuePage(items, len(mine), offset, limit, exact=len(found) <= APPROVAL_SCAN)

    async def team(self) -> Team:
        """Stuck disputes counted by stage and owner; each person's load."""
        async with self.db.reading() as session:
            stuck = await session.execute(
                select(
                    DisputeRow.sla_stage, DisputeRow.owner_id, DisputeRow.sla_level, func.count()
                )
                .where(DisputeRow.sla_level.in_(STUCK_LEVELS), open_disputes())
                .group_by(DisputeRow.sla_stage, DisputeRow.owner_id, DisputeRow.sla_level)
                .limit(MAX_TEAM_GROUPS)
            )
            held = await session.execute(
                select(DisputeRow.owner_id, DisputeRow.priority, DisputeRow.sla_level, func.count())
                .where(DisputeRow.owner_id.is_not(None), open_disputes())
                .group_by(DisputeRow.owner_id, DisputeRow.priority, DisputeRow.sla_level)
                .limit(MAX_TEAM_GROUPS)
            )
            stuck_rows, held_rows = stuck.all(), held.all()
        cells: dict[tuple[str | None, str | None], list[int]] = defaultdict(lambda: [0, 0])
        for stage, owner, level, count in stuck_rows:
            cells[(stage, owner)][level == Level.BREACHED.value] += int(count)
        counts = tuple(StuckCount(s, o, w, b) for (s, o), (w, b) in sorted(cells.items(), key=_key))
        load: dict[str, list[int]] = {
            person: [0, 0, 0] for person in self.roles.current().assignable()
        }
        for owner, priority, level, count in held_rows:
            totals = load.setdefault(str(owner), [0, 0, 0])
            totals[0] += int(count)
            totals[1] += int(count) if self.is_high(priority) else 0
            totals[2] += int(count) if level == Level.BREACHED.value else 0
        people = sorted(load.items(), key=lambda p: (-p[1][2], -p[1][1], -p[1][0], p[0]))
        return Team(counts, tuple(Workload(who, *totals) for who, totals in people))

    async def _page(
        self,
        where: ColumnElement[bool],
        order: Sequence[ColumnElement[Any]],
        limit: int,
        offset: int,
    ) -> QueuePage:
        _check_bounds(limit, offset)
        query = select(DisputeRow).where(where).order_by(*order).limit(limit).offset(offset)
        async with self.db.reading() as session:
            total = await session.scalar(select(func.count()).select_from(DisputeRow).where(where))
            rows = await session.scalars(query)
            items = tuple(_item(row) for row in rows)
        return QueuePage(items, int(total or 0), offset, limit)

    async def _may_approve(
        self, session: AsyncSession, actor: Actor, row: DisputeRow, proposal: ProposalRow
    ) -> bool:
        try:
            await self.resolution.check_authority(
                session,
                row,
                actor,
                proposer=proposal.proposed_by,
                amount_minor=proposal.amount_minor or 0,
                supervisor_required=proposal.needs_supervisor,
            )
        except NotAllowed:
            return False
        return True


def _key(cell: tuple[tuple[str | None, str | None], list[int]]) -> tuple[str, str]:
    (stage, owner), _ = cell
    return (stage or "~", owner or "~")


def _check_bounds(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_LIMIT} and offset 0 or more")


def _item(row: DisputeRow, proposal: ProposalRow | None = None) -> QueueItem:
    pending = None
    if proposal is not None:
        pending = PendingProposal(
            id=proposal.id,
            number=proposal.number,
            kind=Resolution(proposal.kind),
            amount_minor=proposal.amount_minor,
            currency=proposal.currency,
            proposed_by=proposal.proposed_by,
            needs_supervisor=proposal.needs_supervisor,
        )
    return QueueItem(to_dispute(row), row.sla_stage, row.sla_due_at, row.sla_level, pending)
