"""The benchmark dataset (`bench.dataset`) on SQLite and PostgreSQL: rows the app itself would
have written, consistent with each other and with the SLA clock, the same for the same seed."""

from __future__ import annotations

from collections import Counter as Tally
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import func, select

from bench.dataset import DEFAULT_SLA, ROOT, TABLES, DatasetSpec, _Planner, _Setup, fill
from bench.dataset_cases import HOT_CARRIER, HOT_SKU, SURGE_DAYS
from bench.dataset_timeline import OFFER_DAYS
from connectors.orders.evidence_sources import default_evidence_sources
from disputes import audit, milestones, sla_clock
from disputes.evidence_gathering import content_hash
from disputes.insight_report import Period
from disputes.insights import InsightsService
from disputes.lifecycle import Status
from disputes.sla_clock import clock_of, facts_of
from disputes.tags import order_tags
from domain.orders import Order
from domain.resolutions import MONEY_KINDS
from policies.sla import SlaPolicy, stage_for
from storage.db import Database
from storage.migrate import migrate
from storage.tables import (
    AuditRow,
    Counter,
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
    RefundLedgerRow,
    RefundRequestRow,
    SlaStageRunRow,
)

NOW = datetime(2026, 11, 18, 15, 7, 30, tzinfo=UTC)  # a Wednesday afternoon in New York
SPEC = DatasetSpec(300, open_share=0.2, due_share=0.25, seed=7, now=NOW)
PACK = ROOT / "policies" / "packs" / "default.yml"
MONEY = {kind.value for kind in MONEY_KINDS}


async def test_the_rows_are_consistent_with_each_other_and_the_clock(db: Database) -> None:
    report = await fill(db, SPEC, workers=0)
    sla = SlaPolicy.load(DEFAULT_SLA)
    async with db.reading() as session:
        disputes = list(await session.scalars(select(DisputeRow).order_by(DisputeRow.number)))
        counter = await session.scalar(select(Counter.value).where(Counter.name == "dispute"))
        problems = await audit.verify(session)
        evidence = list(await session.scalars(select(EvidenceRow)))
        proposals = {p.id: p for p in await session.scalars(select(ProposalRow))}
        offers = list(await session.scalars(select(CustomerOfferRow)))
        surveys = list(await session.scalars(select(CsatRow)))
        audits = await session.scalar(select(func.count()).select_from(AuditRow))

    assert [d.number for d in disputes] == list(range(1, 301)) and counter == 300
    assert report.rows["disputes"] == 300 and report.rows["audit_entries"] == audits
    assert problems == []
    created = [d.created_at for d in disputes]
    assert created == sorted(created), "numbers follow the order the disputes were opened in"
    opened = [d for d in disputes if Status(d.status).is_open]
    assert len(opened) == report.open == 60
    due = [d for d in opened if d.sla_check_at is not None and d.sla_check_at <= NOW]
    assert len(due) == report.due == 15
    for row in disputes:
        _check_times(row)
        _check_clock(row, sla, due=row in due)
    assert {"ok", "warning", "breached"} <= {d.sla_level for d in opened}
    assert len({d.owner_id for d in disputes}) > 20 and any(d.owner_id is None for d in opened)

    by_dispute: dict[int, set[tuple[str, str, str, str]]] = {}
    for item in evidence:
        if item.added_by == "intake":
            by_dispute.setdefault(item.dispute_id, set()).add(
                (item.kind, item.source, item.summary, item.content_hash)
            )
    for row in disputes:
        assert by_dispute[row.id] == await _evidence_from_sources(row), f"D-{row.number}"

    for offer in offers:
        assert proposals[offer.proposal_id].dispute_id == offer.dispute_id
    resolved = [d for d in disputes if d.status == "resolved"]
    assert len(surveys) > len(resolved) // 2
    ratings = [s.rating for s in surveys if s.rating is not None]
    assert ratings and set(ratings) <= {1, 2, 3, 4, 5}


def _check_times(row: DisputeRow) -> None:
    times = {status: datetime.fromisoformat(at) for status, at in row.state_times.items()}
    assert times["new"] == row.created_at
    assert times[row.status] == max(times.values()) <= row.updated_at <= NOW
    assert (row.active_order_key is not None) == Status(row.status).is_open


def _check_clock(row: DisputeRow, sla: SlaPolicy, *, due: bool) -> None:
    """A clock not due is what `clock_of` says now; a due one was right when last computed."""
    stage = stage_for(row.status)
    assert row.sla_stage == stage
    if stage is None:
        assert (row.sla_due_at, row.sla_check_at, row.sla_level) == (None, None, "ok")
        assert row.priority == sla.priority(facts_of(row, NOW), NOW)
        return
    now = clock_of(row, sla, NOW)
    stored = (row.priority, row.sla_entered_at, row.sla_due_at, row.sla_level)
    assert stored[:3] == (now.priority, now.entered_at, now.due_at), f"D-{row.number}"
    if not due:
        assert (row.sla_level, row.sla_check_at) == (now.level.value, now.check_at)
        return
    assert row.sla_check_at is not None
    then = clock_of(row, sla, row.sla_check_at - timedelta(seconds=1))
    assert row.sla_level == then.level.value, f"D-{row.number}"


async def _evidence_from_sources(row: DisputeRow) -> set[tuple[str, str, str, str]]:
    """What the default evidence sources file for the dispute's order, at intake."""
    assert row.order_snapshot is not None
    order = Order.from_wire(row.order_snapshot)
    assert order.order_id == row.order_id and order.total_minor == row.order_total_minor
    found = set()
    for source in default_evidence_sources(clock=lambda: row.created_at):
        for draft in await source.collect(order):
            found.add((draft.kind.value, draft.source, draft.summary, content_hash(draft)))
    return found


async def test_the_same_seed_makes_the_same_rows_with_any_number_of_workers(tmp_path) -> None:
    dumps = []
    for name, seed, workers in (("a", 7, 0), ("b", 7, 1), ("c", 8, 0)):
        db = Database(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        try:
            await migrate(db)
            spec = DatasetSpec(80, open_share=0.2, due_share=0.25, seed=seed, now=NOW, batch=50)
            await fill(db, spec, workers=workers)
            dumps.append(await _dump(db))
        finally:
            await db.dispose()
    assert dumps[0] == dumps[1]
    assert dumps[0] != dumps[2]


async def _dump(db: Database) -> list[Any]:
    async with db.engine.connect() as connection:
        disputes = (await connection.execute(select(DisputeRow.__table__))).all()
        chains = (await connection.execute(select(AuditRow.hash).order_by(AuditRow.id))).all()
    return [disputes, chains]


async def test_what_insights_read_is_what_the_app_would_have_stored(db: Database) -> None:
    """Milestones and stage runs as the app's own write hook makes them from the audited
    steps; tags from the order snapshot and the pack's rules; offers answered as audited."""
    spec = DatasetSpec(600, open_share=0.1, due_share=0.0, seed=3, now=NOW, history_days=120)
    await fill(db, spec, workers=0)
    sla = SlaPolicy.load(DEFAULT_SLA)
    async with db.reading() as session:
        disputes = list(await session.scalars(select(DisputeRow).order_by(DisputeRow.number)))
        steps = await _status_steps(session)
        runs = _by_dispute(await session.scalars(select(SlaStageRunRow)))
        tags = _by_dispute(await session.scalars(select(DisputeTagRow)))
        evidence = _by_dispute(await session.scalars(select(EvidenceRow)))
        offers = list(await session.scalars(select(CustomerOfferRow).order_by(CustomerOfferRow.id)))
        proposals = {p.id: p for p in await session.scalars(select(ProposalRow))}
        ratings = list(await session.scalars(select(CsatRow.rating).where(CsatRow.rating > 0)))
        refunds = list(await session.scalars(select(RefundRequestRow)))
        ledgers = set(await session.scalars(select(RefundLedgerRow.payment_reference)))
    rules = {rule["id"] for rule in yaml.safe_load(PACK.read_text())["rules"]}
    resolved = [d for d in disputes if d.resolved_at is not None]
    assert len(resolved) > 400
    for row in disputes:
        replayed, ended = _replay(row, steps[row.id], sla)
        stored = (row.resolved_at, row.resolve_business_seconds, row.reopened_at, row.closed_at)
        expected = (
            replayed.resolved_at,
            replayed.resolve_business_seconds,
            replayed.reopened_at,
            replayed.closed_at,
        )
        assert stored == expected, f"D-{row.number}"
        assert [_run(r) for r in sorted(runs[row.id], key=lambda r: r.entered_at)] == [
            _run(r) for r in ended
        ], f"D-{row.number}"
        assert all(r.breached == (r.left_at > r.due_at) for r in runs[row.id])
        _check_tags(row, tags[row.id], rules)
    assert all(d.resolve_business_seconds is not None for d in resolved)
    assert any(d.resolve_business_seconds for d in resolved)
    reopened = [d for d in disputes if d.reopened_at is not None]
    assert reopened and all(d.reopened_at > d.resolved_at for d in reopened)  # type: ignore[operator]
    assert any(r.breached for rs in runs.values() for r in rs)
    assert any(not r.breached for rs in runs.values() for r in rs)

    answers = {(after_offer, action): at for at, action, after_offer in _offer_steps(steps)}
    for offer in offers:
        assert max(e.captured_at for e in evidence[offer.dispute_id]) <= offer.created_at
        assert offer.expires_at == offer.created_at + timedelta(days=OFFER_DAYS)
        if offer.status in ("accepted", "declined"):
            event = "customer_accepted" if offer.status == "accepted" else "customer_declined"
            assert answers[(offer.id, event)] == offer.answered_at
        else:
            assert offer.answered_at is None
        if offer.status == "expired":
            assert answers[(offer.id, "offer_expired")] >= offer.expires_at
        if offer.status in ("declined", "expired"):
            assert proposals[offer.proposal_id].status == offer.status
    statuses = {o.status for o in offers}
    assert statuses >= {"accepted", "declined", "expired", "open"}
    offered = defaultdict(list)
    for offer in offers:
        offered[offer.dispute_id].append(offer.status)
    assert any(found[:2] == ["declined", "accepted"] for found in offered.values())
    assert sum(r >= 4 for r in ratings) > 2 * sum(r <= 2 for r in ratings)

    by_id = {d.id: d for d in disputes}
    succeeded = {
        (dispute_id, at)
        for dispute_id, found in steps.items()
        for at, action, _ in found
        if action == "status.execution_succeeded"
    }
    assert {r.status for r in refunds} >= {"succeeded", "unknown"}
    for refund in refunds:
        proposal, row = proposals[refund.proposal_id], by_id[refund.dispute_id]
        assert proposal.dispute_id == row.id and proposal.kind in MONEY
        assert refund.amount_minor == proposal.amount_minor and refund.currency == row.currency
        assert refund.payment_reference == row.order_snapshot["payment"]["reference"]  # type: ignore[index]
        assert refund.payment_reference in ledgers
        if refund.status == "succeeded":
            assert (row.id, refund.updated_at) in succeeded and row.resolved_at is not None

    by_order = defaultdict(list)
    for row in disputes:
        by_order[row.order_id].append(row)
    again = [rows for rows in by_order.values() if len(rows) > 1]
    assert again
    for first, later in again:
        assert first.closed_at is not None and later.created_at > first.closed_at
        assert later.order_snapshot == first.order_snapshot
        assert later.customer_id == first.customer_id

    report = await InsightsService(db, sla).report(Period.parse("30d", NOW))
    assert report.disputes.resolved > 50 and report.time_to_resolve_hours.median
    assert report.time_to_resolve_business_hours.p90 and report.refunds_paid
    assert report.first_contact_resolution_rate and report.csat.score
    assert 0 < report.first_contact_resolution_rate < 1
    assert all(stage.rate is not None for stage in report.sla_breach_rate)
    assert any(e.note is None for e in report.evidence_effect)
    assert any(e.note is None for e in report.citation_effect)


def test_one_sku_and_one_carrier_rise_in_the_last_days() -> None:
    """The recurring-reasons analysis has something to flag: a defective batch of one SKU and
    a carrier damaging parcels, only in the dataset's last SURGE_DAYS."""
    spec = DatasetSpec(8_000, now=NOW)
    planner = _Planner(_Setup(spec, NOW, {t.name: 1 for t in TABLES}, 1, encode=False))
    recent: Tally[str] = Tally()
    before: Tally[str] = Tally()
    for ticket in planner.tickets():
        plan = planner.plan(ticket.seed, ticket.opened_at, ticket.due, ticket.follows)
        late = plan.timeline.created_at >= NOW - timedelta(days=SURGE_DAYS)
        counts = recent if late else before
        counts["all"] += 1
        counts["hot sku"] += plan.case.hot_sku
        counts["damaged"] += plan.case.reason.value == "DAMAGED"
        counts["hot carrier"] += plan.case.hot_carrier
    assert before["hot sku"] == before["hot carrier"] == 0
    assert recent["hot sku"] >= 5 and recent["hot carrier"] >= 20
    assert HOT_SKU[0].startswith("EL-") and HOT_CARRIER == "LaserShip"


def _by_dispute(rows: Any) -> defaultdict[int, list[Any]]:
    found: defaultdict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[row.dispute_id].append(row)
    return found


async def _status_steps(session: Any) -> defaultdict[int, list[tuple[datetime, str, Any]]]:
    """Each dispute's audited status steps in order: (at, action, after)."""
    found: defaultdict[int, list[tuple[datetime, str, Any]]] = defaultdict(list)
    entries = await session.execute(
        select(AuditRow.dispute_id, AuditRow.at, AuditRow.action, AuditRow.after)
        .where(AuditRow.action.like("status.%"))
        .order_by(AuditRow.dispute_id, AuditRow.seq)
    )
    for dispute_id, at, action, after in entries:
        found[dispute_id].append((at, action, after))
    return found


def _offer_steps(
    steps: dict[int, list[tuple[datetime, str, Any]]],
) -> list[tuple[datetime, str, int]]:
    return [
        (at, action.removeprefix("status."), after["offer"])
        for found in steps.values()
        for at, action, after in found
        if "offer" in after and action != "status.offer_sent"
    ]


def _replay(
    row: DisputeRow, steps: list[tuple[datetime, str, Any]], sla: SlaPolicy
) -> tuple[DisputeRow, list[SlaStageRunRow]]:
    """The dispute written step by step as the app's write hook (`sla_clock.watch`) keeps it:
    milestones stamped, the clock applied, the stage runs each write ended."""
    created = row.created_at
    copy = DisputeRow(
        id=row.id,
        number=row.number,
        status="new",
        state_times={"new": created.isoformat()},
        created_at=created,
        updated_at=created,
        reason=row.reason,
        currency=row.currency,
        order_total_minor=row.order_total_minor,
        disputed_amount_minor=row.disputed_amount_minor,
        prior_disputes=row.prior_disputes,
        order_snapshot=row.order_snapshot,
    )
    sla_clock.apply(copy, clock_of(copy, sla, created))
    ended = []
    for at, _, after in steps:
        before = milestones.StageBefore.of(copy)
        copy.status = after["status"]
        copy.state_times = {**copy.state_times, copy.status: at.isoformat()}
        copy.updated_at = at
        milestones.stamp(copy, sla)
        sla_clock.apply(copy, clock_of(copy, sla, at))
        if run := milestones.ended_run(copy, before, at):
            ended.append(run)
    return copy, ended


def _run(run: SlaStageRunRow) -> tuple[Any, ...]:
    return (run.stage, run.priority, run.entered_at, run.due_at, run.left_at, run.breached)


def _check_tags(row: DisputeRow, tags: list[DisputeTagRow], rules: set[str]) -> None:
    assert row.order_snapshot is not None
    found = {(t.dimension, t.value) for t in tags}
    expected = {(d.value, v) for d, v in order_tags(Order.from_wire(row.order_snapshot))}
    assert {t for t in found if t[0] != "rule"} == expected, f"D-{row.number}"
    cited = {v for d, v in found if d == "rule"}
    assert 1 <= len(cited) <= 3 and cited <= rules, f"D-{row.number}: {cited}"
    assert all(t.opened_at == row.created_at for t in tags)
