"""The hot reads of `bench.lookups` (the thread lookup, the queues, audit verify of a dispute,
`/dispute show`, intake's count of a customer's disputes), run through the app's services on a
small `bench.dataset`: every table of more than a handful of rows that any of their statements
reads is read through an index, on both engines. On PostgreSQL the plans are taken with
`enable_seqscan = off`: a few hundred rows make a sequential scan the cheaper plan, and a
statement that has no index to use still gets one."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.dataset import DatasetSpec, fill
from bench.lookups import hot_reads, measure, pick
from bench.plans import count_rows, explain, one_line, read_kinds
from storage.db import Database

NOW = datetime(2026, 11, 18, 15, 7, 30, tzinfo=UTC)
SPEC = DatasetSpec(300, open_share=0.2, seed=3, now=NOW)
HANDFUL = 10  # rows of a table a whole read of is fine (the dispute counter, empty tables)
NO_SEQSCAN = ("SET LOCAL enable_seqscan = off",)


async def test_every_hot_read_reads_its_tables_through_an_index(db: Database) -> None:
    await fill(db, SPEC, workers=0)
    picks = await pick(db)
    reads = hot_reads(db, picks)
    measured = await measure(db, reads, repeat=1)

    assert [m.label for m in measured] == [r.label for r in reads]
    assert all(m.statements for m in measured), "each read ran statements"
    read_tables: set[str] = set()
    whole: list[str] = []
    sizes: dict[str, int] = {}
    for item in measured:
        for statement in item.statements:
            plan = await explain(db, statement, settings=NO_SEQSCAN)
            tables = read_kinds(db, plan)
            assert tables, f"{item.label}: no plan for {one_line(statement.sql, 120)}: {plan}"
            for table, how in tables.items():
                read_tables.add(table)
                if table not in sizes:
                    sizes[table] = await count_rows(db, table)
                if sizes[table] > HANDFUL and not how.startswith("index"):
                    whole.append(f"{item.label}: {table} {how} in {one_line(statement.sql, 160)}")
    assert {"disputes", "audit_entries"} <= read_tables
    assert sizes["disputes"] == 300 and sizes["audit_entries"] > 300
    assert whole == []
