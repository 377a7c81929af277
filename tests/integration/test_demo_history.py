"""The demo's seeded history (`bot.demo_history`): closed disputes as the app would have stored
them, that give insights something to show: every KPI, upstream problems to flag, evidence and
citation effects, and a weekly chart."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.demo_history import DAYS, HOT_CARRIER, HOT_ORDER, SURGE_DAYS
from bot.demo_history_rows import seed_history
from bot.settings import default_policy_pack, default_sla_file
from disputes import audit, milestones, sla_clock
from disputes.insight_report import Period
from disputes.insights import InsightsService
from disputes.lifecycle import Status
from disputes.tags import order_tags
from domain.orders import Order
from policies.loader import load_pack
from policies.sla import SlaPolicy
from storage.db import Database
from storage.migrate import migrate
from storage.tables import (
    AuditRow,
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
    RefundRequestRow,
    SlaStageRunRow,
)

NOW = datetime(2026, 11, 18, 15, 7, 30, tzinfo=UTC)
SLA, PACK = default_sla_file(), default_policy_pack()


@pytest.fixture
async def history(tmp_path) -> Any:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    await migrate(db)
    sla = SlaPolicy.load(SLA)
    sla_clock.watch(db, sla)
    written = await seed_history(db, sla, load_pack(PACK), NOW)
    yield db, sla, written
    await db.dispose()


async def test_the_history_is_closed_disputes_as_the_app_stores_them(history: Any) -> None:
    db, sla, written = history
    assert 150 <= written <= 250
    async with db.reading() as session:
        disputes = list(await session.scalars(select(DisputeRow).order_by(DisputeRow.number)))
        problems = await audit.verify(session)
        steps = await _status_steps(session)
        runs = _by_dispute(await session.scalars(select(SlaStageRunRow)))
        tags = _by_dispute(await session.scalars(select(DisputeTagRow)))
        evidence = _by_dispute(await session.scalars(select(EvidenceRow)))
        offers = list(await session.scalars(select(CustomerOfferRow)))
        refunds = list(await session.scalars(select(RefundRequestRow)))
        proposals = {p.id: p for p in await session.scalars(select(ProposalRow))}
        surveys = list(await session.scalars(select(CsatRow)))
        again = await seed_history(db, sla, load_pack(PACK), NOW)
    assert again == 0, "a database with disputes gets no second history"
    assert problems == []
    assert [d.number for d in disputes] == list(range(1, written + 1))
    assert all(NOW - timedelta(days=DAYS + 15) < d.created_at < NOW for d in disputes)
    assert all(d.status in ("resolved", "withdrawn") and d.closed_at < NOW for d in disputes)
    assert all(d.sla_check_at is None and d.active_order_key is None for d in disputes)
    assert all(d.closing_due_at is None and d.thread_ts is None for d in disputes)
    assert {d.owner_id for d in disputes} == {"U0MANAGER1", "U0MANAGER2", "U0AGENT"}
    for row in disputes:
        replayed, ended = _replay(row, steps[row.id], sla)
        assert (row.resolved_at, row.resolve_business_seconds, row.reopened_at) == (
            replayed.resolved_at,
            replayed.resolve_business_seconds,
            replayed.reopened_at,
        ), f"D-{row.number}"
        assert row.closed_at == replayed.closed_at
        assert sorted(map(_run, runs[row.id])) == sorted(map(_run, ended)), f"D-{row.number}"
        assert all(r.breached == (r.left_at > r.due_at) for r in runs[row.id])
        assert row.order_snapshot is not None
        found = {(t.dimension, t.value) for t in tags[row.id] if t.dimension != "rule"}
        order = Order.from_wire(row.order_snapshot)
        assert found == {(d.value, v) for d, v in order_tags(order)}
        assert any(t.dimension == "rule" for t in tags[row.id])
    assert any(d.reopened_at for d in disputes) and any(d.status == "withdrawn" for d in disputes)
    by_order: defaultdict[str, list[DisputeRow]] = defaultdict(list)
    for row in disputes:
        by_order[row.order_id].append(row)
    later = [rows for rows in by_order.values() if len(rows) > 1]
    assert later and all(b.created_at - a.closed_at < timedelta(days=14) for a, b in later)

    assert {o.status for o in offers} == {"accepted", "declined", "expired"}
    for offer in offers:
        assert max(e.captured_at for e in evidence[offer.dispute_id]) <= offer.created_at
        assert (offer.answered_at is None) == (offer.status == "expired")
    assert all(r.status == "succeeded" for r in refunds)
    assert all(r.amount_minor == proposals[r.proposal_id].amount_minor > 0 for r in refunds)
    ratings = [s.rating for s in surveys if s.rating is not None]
    assert sum(r >= 4 for r in ratings) > 2 * sum(r <= 2 for r in ratings)


async def test_insights_on_the_history_have_something_to_show(history: Any) -> None:
    db, sla, _ = history
    service = InsightsService(db, sla)
    report = await service.report(Period.parse("30d", NOW))
    assert report.disputes.opened > 50 and report.disputes.resolved > 50
    assert report.time_to_resolve_hours.median and report.time_to_resolve_business_hours.median
    assert report.time_to_resolve_by_owner and report.time_to_resolve_by_reason
    assert 0 < (report.first_contact_resolution_rate or 0) < 1
    assert report.csat.score and report.csat.response_rate and report.refunds_paid
    assert any(stage.rate for stage in report.sla_breach_rate)
    flagged = {
        (name, g.value) for name, groups in report.recurring.items() for g in groups if g.flagged
    }
    assert ("carrier", HOT_CARRIER) in flagged and ("sku", "EL-HP-NC700-BLK") in flagged
    measured = [e for e in report.evidence_effect if e.note is None]
    assert len(measured) >= 2
    photos = next(e for e in measured if e.name == "PROOF_OF_DAMAGE")
    assert photos.with_.acceptance_rate > photos.without.acceptance_rate  # type: ignore[operator]
    assert any(e.note is None for e in report.citation_effect)
    assert [p.owner for p in report.workload.people]

    before = await service.report(
        Period(
            label="before",
            start=NOW - timedelta(days=2 * SURGE_DAYS),
            end=NOW - timedelta(days=SURGE_DAYS),
        )
    )
    assert not any(g.flagged for groups in before.recurring.values() for g in groups)
    weeks = await service.trend(NOW)
    assert len(weeks) == 8
    assert all(w.opened and w.resolved and w.median_hours for w in weeks)
    assert sum(w.csat_score is not None for w in weeks) >= 6
    assert HOT_ORDER == "ORD-1002"


async def test_the_same_moment_gives_the_same_history(tmp_path) -> None:
    dumps = []
    for name in ("a", "b"):
        db = Database(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        await migrate(db)
        sla = SlaPolicy.load(SLA)
        sla_clock.watch(db, sla)
        await seed_history(db, sla, load_pack(PACK), NOW)
        async with db.engine.connect() as connection:
            rows = (await connection.execute(select(DisputeRow.__table__))).all()
            chain = (await connection.execute(select(AuditRow.hash).order_by(AuditRow.id))).all()
        dumps.append((rows, chain))
        await db.dispose()
    assert dumps[0] == dumps[1]


def _by_dispute(rows: Any) -> defaultdict[int, list[Any]]:
    found: defaultdict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[row.dispute_id].append(row)
    return found


async def _status_steps(session: Any) -> defaultdict[int, list[tuple[datetime, str]]]:
    found: defaultdict[int, list[tuple[datetime, str]]] = defaultdict(list)
    entries = await session.execute(
        select(AuditRow.dispute_id, AuditRow.at, AuditRow.after)
        .where(AuditRow.action.like("status.%"))
        .order_by(AuditRow.dispute_id, AuditRow.seq)
    )
    for dispute_id, at, after in entries:
        found[dispute_id].append((at, after["status"]))
    return found


def _replay(
    row: DisputeRow, steps: list[tuple[datetime, str]], sla: SlaPolicy
) -> tuple[DisputeRow, list[SlaStageRunRow]]:
    """The dispute written step by step through the app's write hook functions."""
    copy = DisputeRow(
        id=row.id,
        number=row.number,
        status=Status.NEW.value,
        state_times={"new": row.created_at.isoformat()},
        created_at=row.created_at,
        updated_at=row.created_at,
        reason=row.reason,
        currency=row.currency,
        order_total_minor=row.order_total_minor,
        disputed_amount_minor=row.disputed_amount_minor,
        prior_disputes=row.prior_disputes,
        order_snapshot=row.order_snapshot,
    )
    sla_clock.apply(copy, sla_clock.clock_of(copy, sla, row.created_at))
    ended = []
    for at, status in steps:
        before = milestones.StageBefore.of(copy)
        copy.status = status
        copy.state_times = {**copy.state_times, status: at.isoformat()}
        copy.updated_at = at
        milestones.stamp(copy, sla)
        sla_clock.apply(copy, sla_clock.clock_of(copy, sla, at))
        if run := milestones.ended_run(copy, before, at):
            ended.append(run)
    return copy, ended


def _run(run: SlaStageRunRow) -> tuple[Any, ...]:
    return (run.stage, run.priority, run.entered_at, run.due_at, run.left_at, run.breached)
