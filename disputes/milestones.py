"""The moments insights count from, kept on each dispute as it is written: when it was first
resolved (and how many business seconds that took), when it was first reopened after that, when
it last closed, and each service-level stage run that ended (breached or not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from disputes.lifecycle import CLOSED, Status
from policies import business_time
from policies.sla import SlaPolicy
from storage.tables import DisputeRow, SlaStageRunRow


@dataclass(frozen=True, slots=True)
class StageBefore:
    """A dispute's running stage as stored before a write."""

    stage: str | None
    priority: str
    entered_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, row: DisputeRow) -> StageBefore:
        return cls(row.sla_stage, row.priority, row.sla_entered_at, row.sla_due_at)


def entered(row: DisputeRow, status: str) -> datetime | None:
    """When the dispute last entered `status`, from `state_times`."""
    stamp = (row.state_times or {}).get(status)
    if not isinstance(stamp, str):
        return None
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def stamp(row: DisputeRow, sla: SlaPolicy) -> None:
    """Set the milestones the row's status and state times imply (only what differs)."""
    status = row.status
    if status == Status.RESOLVED and row.resolved_at is None:
        resolved = entered(row, status) or row.updated_at
        row.resolved_at = resolved
        row.resolve_business_seconds = business_seconds(row.created_at, resolved, sla)
    if status == Status.REOPENED and row.resolved_at is not None and row.reopened_at is None:
        row.reopened_at = entered(row, status) or row.updated_at
    closed = (entered(row, status) or row.updated_at) if status in CLOSED else None
    if row.closed_at != closed:
        row.closed_at = closed


def business_seconds(start: datetime, end: datetime, sla: SlaPolicy) -> int:
    """Whole seconds of the SLA file's business hours between `start` and `end`."""
    return int(business_time.elapsed(start, end, sla.calendar).total_seconds())


def ended_run(row: DisputeRow, before: StageBefore, now: datetime) -> SlaStageRunRow | None:
    """The stage run a write ended: the stage stored before it is no longer the one running
    (left for another stage, or the dispute closed). None when the same run goes on."""
    if before.stage is None or before.entered_at is None or before.due_at is None:
        return None
    if row.sla_stage == before.stage and row.sla_entered_at == before.entered_at:
        return None
    left = row.sla_entered_at if row.sla_stage is not None else row.closed_at
    left = left or now
    return SlaStageRunRow(
        dispute_id=row.id,
        stage=before.stage,
        priority=before.priority,
        entered_at=before.entered_at,
        due_at=before.due_at,
        left_at=left,
        breached=left > before.due_at,
    )
