"""The Why? modal in plain words: three sentences for every default-pack regression case,
checked against a snapshot (regenerate with UPDATE_SNAPSHOTS=1 and read the diff), and the
modals within Slack's limits."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from blocks.ids import ActionId
from blocks.labels import supervisor_cause_text
from blocks.policy import policy_card, trace_modal, why_modal
from blocks.policy_explain import explanation
from bot.settings import default_policy_pack
from disputes.models import CaseFile, SupervisorCause
from policies.cases import CaseResult, run_cases
from policies.engine import MatchedRule, RuleTrace
from policies.loader import load_pack
from sandbox.slack.blockkit import validate_message, validate_view
from tests.support.disputes import make_dispute

PACK = default_policy_pack()
CASES = PACK.with_name("default.cases.yml")
SNAPSHOT = Path(__file__).parent / "snapshots" / "policy_explanations.yml"


@pytest.fixture(scope="module")
def results() -> list[CaseResult]:
    return run_cases(load_pack(PACK), CASES)


def _explained(results: list[CaseResult]) -> dict[str, list[str]]:
    return {
        r.name: explanation(r.decision, str(r.decision.facts.get("currency", "USD")))
        for r in results
    }


def test_every_case_reads_as_three_sentences_matching_the_snapshot(
    results: list[CaseResult],
) -> None:
    explained = _explained(results)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(
            yaml.safe_dump(explained, sort_keys=False, allow_unicode=True, width=100)
        )
    assert yaml.safe_load(SNAPSHOT.read_text(encoding="utf-8")) == explained


def test_the_sentences_never_read_like_a_trace(results: list[CaseResult]) -> None:
    for name, sentences in _explained(results).items():
        assert len(sentences) == 3, name
        for sentence in sentences:
            assert sentence.endswith("."), (name, sentence)
            assert "when." not in sentence and "[0]" not in sentence, (name, sentence)
            assert "_" not in sentence.replace("\\_", ""), (name, sentence)


def test_a_supervisor_is_named_with_its_cause(results: list[CaseResult]) -> None:
    by_name = {r.name: r for r in results}
    frequent = by_name["repeat returns - third return in 90 days goes to a supervisor"]
    text = explanation(frequent.decision, "USD")[2]
    assert "Frequent returns are reviewed by a supervisor (Returns Policy §1.2)" in text
    large = by_name["approval - refund just over $200 needs a supervisor"]
    assert (
        "over the 200.00 USD limit (Returns Policy §1.1)" in explanation(large.decision, "USD")[2]
    )


def test_cause_words() -> None:
    causes = [
        SupervisorCause("amount", "approval-limits", "Who approves", "§1.1", "200.00"),
        SupervisorCause("rule", "repeat", "Frequent returns", "§1.2"),
        SupervisorCause("option", "overturn-rule", "Reversing a decision", "§1.3", "overturn"),
        SupervisorCause("percent", "", "", "", "50"),
    ]
    assert supervisor_cause_text(causes, "EUR") == (
        "the refund is over the 200.00 EUR limit (§1.1); Frequent returns (§1.2); "
        "Overturn needs a supervisor: Reversing a decision (§1.3); "
        "the refund is over 50% of the order"
    )
    assert supervisor_cause_text([], "USD") == ""
    hostile = SupervisorCause("rule", "x", "<!channel> & co", "<http://evil|x>")
    assert "<" not in supervisor_cause_text([hostile], "USD")


def test_why_leads_with_the_sentences_and_pushes_the_trace_behind_a_button(
    results: list[CaseResult],
) -> None:
    decision = results[0].decision
    case = CaseFile(make_dispute())
    view = why_modal(case, decision)
    assert validate_view(view) == []
    first = view["blocks"][0]["text"]["text"]
    assert first.startswith("*30-day return window*")
    buttons = [el for b in view["blocks"] if b["type"] == "actions" for el in b["elements"]]
    assert [b["action_id"] for b in buttons] == [ActionId.POLICY_TRACE.value]
    # The trace lists every rule; the Why view only the matched ones.
    assert len(view["blocks"]) < len(decision.trace)
    trace = trace_modal(case, decision)
    assert validate_view(trace) == []
    assert "when.all[" not in str(trace)


def test_both_modals_stay_within_slack_limits_with_a_huge_decision(
    results: list[CaseResult],
) -> None:
    decision = results[0].decision
    many = [MatchedRule(f"rule-{i}", "T" * 300, "C" * 150, "x", 1) for i in range(150)]
    traces = [
        RuleTrace(rule.id, True, [c for t in decision.trace for c in t.checks][:40])
        for rule in many
    ]
    huge = replace(decision, matched=many, trace=traces)
    case = CaseFile(make_dispute())
    for view in (why_modal(case, huge), trace_modal(case, huge)):
        assert validate_view(view) == []
        assert len(view["blocks"]) <= 100
    card = policy_card(case, huge)
    assert validate_message(card.text, card.blocks) == []
