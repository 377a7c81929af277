"""A reply, an edit or a file in a thread finds its dispute through an index, not by reading
every dispute: the plan of the lookup, on both engines."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database, on_postgresql
from storage.tables import DisputeRow


async def test_the_thread_lookup_uses_its_index(db: Database) -> None:
    query = select(DisputeRow.number).where(
        DisputeRow.channel_id == "C0DISPUTES", DisputeRow.thread_ts == "1700000000.000100"
    )
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
    assert any("ix_disputes_thread" in line for line in plan), plan
