"""Exports: the disputes and the audit trail read in batches from one snapshot, and the insights
report as rows; each as stable, typed columns that the file formats write."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from disputes.audit import canonical_json
from disputes.insight_report import Insights, Period
from storage.db import Database
from storage.tables import AuditRow, DisputeRow

BATCH_SIZE = 5000

Row = tuple[Any, ...]


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"  # integers; money in minor units beside a currency column
    TIME = "time"  # timezone-aware UTC


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind


def _columns(*specs: tuple[str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in specs)


TEXT, INT, TIME = Kind.TEXT, Kind.INT, Kind.TIME

# The dispute's own columns, in export order; the first is written `D-<n>`.
_DISPUTE_FIELDS: tuple[tuple[InstrumentedAttribute[Any], Kind], ...] = (
    (DisputeRow.number, TEXT),
    (DisputeRow.order_id, TEXT),
    (DisputeRow.reason, TEXT),
    (DisputeRow.status, TEXT),
    (DisputeRow.priority, TEXT),
    (DisputeRow.owner_id, TEXT),
    (DisputeRow.opened_by, TEXT),
    (DisputeRow.currency, TEXT),
    (DisputeRow.order_total_minor, INT),
    (DisputeRow.disputed_amount_minor, INT),
    (DisputeRow.created_at, TIME),
    (DisputeRow.updated_at, TIME),
    (DisputeRow.resolved_at, TIME),
    (DisputeRow.resolve_business_seconds, INT),
    (DisputeRow.reopened_at, TIME),
    (DisputeRow.closed_at, TIME),
    (DisputeRow.sla_stage, TEXT),
    (DisputeRow.sla_level, TEXT),
    (DisputeRow.sla_entered_at, TIME),
    (DisputeRow.sla_due_at, TIME),
)
# Personal data: only with `with_customer` (the customer's words are theirs too).
_CUSTOMER_FIELDS: tuple[tuple[InstrumentedAttribute[Any], Kind], ...] = (
    (DisputeRow.customer_id, TEXT),
    (DisputeRow.customer_name, TEXT),
    (DisputeRow.customer_email, TEXT),
    (DisputeRow.claim, TEXT),
)
_AUDIT_FIELDS: tuple[tuple[InstrumentedAttribute[Any], Kind], ...] = (
    (DisputeRow.number, TEXT),
    (AuditRow.seq, INT),
    (AuditRow.at, TIME),
    (AuditRow.actor_type, TEXT),
    (AuditRow.actor_id, TEXT),
    (AuditRow.action, TEXT),
    (AuditRow.before, TEXT),
    (AuditRow.after, TEXT),
    (AuditRow.prev_hash, TEXT),
    (AuditRow.hash, TEXT),
)

DISPUTE_COLUMNS = _columns(*((f.key, k) for f, k in _DISPUTE_FIELDS))
CUSTOMER_COLUMNS = _columns(*((f.key, k) for f, k in _CUSTOMER_FIELDS))
AUDIT_COLUMNS = _columns(("dispute", TEXT), *((f.key, k) for f, k in _AUDIT_FIELDS[1:]))
INSIGHT_COLUMNS = _columns(("section", TEXT), ("item", TEXT), ("metric", TEXT), ("value", TEXT))


@dataclass(frozen=True, slots=True)
class Stream:
    """An export being read: its columns, how many rows it holds, and the rows in batches."""

    columns: tuple[Column, ...]
    total: int
    batches: AsyncGenerator[list[Row], None]


class Exporter:
    """Reads one export in one snapshot, `batch_size` rows at a time (never all at once)."""

    def __init__(self, db: Database, *, batch_size: int = BATCH_SIZE) -> None:
        self.db = db
        self.batch_size = batch_size

    @asynccontextmanager
    async def disputes(
        self, *, with_customer: bool = False, period: Period | None = None
    ) -> AsyncIterator[Stream]:
        """The disputes opened in `period` (all by default), by number."""
        fields = _DISPUTE_FIELDS + (_CUSTOMER_FIELDS if with_customer else ())
        columns = DISPUTE_COLUMNS + (CUSTOMER_COLUMNS if with_customer else ())
        query = select(*(f for f, _ in fields))
        if period is not None:
            query = query.where(
                DisputeRow.created_at >= period.start, DisputeRow.created_at < period.end
            )
        async with self._snapshot() as session:
            total = await _count(session, query)
            rows = self._batches(session, query.order_by(DisputeRow.number), _dispute_row)
            yield Stream(columns, total, rows)

    @asynccontextmanager
    async def audit(self, *, period: Period | None = None) -> AsyncIterator[Stream]:
        """Every audit entry (written in `period`, when given), each dispute's chain in order."""
        query = select(*(f for f, _ in _AUDIT_FIELDS)).join(
            DisputeRow, DisputeRow.id == AuditRow.dispute_id
        )
        if period is not None:
            query = query.where(AuditRow.at >= period.start, AuditRow.at < period.end)
        async with self._snapshot() as session:
            total = await _count(session, query)
            ordered = query.order_by(AuditRow.dispute_id, AuditRow.seq)
            yield Stream(AUDIT_COLUMNS, total, self._batches(session, ordered, _audit_row))

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction whose statements all see the same data: SQLite's reading
        transaction already does; PostgreSQL's default (read committed) would not."""
        async with self.db.reading() as session:
            if not self.db.is_sqlite:
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            yield session

    async def _batches(
        self, session: AsyncSession, query: Select[Any], shape: Any
    ) -> AsyncGenerator[list[Row], None]:
        # A server-side cursor on PostgreSQL, SQLite's own stepping cursor: rows arrive as read.
        result = await session.stream(query.execution_options(yield_per=self.batch_size))
        async for partition in result.partitions():
            yield [shape(row) for row in partition]


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _dispute_row(row: Row) -> Row:
    return (f"D-{row[0]}", *row[1:])


def _audit_row(row: Row) -> Row:
    number, seq, at, actor_type, actor_id, action, before, after, prev_hash, hash_ = row
    # The text the entry's hash is computed over, so a reader can check the chain from the file.
    return (
        f"D-{number}",
        seq,
        at,
        actor_type,
        actor_id,
        action,
        canonical_json(before),
        canonical_json(after),
        prev_hash,
        hash_,
    )


# Insights as rows ---------------------------------------------------------------------------

# The field that names an element of a list of objects in the report (a reason, a stage, ...).
_NAMES = ("reason", "key", "stage", "currency", "value", "name", "owner")


def insight_rows(report: Insights) -> list[Row]:
    """The report as (section, item, metric, value) rows: `section` is where in the report
    (`csat`, `recurring.sku`), `item` names the element of a list (a reason, a stage, an owner;
    None outside lists), `metric` the number's path within it, `value` the number as text (as
    `--json` writes it; None for none)."""
    data = report.to_json()
    workload = data.pop("workload")
    assert isinstance(workload, dict)
    rows = [
        (section, item, metric, _text(value))
        for section, item, metric, value in _walk(data, [], None, [])
    ]
    points = [str(point) for point in workload["points"]]
    for person in workload["people"]:
        for measure in ("open", "high"):
            for point, count in zip(points, person[measure], strict=True):
                rows.append(("workload", person["owner"], f"{measure}.{point}", _text(count)))
    return rows


def _walk(
    value: object, section: list[str], item: str | None, metric: list[str]
) -> Iterator[tuple[str, str | None, str, object]]:
    """Objects extend the section until a list element names an item; below that (or at a
    number) the path is the metric's."""
    if isinstance(value, dict):
        inside = item is not None or bool(metric)
        for key, inner in value.items():
            if key.endswith("_ci95"):  # an interval: always its two ends, None when there is none
                low, high = inner if inner is not None else (None, None)
                yield ".".join(section), item, ".".join([*metric, key, "low"]), low
                yield ".".join(section), item, ".".join([*metric, key, "high"]), high
            elif inside:
                yield from _walk(inner, section, item, [*metric, key])
            else:
                yield from _walk(inner, [*section, key], item, metric)
    elif isinstance(value, list) and item is None and _named(value):
        for element in value:
            name = next(field for field in _NAMES if field in element)
            rest = {k: v for k, v in element.items() if k != name}
            yield from _walk(rest, section, str(element[name]), metric)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk(inner, section, item, [*metric, str(index)])
    elif metric:
        yield ".".join(section), item, ".".join(metric), value
    else:  # a number directly in an object of the report: named by its key
        *outer, last = section
        yield ".".join(outer) or "report", item, last, value


def _named(values: list[Any]) -> bool:
    return bool(values) and all(
        isinstance(v, dict) and any(field in v for field in _NAMES) for v in values
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)
