"""Lookups made on every request or intake use an index, not a read of every dispute: a
reply, an edit or a file in a thread finding its dispute, an intake counting the customer's
earlier disputes (while it holds the dispute counter), and a case file summing what a
dispute's refunds returned. Their plans, on both engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from disputes import repository
from storage.db import Database, on_postgresql
from storage.tables import DisputeRow
from tests.conftest import _fresh_postgres_database


async def test_the_thread_lookup_uses_its_index(db: Database) -> None:
    query = select(DisputeRow.number).where(
        DisputeRow.channel_id == "C0DISPUTES", DisputeRow.thread_ts == "1700000000.000100"
    )
    assert any("ix_disputes_thread" in line for line in await _plan(db, query))


async def test_counting_a_customers_disputes_uses_its_index(db: Database) -> None:
    query = select(func.count()).select_from(DisputeRow).where(DisputeRow.customer_id == "cus_1")
    assert any("ix_disputes_customer" in line for line in await _plan(db, query))


async def test_a_case_file_sums_a_disputes_refunds_through_its_index(db: Database) -> None:
    for query in (
        repository._OUTCOME.params(dispute_id=1),
        repository._EARLIER.params(order_id="ORD-1", dispute_id=1),
    ):
        assert any("ix_refund_requests_dispute" in line for line in await _plan(db, query))


async def test_postgresql_connections_do_not_jit_compile_statements(postgres_server: str) -> None:
    db = Database(await _fresh_postgres_database(postgres_server))
    try:
        for reading in (db.reading(), db.transaction()):
            async with reading as session:
                assert await session.scalar(text("SHOW jit")) == "off"
    finally:
        await db.dispose()


async def _plan(db: Database, query: Any) -> list[str]:
    async with db.reading() as session:
        if on_postgresql(session):
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            compiled = query.compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
            )
            plan = (await session.execute(text(f"EXPLAIN {compiled}"))).scalars().all()
        else:
            compiled = query.compile(
                dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
            )
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = [str(row[-1]) for row in rows]
    return list(plan)
