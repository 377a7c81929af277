"""The engine: ranking, tie-breaks, combining outcomes, approvals, the stored decision."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import pytest

from domain.evidence import EvidenceKind
from domain.resolutions import Resolution
from policies.conditions import LeafCheck
from policies.engine import Decision, evaluate
from policies.loader import LoadedPack, load_pack
from policies.schema import STRICTNESS, Approval

AS_OF = datetime(2026, 11, 15, 12, tzinfo=UTC)
R = Resolution


def pack_of(tmp_path: Path, rules: str, **files: str) -> LoadedPack:
    """A pack with these rules (YAML list items); `files` are extra files beside it."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    path = tmp_path / "pack.yml"
    path.write_text('pack: test\nversion: "7"\nrules:\n' + indent(dedent(rules), "  "))
    return load_pack(path)


def rule(
    rule_id: str, *, priority: int = 0, when: str = "", outcome: str = "", extra: str = ""
) -> str:
    lines = [f"- id: {rule_id}", f"  title: {rule_id} title", f'  citation: "§ {rule_id}"']
    lines += [f"  text: {rule_id} text", f"  priority: {priority}"]
    lines += [f"  when: {when}"] if when else []
    lines += [f"  outcome: {outcome}"] if outcome else []
    lines += [f"  {extra}"] if extra else []
    return "\n".join(lines) + "\n"


NO_REASON = "{fact: reason, exists: false}"
OTHER_UNOPENED = "{all: [{fact: reason, eq: OTHER}, {fact: item_opened, exists: false}]}"
DAMAGED_OPENED = "{all: [{fact: reason, eq: DAMAGED}, {fact: item_opened, eq: true}]}"
PARTIAL_40 = "{recommend: {resolution: partial_refund, percent: 40, cap: '25.00'}}"
WINDOW = (
    "{all: [{fact: days_delivery_to_request, gt: 30}, {fact: days_delivery_to_request, lte: 60}]}"
)
GRADE = "{any: [{fact: condition_grade, in: [C, D]}, {not: {fact: item_opened, eq: true}}]}"
APPROVAL_A = "{approval: {role: manager, supervisor_above: '200.00', supervisor_above_percent: 80}}"
APPROVAL_B = "{approval: {role: agent, supervisor_above: '150.00', supervisor_above_percent: 90}}"
ROUND_TRIP_WHEN = (
    "{all: [{fact: order_total, gt: '10.00'}, {fact: item_categories, contains: toys},"
    " {fact: placed_at, within_days: 30}]}"
)
ROUND_TRIP_OUTCOME = (
    "{recommend: {resolution: partial_refund, cap: '5.00'}, allowed: [deny, partial_refund],"
    " restocking_fee_percent: 5, approval: {role: manager, supervisor_above: '1.00'}}"
)


def decide(pack: LoadedPack, **facts: Any) -> Decision:
    return evaluate(pack, facts, as_of=AS_OF)


def test_matched_rules_rank_by_priority_then_specificity_then_id(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("ab", priority=10, when="{fact: reason, eq: DAMAGED}")
        + rule("aa", priority=10, when="{fact: reason, eq: DAMAGED}")
        + rule("two-leaves", priority=10, when=DAMAGED_OPENED)
        + rule("top", priority=20)
        + rule("unmatched", priority=99, when="{fact: reason, eq: OTHER}"),
    )
    decision = decide(pack, reason="DAMAGED", item_opened=True)
    assert [m.id for m in decision.matched] == ["top", "two-leaves", "aa", "ab"]
    assert decision.matched[0].citation == "§ top"
    assert decision.matched[0].text == "top text"
    assert decision.matched[0].priority == 20


def test_the_first_matched_rule_recommends(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("low", priority=1, when=NO_REASON, outcome="{recommend: {resolution: deny}}")
        + rule("high", priority=2, outcome="{recommend: {resolution: full_refund}}"),
    )
    assert decide(pack).recommended.resolution is R.FULL_REFUND


def test_a_tie_in_priority_and_specificity_goes_to_the_strictest(tmp_path: Path) -> None:
    def tied(rule_id: str, when: str, resolution: str) -> str:
        return rule(
            rule_id, priority=5, when=when, outcome=f"{{recommend: {{resolution: {resolution}}}}}"
        )

    pack = pack_of(
        tmp_path,
        tied("a-refund", "{fact: reason, exists: true}", "full_refund")
        + tied("b-credit", "{fact: reason, ne: OTHER}", "store_credit")
        + tied("c-replace", "{fact: reason, not_in: [WRONG_ITEM]}", "replacement")
        + tied("more-specific", OTHER_UNOPENED, "overturn"),
    )
    assert decide(pack, reason="DAMAGED").recommended.resolution is R.STORE_CREDIT
    # a more specific rule at the same priority is not tied: it ranks first and recommends
    decision = decide(pack, reason="OTHER")
    assert [m.id for m in decision.matched] == ["more-specific", "a-refund", "c-replace"]
    assert decision.recommended.resolution is R.OVERTURN


def test_rules_without_a_recommendation_do_not_recommend(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("info", priority=50, outcome="{restocking_fee_percent: 10}")
        + rule("credit", priority=1, outcome=PARTIAL_40),
    )
    recommended = decide(pack).recommended
    assert recommended is not None
    assert (recommended.resolution, recommended.percent, recommended.cap) == (
        R.PARTIAL_REFUND,
        40,
        "25.00",
    )


def test_allowed_is_the_intersection_in_strictness_order(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("one", priority=2, outcome="{allowed: [full_refund, store_credit, uphold, deny]}")
        + rule(
            "two", priority=1, outcome="{allowed: [store_credit, full_refund, uphold, waive_fee]}"
        )
        + rule("free", outcome="{recommend: {resolution: waive_fee}}"),
    )
    decision = decide(pack)
    assert decision.allowed == [R.UPHOLD, R.STORE_CREDIT, R.FULL_REFUND]
    assert decision.refused == [r for r in STRICTNESS if r not in decision.allowed]


def test_an_empty_intersection_leaves_the_top_rules_options(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("strict", priority=9, outcome="{allowed: [deny, uphold]}")
        + rule("generous", priority=1, outcome="{allowed: [full_refund]}"),
    )
    assert decide(pack).allowed == [R.DENY, R.UPHOLD]


def test_evidence_is_the_union_and_missing_is_what_is_not_present(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("a", extra="requires_evidence: [RETURN_REQUEST, ORDER_DETAILS]")
        + rule("b", extra="requires_evidence: [PROOF_OF_DAMAGE, ORDER_DETAILS]")
        + rule(
            "nope", when="{fact: reason, eq: OTHER}", extra="requires_evidence: [PAYMENT_RECORD]"
        ),
    )
    decision = decide(pack, reason="DAMAGED", evidence_present=["ORDER_DETAILS"])
    assert decision.required_evidence == [
        EvidenceKind.ORDER_DETAILS,
        EvidenceKind.RETURN_REQUEST,
        EvidenceKind.PROOF_OF_DAMAGE,
    ]
    assert decision.missing_evidence == [EvidenceKind.RETURN_REQUEST, EvidenceKind.PROOF_OF_DAMAGE]
    # without the evidence_present fact, everything required is missing
    assert decide(pack, reason="DAMAGED").missing_evidence == decision.required_evidence


def test_the_highest_restocking_fee_applies(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("a", outcome="{restocking_fee_percent: 10}")
        + rule("b", outcome="{restocking_fee_percent: 15}")
        + rule("c", outcome="{allowed: [deny]}"),
    )
    assert decide(pack).restocking_fee_percent == 15


def test_approvals_combine_to_the_strictest(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("a", outcome=APPROVAL_A)
        + rule("b", outcome=APPROVAL_B)
        + rule("c", outcome="{approval: {supervisor_above_percent: 50}}"),
    )
    approval = decide(pack).approval
    assert approval == Approval(
        role="manager", supervisor=False, supervisor_above="150.00", supervisor_above_percent=50
    )


@pytest.mark.parametrize(
    ("approval", "facts", "expected"),
    [
        ("{supervisor: true}", {}, True),
        ("{role: supervisor}", {}, True),
        ("{role: manager}", {"currency": "USD", "disputed_amount": 10**9}, False),
        ("{supervisor_above: '200.00'}", {"currency": "USD", "disputed_amount": 20000}, False),
        ("{supervisor_above: '200.00'}", {"currency": "USD", "disputed_amount": 20001}, True),
        ("{supervisor_above: '200'}", {"currency": "JPY", "disputed_amount": 200}, False),
        ("{supervisor_above: '200'}", {"currency": "JPY", "disputed_amount": 201}, True),
        ("{supervisor_above: '200.00'}", {"disputed_amount": 10**9}, False),  # no currency
        ("{supervisor_above: '200.00'}", {"currency": "USD"}, False),  # amount unknown
        (
            "{supervisor_above_percent: 50}",
            {"disputed_amount": 5000, "order_total": 10000},
            False,
        ),
        ("{supervisor_above_percent: 50}", {"disputed_amount": 5001, "order_total": 10000}, True),
        ("{supervisor_above_percent: 50}", {"disputed_amount": 5001}, False),  # total unknown
        ("{supervisor_above_percent: 0}", {"disputed_amount": 1, "order_total": 10000}, True),
    ],
)
def test_needs_supervisor(tmp_path: Path, approval: str, facts: dict, expected: bool) -> None:
    pack = pack_of(tmp_path, rule("a", outcome=f"{{approval: {approval}}}"))
    assert evaluate(pack, facts, as_of=AS_OF).needs_supervisor is expected


def test_no_match_allows_everything_and_recommends_nothing(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path, rule("a", when="{fact: reason, eq: OTHER}", outcome="{allowed: [deny]}")
    )
    decision = decide(pack, reason="DAMAGED", disputed_amount=10**9, currency="USD")
    assert decision.matched == []
    assert decision.recommended is None
    assert decision.allowed == list(STRICTNESS)
    assert decision.refused == []
    assert decision.required_evidence == decision.missing_evidence == []
    assert decision.restocking_fee_percent is None
    assert decision.approval == Approval()
    assert decision.needs_supervisor is False


def test_the_decision_names_its_pack(tmp_path: Path) -> None:
    pack = pack_of(tmp_path, rule("a"))
    decision = decide(pack)
    expected_hash = hashlib.sha256((tmp_path / "pack.yml").read_bytes()).hexdigest()
    assert (decision.pack_name, decision.pack_version, decision.pack_hash) == (
        "test",
        "7",
        expected_hash,
    )


def test_round_trip_through_json(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule(
            "a",
            priority=3,
            when=ROUND_TRIP_WHEN,
            outcome=ROUND_TRIP_OUTCOME,
            extra="requires_evidence: [ORDER_DETAILS]",
        )
        + rule("b", when="{not: {fact: condition_grade, exists: true}}"),
    )
    facts = {
        "currency": "EUR",
        "order_total": 1250,
        "disputed_amount": 1250,
        "item_categories": ["toys"],
        "placed_at": AS_OF,
    }
    decision = evaluate(pack, facts, as_of=AS_OF)
    stored = json.loads(json.dumps(decision.to_dict()))
    assert Decision.from_dict(stored) == decision
    assert stored["recommended"] == {"resolution": "partial_refund", "cap": "5.00"}
    assert stored["trace"][0]["checks"][0]["actual"] == "12.50"
    assert stored["trace"][0]["checks"][2]["actual"] == AS_OF.isoformat()
    untraced = evaluate(pack, facts, as_of=AS_OF, trace=False)
    assert Decision.from_dict(json.loads(json.dumps(untraced.to_dict()))) == untraced


def test_a_stored_trace_is_read_only_when_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = pack_of(tmp_path, rule("a", when=ROUND_TRIP_WHEN) + rule("b", when=ROUND_TRIP_WHEN))
    facts = {"currency": "EUR", "order_total": 1250, "placed_at": AS_OF}
    decision = evaluate(pack, facts, as_of=AS_OF)
    stored = json.loads(json.dumps(decision.to_dict()))
    built: list[dict[str, Any]] = []

    def counted(**check: Any) -> LeafCheck:
        built.append(check)
        return LeafCheck(**check)

    monkeypatch.setattr("policies.traces.LeafCheck", counted)
    read = Decision.from_dict(stored)
    assert read.recommended == decision.recommended and built == []  # the cards' reading
    assert len(read.trace) == 2 and built == []
    assert read.trace[0] == decision.trace[0]  # read whole, once
    assert len(built) == sum(len(t["checks"]) for t in stored["trace"])
    assert [t.id for t in read.trace] == [t.id for t in decision.trace]
    assert read == decision and read.trace == list(decision.trace)
    assert Decision.from_dict(read.to_dict()) == read


def test_trace_shows_every_rule_in_rank_order_with_each_leaf(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("window", priority=1, when=WINDOW) + rule("grade", priority=2, when=GRADE),
    )
    decision = decide(pack, days_delivery_to_request=45, item_opened=True)
    assert [(t.id, t.matched) for t in decision.trace] == [("grade", False), ("window", True)]
    grade, window = decision.trace
    assert grade.checks == [
        LeafCheck("when.any[0]", "condition_grade", "in", ["C", "D"], None, True, False),
        LeafCheck("when.any[1].not", "item_opened", "eq", True, True, False, True),
    ]
    assert [(c.path, c.operator, c.expected, c.actual, c.passed) for c in window.checks] == [
        ("when.all[0]", "gt", 30, 45, True),
        ("when.all[1]", "lte", 60, 45, True),
    ]


def test_trace_false_decides_the_same_without_a_trace(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("a", when="{fact: reason, eq: DAMAGED}", outcome="{allowed: [deny, uphold]}")
        + rule("b", outcome="{recommend: {resolution: uphold}}"),
    )
    traced = decide(pack, reason="DAMAGED")
    untraced = evaluate(pack, {"reason": "DAMAGED"}, as_of=AS_OF, trace=False)
    assert untraced.trace == []
    assert dataclasses.replace(traced, trace=[]) == untraced


def test_as_of_must_be_timezone_aware(tmp_path: Path) -> None:
    pack = pack_of(tmp_path, rule("a"))
    with pytest.raises(ValueError, match="timezone"):
        evaluate(pack, {}, as_of=datetime(2026, 1, 1))


def test_notices_render_from_templates_beside_the_pack(tmp_path: Path) -> None:
    pack = pack_of(
        tmp_path,
        rule("a", extra="notice: notices/a.j2") + rule("b"),
        **{"notices/a.j2": "Dear {{ name }}, see {{ citation }}."},
    )
    assert pack.render_notice("a", name="Ada", citation="§2") == "Dear Ada, see §2."
    assert pack.render_notice("b") is None
    with pytest.raises(KeyError):
        pack.render_notice("nope")
