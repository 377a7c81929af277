"""Intake, evidence and the audit chain on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select, update

from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.protocol import OrderSourceUnavailable
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.errors import DisputeNotFound, OrderNotFound, OrderSystemUnavailable
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Status
from domain.evidence import EvidenceKind
from domain.reasons import Reason
from policies.current import CurrentPack
from storage.db import Database
from storage.migrate import current_revision, head_revision, migrate
from storage.tables import AuditRow, DisputeRow, EvidenceRow
from tests.support.orders import SlowSource, StaticOrders, order

MANAGER = Actor.slack_user("U0MANAGER1")


def request(order_id: str = "ORD-T1", reason: Reason | None = None) -> OpenRequest:
    return OpenRequest(order_id=order_id, reason=reason, claim="the box was crushed", actor=MANAGER)


def intake(db: Database, *orders, sources=None) -> IntakeService:  # type: ignore[no-untyped-def]
    source = StaticOrders(*(orders or (order(),)))
    return IntakeService(
        db, source, default_evidence_sources() if sources is None else sources, source_timeout=0.5
    )


async def count(db: Database, table: type) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_migrations_reach_head_and_are_idempotent(db: Database) -> None:
    assert await current_revision(db) == head_revision()
    assert await migrate(db) == head_revision()


async def test_open_writes_dispute_evidence_and_audit_together(db: Database) -> None:
    result = await intake(db).open(request())
    case = result.case
    assert result.created
    assert case.dispute.ref == "D-1"
    assert case.dispute.status == Status.NEW
    assert case.dispute.reason == Reason.DAMAGED  # from the order's return request
    assert case.dispute.disputed_amount_minor == 100_00  # 129.00 paid, 29.00 refunded
    assert case.dispute.created_at.tzinfo is not None
    kinds = {item.kind for item in case.evidence}
    assert {EvidenceKind.ORDER_DETAILS, EvidenceKind.PROOF_OF_DAMAGE} <= kinds
    assert EvidenceKind.CUSTOMER_COMMUNICATION not in kinds  # the order has no correspondence
    assert case.missing_required == []
    async with db.transaction() as session:
        actions = (await session.scalars(select(AuditRow.action).order_by(AuditRow.seq))).all()
    assert actions[0] == "dispute.opened"
    assert actions.count("evidence.added") == len(case.evidence)
    assert await DisputeService(db).verify_audit() == []


async def test_numbers_are_sequential_and_one_open_dispute_per_order(db: Database) -> None:
    service = intake(db, order(), order(order_id="ORD-T2"))
    first = await service.open(request("ORD-T1"))
    second = await service.open(request("ORD-T2"))
    again = await service.open(request("ORD-T1", Reason.DEFECTIVE))
    assert (first.case.dispute.number, second.case.dispute.number) == (1, 2)
    assert not again.created and again.case.dispute.number == 1
    assert await count(db, DisputeRow) == 2


async def test_concurrent_opens_for_one_order_create_one_dispute(db: Database) -> None:
    service = intake(db)
    results = await asyncio.gather(*(service.open(request()) for _ in range(5)))
    assert sum(result.created for result in results) == 1
    assert {result.case.dispute.number for result in results} == {1}
    assert await count(db, DisputeRow) == 1
    assert await DisputeService(db).verify_audit() == []


async def test_concurrent_opens_for_different_orders_get_distinct_gapless_numbers(
    db: Database,
) -> None:
    orders = [order(order_id=f"ORD-C{n}") for n in range(8)]
    service = intake(db, *orders)
    results = await asyncio.gather(*(service.open(request(o.order_id)) for o in orders))
    assert sorted(result.case.dispute.number for result in results) == list(range(1, 9))


async def test_unknown_order_creates_nothing(db: Database) -> None:
    with pytest.raises(OrderNotFound, match="no order ORD-NOPE"):
        await intake(db).open(request("ORD-NOPE"))
    assert await count(db, DisputeRow) == 0
    assert await count(db, AuditRow) == 0


async def test_an_id_typed_in_lower_case_finds_the_order_in_capitals(db: Database) -> None:
    service = intake(db)
    opened = await service.open(request("ord-t1"))
    assert opened.created and opened.case.dispute.order_id == "ORD-T1"
    again = await service.open(request("Ord-T1"))  # the open dispute, whatever the spelling
    assert not again.created and again.case.dispute.number == opened.case.dispute.number
    with pytest.raises(OrderNotFound, match="no order ord-nope"):
        await service.open(request("ord-nope"))
    assert await count(db, DisputeRow) == 1


async def test_order_system_down_creates_nothing(db: Database) -> None:
    class Down(StaticOrders):
        async def get_order(self, order_id: str):  # type: ignore[no-untyped-def]
            raise OrderSourceUnavailable("order system unavailable after 3 attempts: HTTP 503")

    service = IntakeService(db, Down(), default_evidence_sources())
    with pytest.raises(OrderSystemUnavailable, match="try again"):
        await service.open(request())
    assert await count(db, DisputeRow) == 0


async def test_failure_while_writing_rolls_everything_back(db: Database) -> None:
    class Exploding:
        name, kinds = "exploding", (EvidenceKind.CUSTOMER_COMMUNICATION,)

        async def collect(self, _order):  # type: ignore[no-untyped-def]
            from domain.evidence import EvidenceDraft

            # A payload the database cannot store: the whole intake must roll back.
            return [EvidenceDraft(self.kinds[0], self.name, "bad", {"x": object()})]

    with pytest.raises(TypeError):
        await intake(db, sources=[*default_evidence_sources(), Exploding()]).open(request())
    assert (
        await count(db, DisputeRow),
        await count(db, EvidenceRow),
        await count(db, AuditRow),
    ) == (0, 0, 0)
    # The number was not burnt: the next dispute is still D-1.
    assert (await intake(db).open(request())).case.dispute.number == 1


async def test_failed_source_is_recorded_and_shown_as_unavailable(db: Database) -> None:
    sources = [
        *default_evidence_sources(),
        SlowSource("carrier-api", EvidenceKind.RETURN_TRACKING_INFORMATION, 5),
    ]
    service = intake(
        db,
        order(return_request={**order().to_wire()["return_request"], "received_at": None}),
        sources=sources,
    )
    case = (await service.open(request())).case
    assert [u.source for u in case.unavailable] == ["carrier-api"]
    reloaded = await DisputeService(db).case(1)
    assert [u.reason for u in reloaded.unavailable] == ["timed out"]


async def test_missing_required_evidence_keeps_the_dispute_new(db: Database) -> None:
    no_photos = order(condition_report={**order().to_wire()["condition_report"], "photos": []})
    await intake(db, no_photos).open(request())
    service = DisputeService(db)
    case = await service.mark_evidence_ready(1)
    assert case.missing_required == [EvidenceKind.PROOF_OF_DAMAGE]
    assert case.dispute.status == Status.NEW


async def test_complete_evidence_moves_to_evidence_ready_with_an_audit_entry(db: Database) -> None:
    await intake(db).open(request())
    service = DisputeService(db)
    case = await service.mark_evidence_ready(1)
    assert case.dispute.status == Status.EVIDENCE_READY
    assert "evidence_ready" in case.dispute.state_times
    again = await service.mark_evidence_ready(1)  # idempotent
    assert again.dispute.version == case.dispute.version
    async with db.transaction() as session:
        last = await session.scalar(select(AuditRow).order_by(AuditRow.id.desc()).limit(1))
    assert last is not None and last.action == "status.evidence_completed"
    assert last.before == {"status": "new"} and last.after["status"] == "evidence_ready"


async def test_link_thread_is_audited_and_unknown_dispute_is_refused(db: Database) -> None:
    await intake(db).open(request())
    service = DisputeService(db)
    dispute = await service.link_thread(1, "C0DISPUTES", "1700000000.000100")
    assert (dispute.channel_id, dispute.thread_ts) == ("C0DISPUTES", "1700000000.000100")
    assert dispute == (await service.case(1)).dispute
    with pytest.raises(DisputeNotFound, match="D-9"):
        await service.link_thread(9, "C", "1")
    assert await service.verify_audit(1) == []


async def test_tampering_with_one_audit_row_is_detected(db: Database) -> None:
    await intake(db).open(request())
    await intake(db, order(order_id="ORD-T2")).open(request("ORD-T2"))
    async with db.transaction() as session:
        await session.execute(
            update(AuditRow)
            .where(
                AuditRow.seq == 1,
                AuditRow.dispute_id
                == select(DisputeRow.id).where(DisputeRow.number == 2).scalar_subquery(),
            )
            .values(after={"order_id": "ORD-T2", "claim": "edited later"})
        )
    problems = await DisputeService(db).verify_audit()
    assert [(p.dispute_number, p.seq) for p in problems] == [(2, 1)]
    assert "content changed" in str(problems[0])
    assert await DisputeService(db).verify_audit(1) == []


async def test_rewriting_a_row_with_a_fresh_hash_breaks_the_next_link(db: Database) -> None:
    await intake(db).open(request())
    async with db.transaction() as session:
        await session.execute(update(AuditRow).where(AuditRow.seq == 1).values(hash="f" * 64))
    problems = await DisputeService(db).verify_audit(1)
    assert [(p.seq, p.problem) for p in problems][:2] == [
        (1, "content changed after it was written"),
        (2, "does not link to the entry before"),
    ]


async def test_deleting_an_audit_row_is_detected(db: Database) -> None:
    await intake(db).open(request())
    async with db.transaction() as session:
        await session.execute(AuditRow.__table__.delete().where(AuditRow.seq == 2))
    problems = await DisputeService(db).verify_audit(1)
    assert problems and problems[0].seq == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database) -> None:
    async with db.engine.connect() as connection:
        mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    assert (mode, keys) == ("wal", 1)


async def test_migrations_match_the_table_definitions(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.tables import Base

    async with db.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_opening_a_dispute_takes_a_bounded_number_of_statements(db: Database) -> None:
    """Every table is written once per intake, whatever the evidence: a statement per item, per
    audit entry or per tag would show here. Counted on both engines (SQLite reads on its own)."""
    failing = SlowSource("carrier-api", EvidenceKind.RETURN_TRACKING_INFORMATION, 0, fail=True)
    files = [SlowSource(f"files-{n}", EvidenceKind.ATTACHMENT, 0) for n in range(8)]
    item = order().to_wire()["items"][0]
    bigger = order(
        order_id="ORD-T2",
        payment={"provider": "stripe", "reference": "pi_3QtestOTHER"},
        items=[{**item, "sku": f"LAMP-{n}", "category": f"home-{n}"} for n in range(4)],
    )
    pack = CurrentPack(default_policy_pack())
    orders = StaticOrders(order(), bigger)
    sources = [*default_evidence_sources(), failing]
    few = IntakeService(db, orders, sources, policy=pack, source_timeout=0.5)
    many = IntakeService(db, orders, [*sources, *files], policy=pack, source_timeout=0.5)
    statements: list[str] = []

    def count_statement(*args: object) -> None:
        statements.append(str(args[2]))

    engines = [engine.sync_engine for engine in db.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count_statement)
    try:
        first = await few.open(request("ORD-T1"))
        at_first = len(statements)
        second = await many.open(request("ORD-T2"))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count_statement)
    assert first.created and second.created
    assert len(second.case.evidence) == len(first.case.evidence) + len(files)
    assert at_first <= STATEMENTS_PER_INTAKE, statements[:at_first]
    assert len(statements) - at_first <= STATEMENTS_PER_INTAKE, statements[at_first:]
    assert await DisputeService(db).verify_audit() == []


# SQLite's reader: BEGIN, the order's open dispute. The writer: BEGIN IMMEDIATE, the counter
# (with the customer's and the order's disputes), the ledger upsert, the payment's live refunds,
# the dispute (with the evidence its first decision requires), its evidence, decision, tags, the
# tags' day counts and audit entries (one insert each). Nothing is read back: the case file is
# what intake wrote, and an order's first dispute has no earlier ones to look for. PostgreSQL
# has no BEGIN statements and reads the ledger row it upserted: one fewer.
STATEMENTS_PER_INTAKE = 12
