"""`dispute-desk insights` and `export insights` as a script runs them, on SQLite and PostgreSQL,
over the hand-made month of the insights tests (its numbers worked out there by hand)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from disputes.exports import insight_rows
from disputes.insights import InsightsService
from storage.db import Database
from tests.conftest import _copy_sqlite
from tests.integration.test_cli import run
from tests.integration.test_insights import NOVEMBER, november, sla

PERIOD = "2026-11-01..2026-11-30"
# The keys the issue promises scripts, as paths into the JSON.
PROMISED = [
    ("period",),
    ("disputes", "opened"),
    ("disputes", "resolved"),
    ("time_to_resolve_hours", "mean"),
    ("time_to_resolve_hours", "median"),
    ("time_to_resolve_hours", "p90"),
    ("time_to_resolve_business_hours", "mean"),
    ("time_to_resolve_business_hours", "median"),
    ("time_to_resolve_business_hours", "p90"),
    ("first_contact_resolution_rate",),
    ("csat", "score"),
    ("csat", "responses"),
    ("csat", "response_rate"),
    ("recurring_reasons",),
    ("evidence_effect",),
    ("citation_effect",),
    ("workload",),
]


def dig(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        assert key in payload, f"{'.'.join(path)} is missing"
        payload = payload[key]
    return payload


@pytest.fixture
async def month(db: Database, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The hand-made month in the database; the environment the command runs with."""
    await november().write(db)
    sla(tmp_path)  # writes sla.yml
    return {"DATABASE_URL": database_url, "SLA_FILE": str(tmp_path / "sla.yml")}


async def test_json_holds_the_promised_keys_and_the_months_numbers(
    month: dict[str, str], db: Database, tmp_path: Path
) -> None:
    result = run(tmp_path, "insights", "--period", PERIOD, "--json", **month)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    for path in PROMISED:
        dig(payload, path)
    assert payload["period"]["label"] == PERIOD
    assert payload["disputes"] == {"opened": 6, "resolved": 5}
    hours = payload["time_to_resolve_hours"]
    assert (hours["mean"], hours["median"]) == (118.0, 24.0)
    assert hours["p90"] == pytest.approx(321.6)
    assert payload["first_contact_resolution_rate"] == pytest.approx(0.4)
    assert payload["csat"]["score"] == pytest.approx(2 / 3)
    assert payload["csat"]["response_rate"] == 0.75
    damaged = payload["recurring_reasons"][0]
    assert {k: damaged[k] for k in ("reason", "count", "previous", "flagged")} == {
        "reason": "damaged",
        "count": 3,
        "previous": 1,
        "flagged": False,
    }
    # Exactly the service's report under the SLA file the command was given.
    expected = await InsightsService(db, sla(tmp_path)).report(NOVEMBER)
    assert payload == expected.to_json()


async def test_text_is_a_few_aligned_lines(month: dict[str, str], tmp_path: Path) -> None:
    result = run(tmp_path, "insights", "--period", PERIOD, **month)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Insights {PERIOD}: 2026-11-01 00:00 to 2026-12-01 00:00 UTC"
    shown = {line[:22].strip(): line[22:] for line in lines[1:] if line[:22].strip()}
    assert shown["Disputes"] == "6 opened, 5 resolved"
    assert shown["Time to resolve"] == "mean 118.0 h, median 24.0 h, p90 321.6 h (5 resolved)"
    assert shown["business hours"] == "mean 31.6 h, median 10.0 h, p90 78.4 h"
    assert shown["First contact"] == "40.0% (2 of 5 resolved)"
    assert shown["CSAT"] == "66.7% rated 4–5; 3 responses to 4 surveys (75.0%)"
    assert shown["Refunds paid"] == "7.00 EUR (1 refunds)"
    assert "35.00 USD (2 refunds)" in result.stdout
    assert shown["Recurring reasons"].split() == ["damaged", "3", "(1", "before)"]
    assert shown["Workload (at end)"].split()[:3] == ["U1", "1", "open,"]
    breaches = [line.split() for line in lines if "executing" in line or "in_review" in line]
    assert ["in_review", "100.0%", "(2", "of", "2)"] in breaches
    assert ["executing", "—", "(0", "of", "0)"] in breaches


async def test_an_empty_database_gives_null_rates(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url}
    result = run(tmp_path, "insights", "--period", "7d", "--json", **env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    for path in PROMISED:
        dig(payload, path)
    assert payload["disputes"] == {"opened": 0, "resolved": 0}
    assert payload["time_to_resolve_hours"]["mean"] is None
    assert payload["time_to_resolve_business_hours"]["p90"] is None
    assert payload["first_contact_resolution_rate"] is None
    assert payload["csat"]["score"] is None and payload["csat"]["response_rate"] is None
    assert all(stage["rate"] is None for stage in payload["sla_breach_rate"])

    text = run(tmp_path, "insights", **env)  # 30d by default
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Insights 30d: ")
    assert "First contact       — (0 of 0 resolved)" in text.stdout
    assert "— rated 4–5; 0 responses to 0 surveys (—)" in text.stdout
    assert "0.0%" not in text.stdout


@pytest.mark.parametrize(
    ("period", "says"),
    [
        ("1y", "'1y' is not a period: use 7d, 30d, 90d or YYYY-MM-DD..YYYY-MM-DD"),
        ("2026-02-30..2026-03-01", "is not a date range"),
        ("2026-03-01..2026-02-01", "ends before it starts"),
    ],
)
def test_a_bad_period_is_one_line_and_exit_2(tmp_path: Path, period: str, says: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    result = run(tmp_path, "insights", "--period", period, "--json", DATABASE_URL=url)
    assert (result.returncode, result.stdout) == (2, "")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dispute-desk: --period: ") and says in lines[0]


def test_a_broken_sla_file_is_named(tmp_path: Path, sqlite_template: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    _copy_sqlite(sqlite_template, url)
    (tmp_path / "sla.yml").write_text("timezone: Mars/Olympus\n")
    result = run(
        tmp_path, "insights", "--period", "7d", DATABASE_URL=url, SLA_FILE=str(tmp_path / "sla.yml")
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"dispute-desk: SLA_FILE {tmp_path / 'sla.yml'} has problems")


async def test_insights_export_round_trips(
    month: dict[str, str], db: Database, tmp_path: Path
) -> None:
    report = await InsightsService(db, sla(tmp_path)).report(NOVEMBER)
    expected = [
        dict(zip(("section", "item", "metric", "value"), row, strict=True))
        for row in insight_rows(report)
    ]
    assert {"section": "disputes", "item": None, "metric": "opened", "value": "6"} in expected

    plain = run(tmp_path, "export", "insights", "--format", "csv", "--period", PERIOD, **month)
    assert plain.returncode == 0, plain.stderr
    assert list(csv.DictReader(io.StringIO(plain.stdout, newline=""))) == [
        {k: "" if v is None else v for k, v in row.items()} for row in expected
    ]

    lines = run(tmp_path, "export", "insights", "--format", "jsonl", "--period", PERIOD, **month)
    assert lines.returncode == 0, lines.stderr
    assert [json.loads(line) for line in lines.stdout.splitlines()] == expected

    target = tmp_path / "insights.parquet"
    args = ("--format", "parquet", "--period", PERIOD, "-o", str(target))
    written = run(tmp_path, "export", "insights", *args, **month)
    assert written.returncode == 0, written.stderr
    table = pq.read_table(target)
    assert all(field.type == pa.string() for field in table.schema)
    assert table.to_pylist() == expected
