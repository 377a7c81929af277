"""Regression cases: a pack and its cases pass; a wrong expectation explains itself."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from policies.cases import CasesError, run_cases
from policies.loader import LoadedPack, load_pack

PACK = """\
pack: small
version: "1"
rules:
  - id: window-30-days
    title: 30-day window
    citation: "§2.1"
    text: Returns within 30 days are refunded.
    priority: 20
    when: {fact: days_delivery_to_request, lte: 30}
    requires_evidence: [RETURN_REQUEST]
    outcome: {recommend: {resolution: full_refund}}
  - id: after-window
    title: After the window
    citation: "§2.2"
    text: Later returns earn store credit.
    priority: 20
    when: {fact: days_delivery_to_request, gt: 30}
    outcome:
      recommend: {resolution: store_credit}
      allowed: [deny, uphold, store_credit]
  - id: recent-delivery
    title: Recent delivery
    citation: "§2.3"
    text: Delivered within a week.
    priority: 5
    when: {fact: delivered_at, within_days: 7}
  - id: approval
    title: Approval
    citation: "§1"
    text: Big refunds need a supervisor.
    outcome: {approval: {role: manager, supervisor_above: "200.00"}}
"""

CASES = """\
as_of: 2026-11-15T12:00:00Z
cases:
  - name: inside the window
    facts: {days_delivery_to_request: 30, currency: USD, disputed_amount: "200.00",
            delivered_at: "2026-11-10T09:00:00+00:00", evidence_present: [RETURN_REQUEST]}
    expect:
      rules: [window-30-days, recent-delivery, approval]
      recommended: full_refund
      missing_evidence: []
      needs_supervisor: false
  - name: a day late, in yen
    as_of: 2026-12-31
    facts: {days_delivery_to_request: 31, currency: JPY, disputed_amount: "201",
            delivered_at: 2026-11-10}
    expect:
      rules: [after-window, approval]
      recommended: store_credit
      allowed: [store_credit, uphold, deny]
      supervisor_causes: []  # store credit refunds nothing, so no amount limit applies
  - name: nothing known
    facts: {reason: null}
    expect: {rules: [approval], recommended: null}
"""


@pytest.fixture
def pack(tmp_path: Path) -> LoadedPack:
    (tmp_path / "pack.yml").write_text(PACK)
    return load_pack(tmp_path / "pack.yml")


def cases_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.cases.yml"
    path.write_text(dedent(text))
    return path


def test_the_cases_pass(tmp_path: Path, pack: LoadedPack) -> None:
    results = run_cases(pack, cases_file(tmp_path, CASES))
    assert [(r.name, r.passed, r.diff) for r in results] == [
        ("inside the window", True, ""),
        ("a day late, in yen", True, ""),
        ("nothing known", True, ""),
    ]


def test_a_wrong_expectation_fails_with_a_readable_diff(tmp_path: Path, pack: LoadedPack) -> None:
    wrong = CASES.replace(
        "rules: [window-30-days, recent-delivery, approval]",
        "rules: [after-window, recent-delivery, approval]",
    ).replace("recommended: full_refund", "recommended: deny")
    wrong = wrong.replace("needs_supervisor: false", "needs_supervisor: true")
    wrong = wrong.replace("allowed: [store_credit, uphold, deny]", "allowed: [store_credit]")
    results = run_cases(pack, cases_file(tmp_path, wrong))
    assert [r.passed for r in results] == [False, False, True]
    assert results[0].diff == dedent(
        """\
        rules:       expected [after-window, recent-delivery, approval]
                     got      [window-30-days, recent-delivery, approval]
          after-window did not match:
            when: days_delivery_to_request gt 30 (was 30)
        recommended: expected deny, got full_refund
        needs_supervisor: expected true, got false"""
    )
    assert results[1].diff == "allowed: expected [store_credit], got [deny, store_credit, uphold]"
    assert results[0].decision.recommended is not None


def test_unknown_facts_and_bad_values_are_errors_with_lines(
    tmp_path: Path, pack: LoadedPack
) -> None:
    path = cases_file(
        tmp_path,
        """\
        cases:
          - name: typos
            facts:
              days_delivery_to_requst: 3
              order_total: "12.50"
              reason: BROKEN
            expect: {rules: []}
        """,
    )
    with pytest.raises(CasesError) as raised:
        run_cases(pack, path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:4 - cases[0].facts.days_delivery_to_requst: unknown fact "
        "'days_delivery_to_requst' (did you mean days_delivery_to_request?)",
        f"{path}:5 - cases[0].facts.order_total: "
        "money facts need the currency fact in the same case",
        f"{path}:6 - cases[0].facts.reason: 'BROKEN' is not one of DEFECTIVE, NOT_AS_DESCRIBED, "
        "WRONG_ITEM, SIZE_TOO_SMALL, SIZE_TOO_LARGE, UNWANTED, DAMAGED, REFUND_NOT_RECEIVED, OTHER",
    ]


def test_a_malformed_cases_file_is_an_error(tmp_path: Path, pack: LoadedPack) -> None:
    path = cases_file(tmp_path, "cases:\n  - name: x\n    facts: {}\n    expect: {rule: []}\n")
    with pytest.raises(CasesError) as raised:
        run_cases(pack, path)
    assert [(p.line, p.field) for p in raised.value.problems] == [
        (4, "cases[0].expect.rules"),
        (4, "cases[0].expect.rule"),
    ]
