"""The pack's `options:` section: whether the customer must accept each resolution."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

import policies
from domain.resolutions import Resolution
from policies.lint import lint_pack
from policies.loader import load_pack
from policies.schema import DEFAULT_CUSTOMER_AGREEMENT, CustomerAgreement

DEFAULT_PACK = Path(policies.__file__).parent / "packs" / "default.yml"
HEAD = """\
pack: test
version: "1"
rules:
  - id: a-rule
    title: A rule
    citation: "§1"
    text: Some text
"""
OFFERED = {
    Resolution.PARTIAL_REFUND,
    Resolution.STORE_CREDIT,
    Resolution.REPLACEMENT,
    Resolution.WAIVE_FEE,
}


def write(tmp_path: Path, options: str = "") -> Path:
    path = tmp_path / "pack.yml"
    path.write_text(HEAD + dedent(options))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_defaults_name_every_resolution() -> None:
    assert set(DEFAULT_CUSTOMER_AGREEMENT) == set(Resolution)


@pytest.mark.parametrize("resolution", list(Resolution))
def test_default_pack_says_which_options_the_customer_accepts(resolution: Resolution) -> None:
    pack = load_pack(DEFAULT_PACK)
    assert pack.needs_agreement(resolution) is (resolution in OFFERED)
    written = pack.pack.options[resolution].customer_agreement
    assert written is DEFAULT_CUSTOMER_AGREEMENT[resolution]  # it spells the defaults out


def test_a_pack_without_options_gets_the_defaults(tmp_path: Path) -> None:
    pack = load_pack(write(tmp_path))
    assert pack.pack.options == {}
    for resolution in Resolution:
        assert pack.needs_agreement(resolution) is (resolution in OFFERED)


def test_an_option_left_out_keeps_its_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        options:
          store_credit: {customer_agreement: notify}
          full_refund: {customer_agreement: required}
        """,
    )
    assert lint_pack(path) == []
    pack = load_pack(path)
    assert not pack.needs_agreement(Resolution.STORE_CREDIT)
    assert pack.needs_agreement(Resolution.FULL_REFUND)
    assert pack.needs_agreement(Resolution.PARTIAL_REFUND)
    assert not pack.needs_agreement(Resolution.DENY)
    assert pack.pack.customer_agreement(Resolution.DENY) is CustomerAgreement.NOTIFY


def test_an_unknown_option_is_a_problem_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        options:
          store_credit: {customer_agreement: required}
          refund: {customer_agreement: required}
        """,
    )
    [problem] = lint_pack(path)
    assert (problem.line, problem.rule_id, problem.field) == (
        line_of(path, "refund:"),
        "-",
        "options.refund",
    )
    assert problem.message.startswith("unknown option 'refund' (use one of: full_refund,")


def test_an_unknown_agreement_is_a_problem_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        options:
          deny:
            customer_agreement: maybe
        """,
    )
    [problem] = lint_pack(path)
    assert (problem.line, problem.field) == (
        line_of(path, "maybe"),
        "options.deny.customer_agreement",
    )
    assert problem.message == ("unknown customer_agreement 'maybe' (use one of: required, notify)")


@pytest.mark.parametrize(
    ("options", "needle", "field", "message"),
    [
        (
            "options:\n  deny: {customer_agrement: notify}\n",
            "deny:",
            "options.deny.customer_agrement",
            "unknown field 'customer_agrement' (did you mean customer_agreement?)",
        ),
        ("options:\n  deny: {}\n", "deny:", "options.deny.customer_agreement", "is required"),
        ("options:\n  deny:\n", "deny:", "options.deny", "expected a mapping of fields, got None"),
        ("options: [deny]\n", "options:", "options", "expected a mapping of fields, got ['deny']"),
        (
            "option:\n  deny: {customer_agreement: notify}\n",
            "option:",
            "option",
            "unknown field 'option' (did you mean options?)",
        ),
    ],
)
def test_a_malformed_options_section_is_reported(
    tmp_path: Path, options: str, needle: str, field: str, message: str
) -> None:
    path = write(tmp_path, options)
    problems = [(p.line, p.field, p.message) for p in lint_pack(path)]
    # A misspelt field is also a required one missing: both are said, on the same line.
    assert (line_of(path, needle), field, message) in problems
    assert {line for line, _, _ in problems} == {line_of(path, needle)}


def test_every_option_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        options:
          refund: {customer_agreement: required}
          deny: {customer_agreement: maybe}
        """,
    )
    fields = [p.field for p in lint_pack(path)]
    assert fields == ["options.refund", "options.deny.customer_agreement"]
