"""What the database benchmarks share: capturing the statements a piece of work runs, and
explaining each one afterwards (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` or `EXPLAIN (ANALYZE,
BUFFERS)` on PostgreSQL) with the parameters of its first run, and whether each table was read
through an index or scanned whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, select, text

from storage.db import Database

SKIPPED = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|EXPLAIN|SET)", re.I)
SQLITE_TABLE = re.compile(r"^(SCAN|SEARCH) ([A-Za-z_]\w*)")  # not "SCAN 15 CONSTANT ROWS"
ALIAS = re.compile(
    r"_\d+$"
)  # SQLAlchemy's anonymous aliases: disputes_1, as SQLite's plan names them
PG_NODE = re.compile(
    r"(Seq Scan|Bitmap Heap Scan) on (\w+)"
    r"|(?<!Bitmap )(Index Only Scan|Index Scan) using \w+ on (\w+)"
)


@dataclass
class Statement:
    sql: str
    parameters: Any
    runs: int = 0


@dataclass
class Capture:
    """The distinct statements run while `on` is set, in the order first seen."""

    on: bool = False
    seen: dict[str, Statement] = field(default_factory=dict)

    def hook(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not self.on or SKIPPED.match(statement):
            return
        if executemany and parameters:
            parameters = parameters[0]
        found = self.seen.setdefault(statement, Statement(statement, parameters))
        found.runs += 1

    def listen(self, db: Database) -> None:
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self.hook)

    def take(self) -> list[Statement]:
        """The statements seen so far, forgotten here."""
        found, self.seen = list(self.seen.values()), {}
        return found


async def explain(
    db: Database, statement: Statement, *, analyze: bool = False, settings: Sequence[str] = ()
) -> list[str]:
    """The plan of `statement` with the parameters of its first run; on PostgreSQL with
    `analyze`, as it ran (`EXPLAIN (ANALYZE, BUFFERS)`: the statement is executed), after the
    `SET LOCAL` statements it ran with (`settings`)."""
    if db.is_sqlite:
        prefix = "EXPLAIN QUERY PLAN "
    else:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    try:
        async with db.engine.connect() as connection:
            for setting in () if db.is_sqlite else settings:
                await connection.exec_driver_sql(setting)
            result = await connection.exec_driver_sql(
                prefix + statement.sql, statement.parameters or ()
            )
            rows = result.all()
            await connection.rollback()
    except Exception as exc:  # a statement EXPLAIN cannot take: say so, go on
        return [f"(no plan: {type(exc).__name__}: {str(exc).splitlines()[0][:120]})"]
    if db.is_sqlite:
        return [str(row[-1]) for row in rows]
    return [str(row[0]) for row in rows]


def read_kinds(db: Database, plan: list[str]) -> dict[str, str]:
    """How each table in the plan is read: through an index, or scanned whole."""
    found: dict[str, str] = {}
    for line in plan:
        if db.is_sqlite:
            match = SQLITE_TABLE.match(line.strip())
            if match is None:
                continue
            verb, table = match.groups()
            table = ALIAS.sub("", table)
            if verb == "SEARCH":
                how = "index"
            elif "COVERING INDEX" in line:
                how = "WHOLE index scanned"
            else:
                how = "WHOLE TABLE scanned"
        else:
            node = PG_NODE.search(line)
            if node is None:
                continue
            kind, table = node.group(1) or node.group(3), node.group(2) or node.group(4)
            how = "WHOLE TABLE scanned" if kind == "Seq Scan" else f"index ({kind})"
        found.setdefault(table, how)
    return found


async def count_rows(db: Database, table: str) -> int:
    async with db.engine.connect() as connection:
        value = await connection.scalar(select(func.count()).select_from(text(table)))
        await connection.rollback()
    return int(value or 0)


def one_line(sql: str, limit: int = 400) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


async def print_plans(
    db: Database,
    statements: list[Statement],
    *,
    analyze: bool = False,
    indent: str = "",
    settings: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Each statement with how often it ran, its plan, and how it read each table; returns how
    each statement read each table (`read_kinds`), in order."""
    counts: dict[str, int] = {}
    kinds: list[dict[str, str]] = []
    for number, statement in enumerate(statements, start=1):
        plan = await explain(db, statement, analyze=analyze, settings=settings)
        tables = read_kinds(db, plan)
        kinds.append(tables)
        for table in tables:
            if table not in counts:
                counts[table] = await count_rows(db, table)
        print(f"\n{indent}[{number}] executed {statement.runs:,}x: {one_line(statement.sql)}")
        for line in plan:
            print(f"{indent}      {line}")
        for table, how in tables.items():
            print(f"{indent}    -> {table} ({counts[table]:,} rows): {how}")
        if not tables:
            print(f"{indent}    -> no table read")
    return kinds
