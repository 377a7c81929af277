"""Lint: each kind of mistake is reported as `file:line rule-id field: message`, all at once."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent, indent

import pytest

from policies.facts import FACTS
from policies.lint import lint_pack
from policies.loader import PackError, load_pack
from policies.schema import Op
from policies.yaml_source import Problem

HEAD = 'pack: test\nversion: "1"\nrules:\n'
RULE = """\
  - id: {id}
    title: A rule
    citation: "§1"
    text: Some text
"""


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    path = tmp_path / "pack.yml"
    path.write_text(head + dedent(body))
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle` (the line a problem should point at)."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def only(path: Path) -> Problem:
    problems = lint_pack(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def rule(rule_id: str, extra: str = "") -> str:
    return RULE.format(id=rule_id) + indent(dedent(extra), "    ")


def test_a_clean_pack_has_no_problems(tmp_path: Path) -> None:
    path = write(tmp_path, rule("ok", "when: {fact: reason, eq: DAMAGED}\n"))
    assert lint_pack(path) == []
    assert load_pack(path).pack.rules[0].id == "ok"


def test_problem_prints_as_file_line_rule_field_message() -> None:
    problem = Problem("p.yml", 7, "window", "when.gt", "boom")
    assert str(problem) == "p.yml:7 window when.gt: boom"


def test_yaml_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, rule("ok", "when: {fact: reason, eq: [DAMAGED}\n"))
    problem = only(path)
    assert (problem.file, problem.line, problem.rule_id, problem.field) == (
        str(path),
        line_of(path, "when:"),
        "-",
        "-",
    )
    assert problem.message.startswith("YAML syntax error")


@pytest.mark.parametrize(
    ("extra", "needle", "field", "message"),
    [
        ("colour: red\n", "colour", "colour", "unknown field 'colour'"),
        (
            "outcome: {recomend: {resolution: deny}}\n",
            "outcome",
            "outcome.recomend",
            "unknown field 'recomend' (did you mean recommend?)",
        ),
        ("priority: high\n", "priority", "priority", "expected a whole number, got 'high'"),
        (
            "outcome: {approval: {supervisor: yes please}}\n",
            "outcome",
            "outcome.approval.supervisor",
            "expected true or false, got 'yes please'",
        ),
        (
            "when:\n  fact: days_since_delivery\n  greater: 30\n",
            "greater",
            "when.greater",
            "unknown operator 'greater' (use one of: eq, ne, in, not_in, lt, lte, gt, gte, "
            "between, exists, contains, within_days, older_than_days)",
        ),
        (
            "when: {fact: days_since_delivery, gt: 3, lt: 9}\n",
            "when",
            "when",
            "a condition takes one operator, got lt, gt",
        ),
        (
            "when:\n  all:\n    - {fact: reason, eq: DAMAGED}\n    - {fact: reasn, eq: OTHER}\n",
            "reasn",
            "when.all[1].fact",
            "unknown fact 'reasn' (did you mean reason?)",
        ),
        (
            "when: {fact: item_opened, gt: 3}\n",
            "item_opened",
            "when.gt",
            "gt does not apply to bool fact item_opened (use eq, ne, exists)",
        ),
        (
            "when: {fact: delivered_at, eq: '2026-01-01'}\n",
            "delivered_at",
            "when.eq",
            "eq does not apply to date fact delivered_at "
            "(use within_days, older_than_days, exists)",
        ),
        (
            "when: {fact: reason, in: [DAMAGED, BROKEN]}\n",
            "BROKEN",
            "when.in",
            "'BROKEN' is not one of DEFECTIVE, NOT_AS_DESCRIBED, WRONG_ITEM, SIZE_TOO_SMALL, "
            "SIZE_TOO_LARGE, UNWANTED, DAMAGED, REFUND_NOT_RECEIVED, OTHER",
        ),
        (
            "when: {fact: days_since_delivery, gt: '30'}\n",
            "days_since_delivery",
            "when.gt",
            "expected a whole number, got '30'",
        ),
        (
            "when: {fact: order_total, gt: 200.5}\n",
            "order_total",
            "when.gt",
            'write money as a quoted decimal string, like "200.50"',
        ),
        (
            "when: {fact: order_total, gt: '12,50'}\n",
            "order_total",
            "when.gt",
            "not a money amount: '12,50' (write a decimal string like \"50.00\")",
        ),
        (
            "outcome:\n  approval: {supervisor_above: '1.2345'}\n",
            "supervisor_above",
            "outcome.approval.supervisor_above",
            "not a money amount: '1.2345' (too many decimal places)",
        ),
        (
            "requires_evidence: [ORDER_DETAILS, PHOTOS]\n",
            "PHOTOS",
            "requires_evidence[1]",
            "unknown evidence kind 'PHOTOS' (use one of: ORDER_DETAILS, PAYMENT_RECORD, "
            "PROOF_OF_FULFILLMENT, RETURN_REQUEST, RETURN_TRACKING_INFORMATION, "
            "CONDITION_REPORT, PROOF_OF_DAMAGE, CUSTOMER_COMMUNICATION, ATTACHMENT)",
        ),
        (
            "outcome:\n  allowed: [deny, refund]\n",
            "refund",
            "outcome.allowed[1]",
            "unknown resolution 'refund' (use one of: full_refund, partial_refund, replacement, "
            "store_credit, waive_fee, overturn, uphold, deny, carrier_claim)",
        ),
        (
            "outcome:\n  recommend: {resolution: full_refund}\n  allowed: [deny, uphold]\n",
            "recommend",
            "outcome.recommend.resolution",
            "full_refund is recommended but not in allowed",
        ),
        (
            "outcome:\n  recommend: {resolution: partial_refund}\n",
            "recommend",
            "outcome.recommend",
            "partial_refund needs a percent, a cap or both",
        ),
        (
            "outcome:\n  approval: {role: boss}\n",
            "boss",
            "outcome.approval.role",
            "unknown role 'boss' (use one of: agent, manager, supervisor)",
        ),
        (
            "outcome:\n  restocking_fee_percent: 150\n",
            "restocking",
            "outcome.restocking_fee_percent",
            "must be at most 100",
        ),
        ("notice: notices/nope.j2\n", "notice:", "notice", None),
    ],
)
def test_each_mistake_is_reported_at_its_line(
    tmp_path: Path, extra: str, needle: str, field: str, message: str | None
) -> None:
    path = write(tmp_path, rule("the-rule", extra))
    problem = only(path)
    assert (problem.file, problem.line, problem.rule_id, problem.field) == (
        str(path),
        line_of(path, needle),
        "the-rule",
        field,
    )
    if message is not None:
        assert problem.message == message


def test_a_missing_field_points_at_the_rule(tmp_path: Path) -> None:
    path = write(tmp_path, "  - id: bare\n    title: t\n    text: x\n")
    assert str(only(path)) == f"{path}:4 bare citation: is required"


def test_a_bad_rule_id(tmp_path: Path) -> None:
    path = write(tmp_path, rule("Window_30"))
    problem = only(path)
    assert (problem.line, problem.rule_id, problem.field) == (4, "Window_30", "id")
    assert problem.message == "'Window_30': use only lowercase letters, digits and '-'"


def test_an_unquoted_version_is_a_number_not_text(tmp_path: Path) -> None:
    path = write(tmp_path, rule("ok"), head="pack: test\nversion: 2026.11\nrules:\n")
    assert str(only(path)) == f"{path}:2 - version: expected text, got 2026.11 (put it in quotes)"


def test_duplicate_rule_ids(tmp_path: Path) -> None:
    path = write(tmp_path, rule("same") + rule("other") + rule("same"))
    problem = only(path)
    assert (problem.line, problem.rule_id, problem.field, problem.message) == (
        line_of(path, "id: same", 2),
        "same",
        "id",
        f"duplicate rule id (first on line {line_of(path, 'id: same')})",
    )


def test_duplicate_keys_in_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, rule("twice", "priority: 1\npriority: 2\n"))
    problem = only(path)
    assert (problem.line, problem.field, problem.message) == (
        line_of(path, "priority", 2),
        "rules[0].priority",
        "duplicate key 'priority'",
    )


def test_a_template_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "bad.j2").write_text("Hello\n{{ name }\n")
    path = write(tmp_path, rule("noticed", "notice: notices/bad.j2\n"))
    problem = only(path)
    assert (problem.line, problem.rule_id, problem.field) == (
        line_of(path, "notice:"),
        "noticed",
        "notice",
    )
    assert problem.message == "template notices/bad.j2 line 2: unexpected '}'"


def test_a_missing_template(tmp_path: Path) -> None:
    path = write(tmp_path, rule("noticed", "notice: notices/nope.j2\n"))
    assert only(path).message == (
        "template notices/nope.j2 not found (paths are relative to the pack file)"
    )


@pytest.mark.parametrize(
    ("when", "needle", "field", "message"),
    [
        (
            "all:\n  - {fact: reason, eq: DAMAGED}\n  - {fact: reason, eq: OTHER}\n",
            "OTHER",
            "when.all[1]",
            "can never be true: reason eq 'OTHER' contradicts when.all[0] (reason eq 'DAMAGED')",
        ),
        (
            "all:\n  - {fact: reason, in: [DAMAGED, DEFECTIVE]}\n  - {fact: reason, eq: OTHER}\n",
            "OTHER",
            "when.all[1]",
            "can never be true: reason eq 'OTHER' contradicts when.all[0] "
            "(reason in ['DAMAGED', 'DEFECTIVE'])",
        ),
        (
            "all:\n  - {fact: days_since_delivery, gt: 60}\n"
            "  - {fact: days_since_delivery, lte: 30}\n",
            "lte",
            "when.all[1]",
            "can never be true: days_since_delivery lte 30 contradicts when.all[0] "
            "(days_since_delivery gt 60)",
        ),
        (
            "all:\n  - {fact: days_since_delivery, gt: 30}\n"
            "  - {fact: days_since_delivery, lt: 31}\n",
            "lt: 31",
            "when.all[1]",
            "can never be true: days_since_delivery lt 31 contradicts when.all[0] "
            "(days_since_delivery gt 30)",
        ),
        (
            "all:\n  - {fact: order_total, gte: '100.00'}\n"
            "  - {fact: order_total, between: ['10', '99.99']}\n",
            "between",
            "when.all[1]",
            "can never be true: order_total between ['10', '99.99'] contradicts when.all[0] "
            "(order_total gte '100.00')",
        ),
        (
            "{fact: days_since_delivery, between: [30, 10]}\n",
            "when:",
            "when",
            "can never be true: days_since_delivery between [30, 10]: "
            "the low end is above the high end",
        ),
        (
            "any:\n  - {fact: reason, eq: OTHER}\n  - {fact: condition_grade, in: []}\n",
            "in: []",
            "when.any[1]",
            "can never be true: condition_grade in [] matches nothing",
        ),
        (
            "all:\n  - {fact: condition_grade, exists: false}\n"
            "  - {fact: condition_grade, ne: A}\n",
            "ne: A",
            "when.all[1]",
            "can never be true: condition_grade ne 'A' contradicts when.all[0] "
            "(condition_grade exists False)",
        ),
        (
            "all:\n  - {fact: delivered_at, within_days: 10}\n"
            "  - {fact: delivered_at, older_than_days: 10}\n",
            "older",
            "when.all[1]",
            "can never be true: delivered_at older_than_days 10 contradicts when.all[0] "
            "(delivered_at within_days 10)",
        ),
        (
            "all:\n  - {fact: item_categories, contains: toys}\n"
            "  - all: [{fact: item_categories, not_in: [toys, food]}]\n",
            "not_in",
            "when.all[1].all[0]",
            "can never be true: item_categories not_in ['toys', 'food'] contradicts when.all[0] "
            "(item_categories contains 'toys')",
        ),
    ],
)
def test_conditions_that_can_never_be_true(
    tmp_path: Path, when: str, needle: str, field: str, message: str
) -> None:
    path = write(
        tmp_path, rule("dead", "when:\n" + "".join(f"  {ln}\n" for ln in when.splitlines()))
    )
    problem = only(path)
    assert (problem.line, problem.rule_id, problem.field, problem.message) == (
        line_of(path, needle),
        "dead",
        field,
        message,
    )


@pytest.mark.parametrize(
    "when",
    [
        "all: [{fact: days_since_delivery, gt: 30}, {fact: days_since_delivery, lt: 32}]",
        "all: [{fact: order_total, gt: '30.00'}, {fact: order_total, lt: '30.01'}]",
        "all: [{fact: reason, ne: OTHER}, {fact: reason, in: [OTHER, DAMAGED]}]",
        "all: [{fact: item_categories, in: [toys]}, {fact: item_categories, in: [food]}]",
        "any: [{fact: reason, eq: OTHER}, {fact: reason, eq: DAMAGED}]",
        "not: {fact: condition_grade, in: []}",
    ],
)
def test_satisfiable_conditions_are_not_flagged(tmp_path: Path, when: str) -> None:
    assert lint_pack(write(tmp_path, rule("alive", f"when: {{{when}}}\n"))) == []


def test_a_recommendation_shadowed_by_the_same_condition(tmp_path: Path) -> None:
    same = "when: {fact: reason, eq: DAMAGED}\n"
    path = write(
        tmp_path,
        rule("first", same + "priority: 5\noutcome: {recommend: {resolution: replacement}}\n")
        + rule("second", same + "priority: 1\noutcome: {recommend: {resolution: full_refund}}\n"),
    )
    problem = only(path)
    assert (problem.line, problem.rule_id, problem.field, problem.message) == (
        line_of(path, "outcome", 2),
        "second",
        "outcome.recommend",
        "never used: rule 'first' has the same condition and always outranks this one",
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        rule("a", "when: {fact: reasn, eq: DAMAGED}\noutcome: {allowed: [refund]}\n")
        + rule("a", "when: {fact: item_opened, gt: 1}\nnotice: missing.j2\n")
        + rule("b", "when: {fact: days_since_delivery, between: [9, 1]}\ncolour: red\n"),
        head="pack: test\nversion: 1\nrules:\n",
    )
    problems = lint_pack(path)
    assert [(p.line, p.rule_id, p.field) for p in problems] == [
        (2, "-", "version"),
        (line_of(path, "reasn"), "a", "when.fact"),
        (line_of(path, "refund"), "a", "outcome.allowed[0]"),
        (line_of(path, "id: a", 2), "a", "id"),
        (line_of(path, "item_opened"), "a", "when.gt"),
        (line_of(path, "missing.j2"), "a", "notice"),
        (line_of(path, "between"), "b", "when"),
        (line_of(path, "colour"), "b", "colour"),
    ]
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert raised.value.problems == problems
    assert str(raised.value).splitlines()[0] == str(problems[0])


def test_an_unreadable_or_shapeless_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    assert only(missing).field == "-"
    assert only(missing).message.startswith("cannot read the file")
    shapeless = tmp_path / "list.yml"
    shapeless.write_text("- just\n- a list\n")
    assert str(only(shapeless)) == (
        f"{shapeless}:1 - -: a pack is a mapping with pack, version and rules"
    )


def test_the_authors_reference_lists_every_fact_and_operator() -> None:
    readme = (Path(__file__).resolve().parents[2] / "policies" / "README.md").read_text()
    missing = [name for name in FACTS if f"| `{name}` |" not in readme]
    missing += [
        op.value for op in Op if f"| `{op.value}`" not in readme and op.value not in ("lte", "gte")
    ]
    assert missing == []
