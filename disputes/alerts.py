"""Bottleneck alerts: what raises one, whether it still holds, snoozing, and what a digest shows.

An alert is raised once per (subject, kind, stage): a dispute's stage at warning or breached,
an unassigned dispute of a high priority, a refund needing attention, a person over their cap
(once a day). The scan (`disputes.sla_scan`) raises them and gathers the pending ones into
digests; this module says what each one means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.lifecycle import Status
from disputes.permissions import Gate
from disputes.sla_clock import Clock
from domain.roles import Action
from policies.sla import Level, SlaPolicy
from storage.db import Database, on_postgresql
from storage.tables import AlertDigestRow, AlertPostRow, DisputeRow, SlaAlertRow


class Kind(StrEnum):
    WARNING = "warning"  # a stage past `warn_at` of its target
    BREACHED = "breached"  # a stage past its target
    UNASSIGNED = "unassigned"  # a high-priority dispute nobody owns
    ATTENTION = "attention"  # a refund whose outcome stayed unknown
    OVER_CAP = "over_cap"  # a person holding more open disputes than their cap


class State(StrEnum):
    PENDING = "pending"  # waits for the next digest
    SENT = "sent"
    SNOOZED = "snoozed"  # back as pending when `snoozed_until` passes, if it still holds
    DROPPED = "dropped"  # stopped holding before it was sent


SNOOZED = "alert.snoozed"


@dataclass(frozen=True, slots=True)
class Draft:
    """An alert to raise (once)."""

    kind: Kind
    stage: str
    details: dict[str, Any] = field(default_factory=dict)


def dispute_subject(dispute_id: int) -> str:
    return f"dispute:{dispute_id}"


def person_subject(user_id: str) -> str:
    return f"user:{user_id}"


def drafts_for(row: DisputeRow, clock: Clock, sla: SlaPolicy) -> list[Draft]:
    """The alerts the dispute's state calls for now (raising one twice does nothing)."""
    if clock.stage is None:
        return []
    found: list[Draft] = []
    due = {"due_at": clock.due_at.isoformat() if clock.due_at else None}
    if clock.level is Level.BREACHED:
        found.append(Draft(Kind.BREACHED, clock.stage, due))
    elif clock.level is Level.WARNING:
        found.append(Draft(Kind.WARNING, clock.stage, due))
    if row.owner_id is None and sla.is_high(clock.priority):
        found.append(Draft(Kind.UNASSIGNED, clock.priority))
    if row.status == Status.NEEDS_ATTENTION.value:
        found.append(Draft(Kind.ATTENTION, "executing"))
    return found


def still_holds(alert: SlaAlertRow, row: DisputeRow | None, over_cap: set[str]) -> bool:
    """Whether what raised the alert is still so: an alert that stopped holding is not sent."""
    if alert.kind == Kind.OVER_CAP:
        return alert.subject.removeprefix("user:") in over_cap
    if row is None or row.sla_stage is None:
        return False
    if alert.kind == Kind.BREACHED:
        return row.sla_stage == alert.stage and row.sla_level == Level.BREACHED.value
    if alert.kind == Kind.WARNING:
        return row.sla_stage == alert.stage and row.sla_level == Level.WARNING.value
    if alert.kind == Kind.UNASSIGNED:
        return row.owner_id is None and row.priority == alert.stage
    if alert.kind == Kind.ATTENTION:
        return row.status == Status.NEEDS_ATTENTION.value
    return False


def alert_values(
    subject: str, draft: Draft, now: datetime, dispute_id: int | None = None
) -> dict[str, Any]:
    """The row of a new alert."""
    return {
        "dispute_id": dispute_id,
        "subject": subject,
        "kind": draft.kind.value,
        "stage": draft.stage,
        "raised_at": now,
        "details": draft.details,
        "state": State.PENDING.value,
        "snoozes": 0,
    }


async def raise_all(session: AsyncSession, alerts: list[dict[str, Any]]) -> int:
    """Store the alerts (rows of `alert_values`) that were not raised before, in one
    statement; how many are new."""
    if not alerts:
        return 0
    insert = postgresql.insert if on_postgresql(session) else sqlite.insert
    statement = (
        insert(SlaAlertRow)
        .values(alerts)
        .on_conflict_do_nothing(index_elements=["subject", "kind", "stage"])
    )
    result = await session.execute(statement)
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


async def raise_once(
    session: AsyncSession,
    subject: str,
    draft: Draft,
    now: datetime,
    dispute_id: int | None = None,
) -> bool:
    """Store the alert unless it was raised before; whether it is new."""
    return bool(await raise_all(session, [alert_values(subject, draft, now, dispute_id)]))


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as a digest shows it, read when the digest is posted or updated."""

    alert_id: int
    kind: Kind
    stage: str
    state: State
    number: int | None = None
    order_id: str = ""
    reason: str = ""
    status: str = ""
    priority: str = ""
    owner_id: str | None = None
    due_at: datetime | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    person: str | None = None  # an over-cap alert's person
    details: dict[str, Any] = field(default_factory=dict)
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    back_from_snooze: bool = False


@dataclass(frozen=True, slots=True)
class DigestView:
    digest_id: int
    kind: str
    created_at: datetime
    lines: Sequence[AlertLine]
    summary: dict[str, Any]


async def digest_view(db: Database, digest_id: int) -> DigestView:
    """The digest with its alerts as they are now (owners and snoozes change after posting)."""
    async with db.reading() as session:
        digest = await session.get(AlertDigestRow, digest_id)
        if digest is None:
            raise DisputeError(f"There is no digest {digest_id}.")
        rows = await session.execute(
            select(SlaAlertRow, DisputeRow)
            .outerjoin(DisputeRow, DisputeRow.id == SlaAlertRow.dispute_id)
            .where(SlaAlertRow.digest_id == digest_id)
            .order_by(SlaAlertRow.id)
        )
        lines = [_line(alert, row) for alert, row in rows.all()]
    return DigestView(digest.id, digest.kind, digest.created_at, lines, dict(digest.summary))


async def posts_of(db: Database, digest_id: int) -> list[tuple[str, str]]:
    """Where a digest was posted: (channel, ts) pairs, to update it after a Take or Snooze."""
    async with db.reading() as session:
        rows = await session.execute(
            select(AlertPostRow.channel_id, AlertPostRow.message_ts).where(
                AlertPostRow.digest_id == digest_id, AlertPostRow.posted_at.is_not(None)
            )
        )
        return [(str(channel), str(ts)) for channel, ts in rows.all()]


def _line(alert: SlaAlertRow, row: DisputeRow | None) -> AlertLine:
    common: dict[str, Any] = {
        "alert_id": alert.id,
        "kind": Kind(alert.kind),
        "stage": alert.stage,
        "state": State(alert.state),
        "details": dict(alert.details or {}),
        "snoozed_by": alert.snoozed_by,
        "snoozed_until": alert.snoozed_until,
        # Sent again after a snooze ran out (while snoozed it shows who snoozed it instead).
        "back_from_snooze": alert.snoozes > 0 and alert.state == State.SENT.value,
    }
    if row is None:
        return AlertLine(person=alert.subject.removeprefix("user:"), **common)
    return AlertLine(
        number=row.number,
        order_id=row.order_id,
        reason=row.reason,
        status=row.status,
        priority=row.priority,
        owner_id=row.owner_id,
        due_at=row.sla_due_at,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        **common,
    )


@dataclass(frozen=True, slots=True)
class Snoozed:
    digest_id: int | None
    until: datetime
    number: int | None


class AlertService:
    """What people do to alerts: snooze one (Take goes through `AssignmentService`)."""

    def __init__(self, db: Database, gate: Gate | None, *, snooze: timedelta) -> None:
        self.db = db
        self.gate = gate
        self.snooze_for = snooze

    async def digest(self, digest_id: int) -> DigestView:
        return await digest_view(self.db, digest_id)

    async def posts_of(self, digest_id: int) -> list[tuple[str, str]]:
        return await posts_of(self.db, digest_id)

    async def alert(self, alert_id: int) -> tuple[SlaAlertRow, int | None]:
        """The alert and its dispute's number (None for a person's alert)."""
        async with self.db.reading() as session:
            found = (
                await session.execute(
                    select(SlaAlertRow, DisputeRow.number)
                    .outerjoin(DisputeRow, DisputeRow.id == SlaAlertRow.dispute_id)
                    .where(SlaAlertRow.id == alert_id)
                )
            ).first()
        if found is None:
            raise DisputeError("That alert no longer exists.")
        return found[0], found[1]

    async def snooze(self, alert_id: int, actor: Actor) -> Snoozed:
        """Hold the alert back for the snooze time: it comes back in a later digest if it still
        holds then. Audited on its dispute."""
        _, number = await self.alert(alert_id)
        if self.gate is not None:
            await self.gate.require(Action.SNOOZE_ALERTS, actor, number=number)

        async def work(session: AsyncSession) -> Snoozed:
            alert = await session.get(SlaAlertRow, alert_id, with_for_update=True)
            if alert is None:
                raise DisputeError("That alert no longer exists.")
            now = datetime.now(UTC)
            until = now + self.snooze_for
            alert.state = State.SNOOZED.value
            alert.snoozed_until = until
            alert.snoozed_by = actor.id
            alert.snoozes += 1
            if alert.dispute_id is not None:
                row = await session.get(DisputeRow, alert.dispute_id)
                if row is not None:
                    await audit.append(
                        session,
                        row,
                        actor,
                        SNOOZED,
                        after={
                            "kind": alert.kind,
                            "stage": alert.stage,
                            "until": until.isoformat(),
                        },
                        at=now,
                    )
            return Snoozed(alert.digest_id, until, number)

        return await self.db.run(work)
