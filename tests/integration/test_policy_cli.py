"""`dispute-desk policy lint|explain|test`, and a broken pack stopping `serve` at start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import default_policy_pack
from tests.integration.test_cli import run
from tests.unit.test_yaml_safety import BOMB

PACKS = default_policy_pack().parent


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(PACKS, folder)
    pack = folder / "default.yml"
    text = pack.read_text().replace("priority: ", "priority: high  # ", 1)
    pack.write_text(
        text + "\n  - id: bad-op\n    title: t\n    citation: c\n    text: t\n"
        "    priority: 1\n    when: {fact: reason, equals: DAMAGED}\n"
        "    outcome: {recommend: {resolution: deny}}\n"
    )
    return pack


def test_lint_clean_pack(tmp_path: Path) -> None:
    result = run(tmp_path, "policy", "lint", str(PACKS / "default.yml"))
    assert (result.returncode, result.stdout.strip().endswith("no problems")) == (0, True)


def test_lint_reports_every_problem_with_file_line_rule_and_field(
    tmp_path: Path, broken: Path
) -> None:
    result = run(tmp_path, "policy", "lint", str(broken))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(broken))]
    assert len(lines) >= 2
    assert any(" bad-op when" in line and "equals" in line for line in lines)
    assert any("priority" in line for line in lines)
    for line in lines:
        location = line.split(" ", 1)[0]
        assert location.rsplit(":", 1)[1].isdigit()


def test_explain_needs_only_order_source_and_pack(tmp_path: Path) -> None:
    result = run(tmp_path, "policy", "explain", "ORD-1001", "--trace")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("ORD-1001 · Damaged · default ")
    assert "Returns Policy §5.1" in out and "Recommended:" in out and "Approval needed:" in out
    assert "Trace (every rule, every condition):" in out and "MATCHED" in out


def test_explain_with_reason_and_bad_input(tmp_path: Path) -> None:
    as_unwanted = run(tmp_path, "policy", "explain", "ORD-1001", "--reason", "unwanted")
    assert as_unwanted.returncode == 0 and "· Unwanted ·" in as_unwanted.stdout
    assert "Trace" not in as_unwanted.stdout
    unknown = run(tmp_path, "policy", "explain", "ORD-0000")
    assert unknown.returncode == 2 and "no order ORD-0000" in unknown.stderr
    bad_reason = run(tmp_path, "policy", "explain", "ORD-1001", "--reason", "meh")
    assert bad_reason.returncode == 2 and "names no reason" in bad_reason.stderr


def test_policy_test_runs_the_shipped_cases(tmp_path: Path) -> None:
    result = run(
        tmp_path, "policy", "test", str(PACKS / "default.yml"), str(PACKS / "default.cases.yml")
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_policy_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yml"
    cases.write_text(
        "cases:\n  - name: damaged is denied\n    facts: {reason: DAMAGED, "
        "hours_delivery_to_report: 5}\n    expect: {rules: [], recommended: deny}\n"
    )
    result = run(tmp_path, "policy", "test", str(PACKS / "default.yml"), str(cases))
    assert result.returncode == 1
    assert "FAIL damaged is denied" in result.stdout and "0 passed, 1 failed" in result.stdout


def test_policy_test_with_a_malformed_cases_file_says_where(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yml"
    cases.write_text("cases:\n  - name: x\n    facts: {reason: DAMAGED}\n")
    result = run(tmp_path, "policy", "test", str(PACKS / "default.yml"), str(cases))
    assert result.returncode == 2
    assert result.stderr.startswith(f"dispute-desk: the cases file {cases} has problems:")
    assert "Traceback" not in result.stderr


def test_serve_with_a_broken_pack_stops_with_the_lint_messages(
    tmp_path: Path, broken: Path
) -> None:
    result = run(
        tmp_path,
        "serve",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        DISPUTES_CHANNEL="#d",
        POLICY_PACK=str(broken),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"dispute-desk: POLICY_PACK {broken} has problems:")
    assert "bad-op" in result.stderr
    assert not (tmp_path / "x.db").exists()  # stopped before touching anything


def test_lint_refuses_an_alias_bomb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(BOMB)
    result = run(tmp_path, "policy", "lint", str(bomb))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{bomb}:1 - -: ")
    assert result.stdout.splitlines()[0].endswith(": too many aliases")
    assert "Traceback" not in result.stderr


def test_serve_with_an_alias_bomb_for_a_pack_stops_with_one_problem(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(BOMB)
    result = run(
        tmp_path,
        "serve",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        DISPUTES_CHANNEL="#d",
        POLICY_PACK=str(bomb),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"dispute-desk: POLICY_PACK {bomb} has problems:",
        f"{bomb}:1 - -: aliases would add more than 10000 nodes to the document: too many aliases",
    ]


def test_serve_with_a_broken_sla_file_stops_listing_every_problem(tmp_path: Path) -> None:
    sla = tmp_path / "sla.yml"
    sla.write_text(
        "timezone: Mars/Olympus\n"
        "business_hours: {days: [mon], start: '18:00', end: '09:00'}\n"
        "priorities: [{name: normal}]\n"
        "targets: {normal: {first_response: 4h}}\n"
    )
    result = run(
        tmp_path,
        "serve",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        DISPUTES_CHANNEL="#d",
        SLA_FILE=str(sla),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"dispute-desk: SLA_FILE {sla} has problems:")
    assert f"{sla}:1" in result.stderr and f"{sla}:2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()  # stopped before touching anything
