"""Each dispute's service-level clock, kept on its row: the priority, the stage whose clock runs,
when the stage was entered and is due, its level, and when the scan should look again.

The clock is computed from what is stored (the status, its entry time in `state_times`, the
stage entered before) and never from a scheduler's memory: `watch` recomputes it whenever a
dispute is written, and the scan (`disputes.sla_scan`) whenever `sla_check_at` comes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from disputes import insight_facts, milestones
from policies.sla import Level, SlaPolicy, stage_for
from storage.db import Database
from storage.tables import DisputeRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Clock:
    """A dispute's clock at one moment. `stage` is None once the dispute is closed."""

    priority: str
    stage: str | None
    entered_at: datetime | None
    due_at: datetime | None
    level: Level
    check_at: datetime | None  # the next moment something may change: warning, breach, priority


def facts_of(row: DisputeRow, now: datetime) -> dict[str, Any]:
    """The facts priorities may use (`policies.sla_file.SLA_FACTS`), from the row alone."""
    customer = (row.order_snapshot or {}).get("customer") or {}
    facts: dict[str, Any] = {
        "reason": row.reason,
        "currency": row.currency,
        "order_total": row.order_total_minor,
        "disputed_amount": row.disputed_amount_minor or 0,
        "prior_disputes": row.prior_disputes or 0,
        "age_hours": max(int((now - row.created_at).total_seconds() // 3600), 0),
    }
    if isinstance(customer.get("tier"), str):
        facts["customer_tier"] = customer["tier"]
    if isinstance(customer.get("prior_returns_90d"), int):
        facts["prior_returns_90d"] = customer["prior_returns_90d"]
    return facts


def clock_of(row: DisputeRow, sla: SlaPolicy, now: datetime) -> Clock:
    """The dispute's clock at `now`."""
    priority = sla.priority(facts_of(row, now), now)
    review = sla.next_review(row.created_at, now)
    stage = stage_for(row.status)
    if stage is None:
        return Clock(priority, None, None, None, Level.OK, None)
    entered = _entered_at(row, stage)
    state = sla.state(priority, stage, entered, now)
    moments = [review]
    if state.level is Level.OK:
        moments.append(sla.warns_at(priority, stage, entered))
    if state.level is not Level.BREACHED:
        moments.append(state.due_at)
    check_at = min((m for m in moments if m is not None), default=None)
    return Clock(priority, stage, entered, state.due_at, state.level, check_at)


def _entered_at(row: DisputeRow, stage: str) -> datetime:
    """When the running stage began: kept while the stage stays the same (new and
    evidence_ready are both the first response), else when the current status was entered."""
    if row.sla_stage == stage and row.sla_entered_at is not None:
        return row.sla_entered_at
    return milestones.entered(row, row.status) or row.updated_at or row.created_at


def apply(row: DisputeRow, clock: Clock) -> None:
    """Write `clock` onto the row (only what differs, so an unchanged row stays clean)."""
    values = {
        "priority": clock.priority,
        "sla_stage": clock.stage,
        "sla_entered_at": clock.entered_at,
        "sla_due_at": clock.due_at,
        "sla_level": clock.level.value,
    }
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def watch(db: Database, sla: SlaPolicy) -> None:
    """Keep the clock of every dispute written through `db`: recomputed before each flush, and
    due for the scan's look at once (an owner, a status or a priority may raise an alert); its
    milestones stamped, the stage run a write ended recorded, and the facts insights read kept
    (`disputes.insight_facts`)."""

    def before_flush(session: Session) -> None:
        now = datetime.now(UTC)
        for row in [*session.new, *session.dirty]:
            if not isinstance(row, DisputeRow) or row.created_at is None:
                continue
            if row in session.dirty and not session.is_modified(row):
                continue
            before = milestones.StageBefore.of(row)
            try:
                milestones.stamp(row, sla)
                apply(row, clock_of(row, sla, now))
                row.sla_check_at = now if stage_for(row.status) is not None else None
                if row.id is not None and (run := milestones.ended_run(row, before, now)):
                    session.add(run)
            except Exception:  # the write goes on; the scan reports what is wrong with the row
                log.exception("the clock of D-%s could not be computed", row.number)
                row.sla_check_at = now

    db.before_flush(before_flush)
    insight_facts.keep(db)
