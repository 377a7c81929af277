"""The benchmark dataset (`bench.dataset`) on SQLite and PostgreSQL: rows the app itself would
have written, consistent with each other and with the SLA clock, the same for the same seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.dataset import DEFAULT_SLA, DatasetSpec, fill
from connectors.orders.evidence_sources import default_evidence_sources
from disputes import audit
from disputes.evidence_gathering import content_hash
from disputes.lifecycle import Status
from disputes.sla_clock import clock_of, facts_of
from domain.orders import Order
from policies.sla import SlaPolicy, stage_for
from storage.db import Database
from storage.migrate import migrate
from storage.tables import (
    AuditRow,
    Counter,
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    EvidenceRow,
    ProposalRow,
)

NOW = datetime(2026, 11, 18, 15, 7, 30, tzinfo=UTC)  # a Wednesday afternoon in New York
SPEC = DatasetSpec(300, open_share=0.2, due_share=0.25, seed=7, now=NOW)


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
