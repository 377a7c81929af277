"""A dispute's clock from its stored row: the stage and when it began, due and warning moments,
priority by age (and when to look again for it), and the alerts a clock calls for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from disputes.alerts import Kind, drafts_for
from disputes.sla_clock import clock_of, facts_of
from policies.sla import Level, SlaPolicy
from policies.sla_file import SlaError
from storage.tables import DisputeRow

SLA = """\
timezone: UTC
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
warn_at: 0.5
priorities:
  - {name: urgent, when: {fact: disputed_amount, op: gte, value: "500.00"}}
  - {name: high, when: {any: [{fact: age_hours, gte: 72}, {fact: prior_disputes, gte: 2}]}}
  - {name: normal}
targets:
  urgent: {business: false, first_response: 1h, in_review: 2h, awaiting_approval: 1h,
           awaiting_customer: 1d, executing: 1h}
  high: {business: false, first_response: 2h, in_review: 4h, awaiting_approval: 2h,
         awaiting_customer: 2d, executing: 2h}
  normal: {business: true, first_response: 4h, in_review: 1d, awaiting_approval: 4h,
           awaiting_customer: 3d, executing: 4h}
"""
# A Monday, 10:00 UTC.
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def sla(tmp_path: Path) -> SlaPolicy:
    path = tmp_path / "sla.yml"
    path.write_text(SLA)
    return SlaPolicy.load(path)


def row(**values: object) -> DisputeRow:
    base: dict[str, object] = {
        "number": 7,
        "reason": "DAMAGED",
        "currency": "USD",
        "order_total_minor": 12900,
        "disputed_amount_minor": 12900,
        "prior_disputes": 0,
        "status": "new",
        "state_times": {"new": MONDAY.isoformat()},
        "owner_id": "U1",
        "created_at": MONDAY,
        "updated_at": MONDAY,
        "sla_stage": None,
        "sla_entered_at": None,
        "order_snapshot": {"customer": {"tier": "vip", "prior_returns_90d": 4}},
    }
    return DisputeRow(**{**base, **values})


def test_facts_are_read_from_the_row(sla: SlaPolicy) -> None:
    facts = facts_of(row(prior_disputes=3), MONDAY + timedelta(hours=5, minutes=59))
    assert facts == {
        "reason": "DAMAGED",
        "currency": "USD",
        "order_total": 12900,
        "disputed_amount": 12900,
        "prior_disputes": 3,
        "age_hours": 5,
        "customer_tier": "vip",
        "prior_returns_90d": 4,
    }


def test_a_new_dispute_runs_the_first_response_clock_in_business_time(sla: SlaPolicy) -> None:
    clock = clock_of(row(), sla, MONDAY + timedelta(hours=1))
    assert (clock.priority, clock.stage, clock.level) == ("normal", "first_response", Level.OK)
    assert clock.entered_at == MONDAY
    assert clock.due_at == MONDAY + timedelta(hours=4)
    assert clock.check_at == MONDAY + timedelta(hours=2)  # half of 4 business hours: warning


def test_late_on_friday_the_clock_waits_for_monday(sla: SlaPolicy) -> None:
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    late = row(state_times={"new": friday.isoformat()}, created_at=friday, updated_at=friday)
    clock = clock_of(late, sla, friday + timedelta(hours=20))
    assert clock.due_at == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 1h Friday + 3h Monday
    assert clock.level is Level.OK


def test_the_stage_keeps_its_start_while_it_runs_and_restarts_when_it_changes(
    sla: SlaPolicy,
) -> None:
    later = MONDAY + timedelta(minutes=30)
    ready = row(
        status="evidence_ready",
        state_times={"new": MONDAY.isoformat(), "evidence_ready": later.isoformat()},
        sla_stage="first_response",
        sla_entered_at=MONDAY,
    )
    assert clock_of(ready, sla, later).entered_at == MONDAY  # still the first response
    review = row(
        status="in_review",
        state_times={"in_review": later.isoformat()},
        sla_stage="first_response",
        sla_entered_at=MONDAY,
    )
    clock = clock_of(review, sla, later)
    assert (clock.stage, clock.entered_at) == ("in_review", later)


def test_levels_and_when_to_look_again(sla: SlaPolicy) -> None:
    urgent = row(disputed_amount_minor=60000)
    warned = clock_of(urgent, sla, MONDAY + timedelta(minutes=40))
    assert (warned.priority, warned.level) == ("urgent", Level.WARNING)
    assert warned.check_at == MONDAY + timedelta(hours=1)  # the breach
    breached = clock_of(urgent, sla, MONDAY + timedelta(minutes=61))
    assert breached.level is Level.BREACHED
    assert breached.check_at == MONDAY + timedelta(hours=72)  # only the age rule is left


def test_priority_rises_with_age_and_the_clock_says_when(sla: SlaPolicy) -> None:
    young = clock_of(row(), sla, MONDAY + timedelta(hours=71))
    assert young.priority == "normal"
    assert sla.next_review(MONDAY, MONDAY + timedelta(hours=71)) == MONDAY + timedelta(hours=72)
    old = clock_of(row(), sla, MONDAY + timedelta(hours=72))
    assert old.priority == "high"
    assert clock_of(row(prior_disputes=2), sla, MONDAY).priority == "high"


def test_closed_disputes_run_no_clock(sla: SlaPolicy) -> None:
    clock = clock_of(row(status="resolved", state_times={}), sla, MONDAY)
    assert (clock.stage, clock.due_at, clock.check_at) == (None, None, None)
    assert drafts_for(row(status="resolved"), clock, sla) == []


def test_the_alerts_a_clock_calls_for(sla: SlaPolicy) -> None:
    urgent = row(
        disputed_amount_minor=60000,
        owner_id=None,
        status="needs_attention",
        state_times={"needs_attention": MONDAY.isoformat()},
    )
    clock = clock_of(urgent, sla, MONDAY + timedelta(hours=2))
    kinds = [(d.kind, d.stage) for d in drafts_for(urgent, clock, sla)]
    assert kinds == [
        (Kind.BREACHED, "executing"),
        (Kind.UNASSIGNED, "urgent"),
        (Kind.ATTENTION, "executing"),
    ]
    owned = row(owner_id="U1")
    assert drafts_for(owned, clock_of(owned, sla, MONDAY), sla) == []


def test_priorities_may_only_use_facts_known_without_evidence(tmp_path: Path) -> None:
    path = tmp_path / "sla.yml"
    path.write_text(SLA.replace("{fact: prior_disputes, gte: 2}", "{fact: condition_grade, eq: C}"))
    with pytest.raises(SlaError) as error:
        SlaPolicy.load(path)
    message = str(error.value)
    assert "'condition_grade' is not known to priorities" in message
    assert ("age_hours" in message and ":6:" in message) or "line 6" in message or "6" in message
