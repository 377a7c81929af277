"""`dispute-desk export` as an operator runs it, on SQLite and PostgreSQL: what each format holds
is what the database holds, value for value and type for type."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from bot.settings import default_sla_file
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path, order_source_from_spec
from disputes import sla_clock
from disputes.audit import Actor
from disputes.exports import Exporter
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Event
from disputes.transitions import transition
from policies.sla import SlaPolicy
from storage.db import Database
from storage.migrate import migrate
from storage.tables import AuditRow, DisputeRow
from tests.conftest import _copy_sqlite
from tests.integration.test_cli import run

ORDERS = ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005")
CLAIM = 'it came "broken",\nsaid Zoë'  # a quote, a comma, a newline and a letter beyond ASCII
MANAGER = Actor.slack_user("U0MANAGER")
# The columns, written out here so a change to them is a change to this test too.
DISPUTE_COLUMNS = [
    "number",
    "order_id",
    "reason",
    "status",
    "priority",
    "owner_id",
    "opened_by",
    "currency",
    "order_total_minor",
    "disputed_amount_minor",
    "created_at",
    "updated_at",
    "resolved_at",
    "resolve_business_seconds",
    "reopened_at",
    "closed_at",
    "sla_stage",
    "sla_level",
    "sla_entered_at",
    "sla_due_at",
]
CUSTOMER_COLUMNS = ["customer_id", "customer_name", "customer_email", "claim"]
AUDIT_COLUMNS = [
    "dispute",
    "seq",
    "at",
    "actor_type",
    "actor_id",
    "action",
    "before",
    "after",
    "prev_hash",
    "hash",
]
INTS = {"order_total_minor", "disputed_amount_minor", "resolve_business_seconds", "seq"}
TIMES = {
    "created_at",
    "updated_at",
    "resolved_at",
    "reopened_at",
    "closed_at",
    "sla_entered_at",
    "sla_due_at",
    "at",
}


async def seed(url: str) -> None:
    """Five disputes opened through intake: one resolved, one resolved then reopened, one
    withdrawn, two open; their audit trails written by the app itself."""
    db = Database(url)
    await migrate(db)
    sla_clock.watch(db, SlaPolicy.load(default_sla_file()))
    orders = order_source_from_spec(f"fixtures:{default_fixtures_path()}")
    intake = IntakeService(db, orders, default_evidence_sources())
    for order_id in ORDERS:
        await intake.open(OpenRequest(order_id, None, CLAIM, MANAGER))
    resolve = [Event.EVIDENCE_OVERRIDDEN, Event.PROPOSED, Event.APPROVED]
    resolve.append(Event.RESOLVED_WITHOUT_PAYMENT)
    paths = {1: resolve, 2: [*resolve, Event.REOPENED], 3: [Event.WITHDRAWN]}
    for number, events in paths.items():
        for event in events:
            async with db.transaction() as session:
                row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
                assert row is not None
                await transition(session, row, event, MANAGER)
    await db.dispose()


async def stored(url: str) -> tuple[list[DisputeRow], list[tuple[int, AuditRow]]]:
    """The disputes by number, and the audit entries with their dispute's number."""
    db = Database(url)
    async with db.reading() as session:
        disputes = list(await session.scalars(select(DisputeRow).order_by(DisputeRow.number)))
        entries = [
            (number, entry)
            for number, entry in await session.execute(
                select(DisputeRow.number, AuditRow)
                .join(DisputeRow, DisputeRow.id == AuditRow.dispute_id)
                .order_by(DisputeRow.number, AuditRow.seq)
            )
        ]
    await db.dispose()
    return disputes, entries


def dispute_values(row: DisputeRow, with_customer: bool = False) -> dict[str, Any]:
    names = DISPUTE_COLUMNS + (CUSTOMER_COLUMNS if with_customer else [])
    values = {name: getattr(row, name) for name in names}
    values["number"] = f"D-{row.number}"
    return values


def audit_values(number: int, entry: AuditRow) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in AUDIT_COLUMNS[1:]}
    for side in ("before", "after"):  # as the hash reads them: sorted keys, no spaces
        values[side] = json.dumps(
            values[side], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    return {"dispute": f"D-{number}", **values}


def as_text(values: dict[str, Any]) -> dict[str, str]:
    """What a CSV cell or a JSON string holds: times in UTC to the microsecond, with Z."""

    def text(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value

    return {name: text(value) for name, value in values.items()}


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, line, strict=True)) for line in reader]


def csv_cells(values: dict[str, Any]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in as_text(values).items()}


@pytest.fixture
async def seeded(database_url: str) -> str:
    await seed(database_url)
    return database_url


async def test_disputes_round_trip_in_every_format(seeded: str, tmp_path: Path) -> None:
    disputes, _ = await stored(seeded)
    assert [row.status for row in disputes] == ["resolved", "reopened", "withdrawn", "new", "new"]
    assert disputes[1].reopened_at is not None and disputes[2].closed_at is not None
    expected = [dispute_values(row) for row in disputes]
    env = {"DATABASE_URL": seeded}

    plain = run(tmp_path, "export", "disputes", "--format", "csv", DATABASE_URL=seeded)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""  # no progress bar: stderr is not a terminal
    header, lines = read_csv(plain.stdout)
    assert header == DISPUTE_COLUMNS
    assert lines == [csv_cells(values) for values in expected]

    lines_out = run(tmp_path, "export", "disputes", "--format", "jsonl", DATABASE_URL=seeded)
    assert lines_out.returncode == 0, lines_out.stderr
    records = [json.loads(line) for line in lines_out.stdout.splitlines()]
    assert [list(record) for record in records] == [DISPUTE_COLUMNS] * len(disputes)
    assert records == [as_text(values) for values in expected]
    assert all(type(r["order_total_minor"]) is int for r in records)

    target = tmp_path / "disputes.parquet"
    written = run(tmp_path, "export", "disputes", "--format", "parquet", "-o", str(target), **env)
    assert (written.returncode, written.stdout) == (0, ""), written.stderr
    table = pq.read_table(target)
    for field in table.schema:
        kind = (
            pa.int64()
            if field.name in INTS
            else pa.timestamp("us", tz="UTC")
            if field.name in TIMES
            else pa.string()
        )
        assert field.type == kind, field.name
    assert table.column_names == DISPUTE_COLUMNS
    assert table.to_pylist() == expected


async def test_customer_details_only_when_asked_for(seeded: str, tmp_path: Path) -> None:
    disputes, _ = await stored(seeded)
    emails = {row.customer_email for row in disputes}
    assert all(emails)
    plain = run(tmp_path, "export", "disputes", "--format", "jsonl", DATABASE_URL=seeded)
    assert plain.returncode == 0, plain.stderr
    assert not any(email in plain.stdout for email in emails)
    assert "Zoë" not in plain.stdout

    full = run(
        tmp_path, "export", "disputes", "--format", "csv", "--with-customer", DATABASE_URL=seeded
    )
    assert full.returncode == 0, full.stderr
    header, lines = read_csv(full.stdout)
    assert header == DISPUTE_COLUMNS + CUSTOMER_COLUMNS
    assert lines == [csv_cells(dispute_values(row, with_customer=True)) for row in disputes]
    assert lines[0]["claim"] == CLAIM


async def test_audit_round_trips_in_every_format(seeded: str, tmp_path: Path) -> None:
    _, entries = await stored(seeded)
    expected = [audit_values(number, entry) for number, entry in entries]
    assert {e["action"] for e in expected} >= {"dispute.opened", "status.reopened"}
    env = {"DATABASE_URL": seeded}

    plain = run(tmp_path, "export", "audit", "--format", "csv", DATABASE_URL=seeded)
    assert plain.returncode == 0, plain.stderr
    header, lines = read_csv(plain.stdout)
    assert header == AUDIT_COLUMNS
    assert lines == [csv_cells(values) for values in expected]

    target = tmp_path / "audit.jsonl"
    written = run(tmp_path, "export", "audit", "--format", "jsonl", "--output", str(target), **env)
    assert (written.returncode, written.stdout) == (0, ""), written.stderr
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert records == [as_text(values) for values in expected]

    target = tmp_path / "audit.parquet"
    written = run(tmp_path, "export", "audit", "--format", "parquet", "-o", str(target), **env)
    assert written.returncode == 0, written.stderr
    table = pq.read_table(target)
    assert table.schema.field("seq").type == pa.int64()
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.to_pylist() == expected
    assert [f.name for f in table.schema] == AUDIT_COLUMNS


async def test_a_period_keeps_what_happened_in_it(seeded: str, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    for period, count in ((f"{today}..{today}", 5), ("2020-01-01..2020-12-31", 0)):
        result = run(
            tmp_path, "export", "disputes", "--format", "jsonl", "--period", period,
            DATABASE_URL=seeded,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == count
    empty = tmp_path / "empty.parquet"
    result = run(
        tmp_path, "export", "audit", "--format", "parquet", "-o", str(empty),
        "--period", "2020-01-01..2020-12-31", DATABASE_URL=seeded,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pq.read_table(empty)
    assert (table.num_rows, table.column_names) == (0, AUDIT_COLUMNS)


async def test_rows_are_read_a_batch_at_a_time(seeded: str) -> None:
    db = Database(seeded)
    try:
        async with Exporter(db, batch_size=2).disputes() as stream:
            sizes = [len(batch) async for batch in stream.batches]
    finally:
        await db.dispose()
    assert (stream.total, sizes) == (5, [2, 2, 1])


async def test_parquet_is_written_in_a_row_group_per_batch(tmp_path: Path) -> None:
    from bot.exports import Format, write_export

    url = f"sqlite+aiosqlite:///{tmp_path / 'groups.db'}"
    await seed(url)
    db = Database(url)
    target = tmp_path / "groups.parquet"
    try:
        async with Exporter(db, batch_size=2).disputes() as stream:
            assert await write_export(stream, Format.PARQUET, target, "disputes") == 5
    finally:
        await db.dispose()
    assert pq.ParquetFile(target).num_row_groups == 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("export", "disputes", "--format", "parquet"), "Parquet is written to a file"),
        (("export", "audit", "--format", "csv", "--period", "1y"), "'1y' is not a period"),
        (("export", "audit", "--format", "csv", "--with-customer"), "applies to `export disputes`"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, sqlite_template: Path, args: tuple[str, ...], says: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    _copy_sqlite(sqlite_template, url)
    result = run(tmp_path, *args, DATABASE_URL=url)
    assert (result.returncode, result.stdout) == (2, "")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dispute-desk: ") and says in lines[0]


def test_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    result = run(tmp_path, "export", "disputes", "--format", "csv", DATABASE_URL=url)
    assert result.returncode == 2
    assert "run `dispute-desk migrate`" in result.stderr


def test_a_terminal_sees_the_progress_bar_and_the_file_stays_clean(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bar.db'}"
    asyncio.run(seed(url))
    target = tmp_path / "out.csv"
    reader, terminal = pty.openpty()
    termios.tcsetwinsize(terminal, (24, 100))  # a new pseudo-terminal is 0 columns wide
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "export", "disputes", "--format=csv", f"-o{target}"],
            cwd=tmp_path,
            env={**env, "DATABASE_URL": url},
            stderr=terminal,
            stdout=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(reader, 4096)
        except OSError:  # Linux: the terminal's other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(reader)
    assert result.returncode == 0, shown
    text = shown.decode()
    assert "export disputes" in text and "100%" in text and "5/5" in text
    assert target.read_text(encoding="utf-8").count("\n") == 6  # the header and five rows
