"""`dispute-desk` as an operator runs it: exit codes and one-line errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path, order_source_from_spec
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from storage.db import Database
from storage.migrate import head_revision, migrate
from tests.conftest import _copy_sqlite


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_", "DISPUTES_", "ORDER_", "PORT"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def migrated(tmp_path: Path, sqlite_template: Path) -> None:
    """`cli.db` in the test's folder, migrated (a copy of the session's migrated file; the
    `migrate` command itself is tested above)."""
    _copy_sqlite(sqlite_template, db_url(tmp_path))


def test_migrate_reports_the_revision_and_is_repeatable(tmp_path: Path) -> None:
    first = run(tmp_path, "migrate", DATABASE_URL=db_url(tmp_path))
    again = run(tmp_path, "migrate", DATABASE_URL=db_url(tmp_path))
    assert first.returncode == again.returncode == 0, first.stderr
    assert first.stdout.strip() == f"database at revision {head_revision()}"
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert {"disputes", "evidence_items", "audit_entries", "processed_slack_requests"} <= tables


async def test_audit_verify_finds_a_tampered_row(tmp_path: Path) -> None:
    db = Database(db_url(tmp_path))
    await migrate(db)
    orders = order_source_from_spec(f"fixtures:{default_fixtures_path()}")
    intake = IntakeService(db, orders, default_evidence_sources())
    for order_id in ("ORD-1001", "ORD-1002"):
        await intake.open(OpenRequest(order_id, None, "", Actor.slack_user("U1")))
    await db.dispose()

    intact = run(tmp_path, "audit", "verify", DATABASE_URL=db_url(tmp_path))
    assert (intact.returncode, intact.stdout.strip()) == (0, "audit chain intact for all disputes")

    with sqlite3.connect(tmp_path / "cli.db") as connection:
        connection.execute("UPDATE audit_entries SET actor_id = 'U_EVIL' WHERE id = 3")
    broken = run(tmp_path, "audit", "verify", DATABASE_URL=db_url(tmp_path))
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and "D-1 entry 3: content changed" in broken.stdout
    one = run(tmp_path, "audit", "verify", "D-2", DATABASE_URL=db_url(tmp_path))
    assert (one.returncode, one.stdout.strip()) == (0, "audit chain intact for D-2")


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("audit", "verify", "D-9"), {}, "There is no dispute D-9"),
        (("audit", "verify", "seven"), {}, "'seven' is not a dispute number"),
        (("serve",), {}, "SLACK_BOT_TOKEN is not set"),
        (("serve",), {"PORT": "eighty"}, "PORT='eighty' is not valid"),
        (("serve",), {"SLACK_BOT_TOKEN": "xoxb-1"}, "DISPUTES_CHANNEL is not set"),
        (
            ("serve",),
            {"SLACK_BOT_TOKEN": "xoxb-1", "DISPUTES_CHANNEL": "#d"},
            "SLACK_SIGNING_SECRET is not set",
        ),
        (
            ("serve",),
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "DISPUTES_CHANNEL": "#d",
                "SLACK_SIGNING_SECRET": "s",
                "ORDER_SOURCE": "fixtures:/no/such/place",
            },
            "ORDER_SOURCE fixtures path does not exist",
        ),
    ],
)
@pytest.mark.usefixtures("migrated")
def test_startup_problems_are_one_line_naming_what_to_fix(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    result = run(tmp_path, *args, DATABASE_URL=db_url(tmp_path), **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dispute-desk: ") and says in lines[0]


def test_audit_verify_on_an_empty_database_says_to_migrate(tmp_path: Path) -> None:
    result = run(tmp_path, "audit", "verify", DATABASE_URL=db_url(tmp_path))
    assert result.returncode == 2
    assert "run `dispute-desk migrate`" in result.stderr


MARKER = "MARKER9f3ac1d7"
NEEDED = {"SLACK_BOT_TOKEN": "xoxb-1", "DISPUTES_CHANNEL": "#d", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_BOT_TOKEN": f"xapp-{MARKER}"}, "SLACK_BOT_TOKEN is not valid"),
        ({"SLACK_APP_TOKEN": f"xoxb-{MARKER}"}, "SLACK_APP_TOKEN is not valid"),
        ({"SLACK_SIGNING_SECRET": f"{MARKER} {MARKER}"}, "SLACK_SIGNING_SECRET is not valid"),
        ({"STRIPE_API_KEY": f"pk_live_{MARKER}"}, "STRIPE_API_KEY is not valid"),
        ({"INBOUND_SECRET": f"{MARKER}\tx"}, "INBOUND_SECRET is not valid"),
        (
            {"DATABASE_URL": f"postgresql://admin:{MARKER}@db.example/disputes"},
            "DATABASE_URL='postgresql://admin:***@db.example/disputes' is not valid",
        ),
        (
            {**NEEDED, "ORDER_SOURCE": f"http:https://orders:{MARKER}@orders.example/api?x=1"},
            "ORDER_SOURCE http: base URL must not have a query",
        ),
    ],
)
@pytest.mark.usefixtures("migrated")
def test_serve_never_prints_a_secret(tmp_path: Path, env: dict[str, str], names: str) -> None:
    result = run(tmp_path, "serve", **{"DATABASE_URL": db_url(tmp_path), **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dispute-desk: ") and names in lines[0]
    assert MARKER not in result.stderr + result.stdout


def test_serve_reads_a_bad_secret_from_dot_env_without_printing_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SLACK_SIGNING_SECRET='{MARKER} pasted twice {MARKER}'\n")
    result = run(tmp_path, "serve", DATABASE_URL=db_url(tmp_path))
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is not valid" in result.stderr
    assert MARKER not in result.stderr + result.stdout


def test_the_installed_command_works_from_any_folder(tmp_path: Path) -> None:
    """From outside the repository nothing is found by accident (pytest's root is not on the
    path there): every package of the project must be installed, the command included."""
    command = Path(sys.executable).with_name("dispute-desk")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    shown = subprocess.run(
        [str(command), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "serve" in shown.stdout and "migrate" in shown.stdout
    root = Path(__file__).resolve().parents[2]
    modules = sorted(
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for package in root.iterdir()
        if (package / "__init__.py").exists() and package.name not in ("tests", "bench")
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
    )
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)",
            *modules,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
