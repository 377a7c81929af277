"""Properties: any well-typed facts evaluate without error, and the decision depends only on
what the pack and the facts say, not on the order they are written in."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import Decision, evaluate
from policies.facts import FACTS, FactSpec, FactType
from policies.loader import LoadedPack, load_pack

AS_OF = datetime(2026, 11, 15, 12, tzinfo=UTC)
DEFAULT_PACK = Path(__file__).resolve().parents[2] / "policies" / "packs" / "default.yml"

RULES: list[dict[str, Any]] = yaml.safe_load(
    """
- {id: window, title: t, citation: c, text: t, priority: 20,
   when: {all: [{fact: days_delivery_to_request, lte: 30},
                {fact: item_categories, not_in: [electronics]}]},
   requires_evidence: [RETURN_REQUEST], outcome: {recommend: {resolution: full_refund}}}
- {id: late, title: t, citation: c, text: t, priority: 20,
   when: {all: [{fact: days_delivery_to_request, between: [31, 60]}, {fact: reason, ne: DAMAGED}]},
   outcome: {recommend: {resolution: store_credit}, allowed: [deny, uphold, store_credit]}}
- {id: same-rank-a, title: t, citation: c, text: t, priority: 20,
   when: {all: [{fact: customer_tier, eq: vip}, {fact: item_opened, eq: true}]},
   outcome: {recommend: {resolution: replacement}}}
- {id: same-rank-b, title: t, citation: c, text: t, priority: 20,
   when: {all: [{fact: customer_tier, eq: vip}, {fact: tags_attached, eq: false}]},
   outcome: {recommend: {resolution: uphold}, allowed: [uphold, replacement, deny]}}
- {id: big, title: t, citation: c, text: t, priority: 30,
   when: {any: [{fact: order_total, gt: "500.00"}, {fact: disputed_amount, gte: "250.50"}]},
   outcome: {approval: {role: manager, supervisor_above: "300.00"}}}
- {id: cheap, title: t, citation: c, text: t, priority: 10,
   when: {fact: min_item_price, in: ["1.00", "2.50", "300"]},
   outcome: {recommend: {resolution: waive_fee}}}
- {id: money-range, title: t, citation: c, text: t, priority: 10,
   when: {all: [{fact: return_shipping_cost, between: ["5", "15.25"]},
                {fact: shipping_total, not_in: ["0.00"]}, {fact: returned_value, lt: "20"}]},
   outcome: {restocking_fee_percent: 5}}
- {id: words, title: t, citation: c, text: t, priority: 5,
   when: {any: [{fact: claim_text, contains: broken}, {fact: currency, in: [USD, JPY]}]},
   requires_evidence: [PROOF_OF_DAMAGE]}
- {id: dates, title: t, citation: c, text: t, priority: 5,
   when: {all: [{fact: delivered_at, within_days: 30}, {fact: placed_at, older_than_days: 2},
                {not: {fact: return_received_at, exists: true}}]},
   outcome: {recommend: {resolution: carrier_claim}, allowed: [carrier_claim, uphold]}}
- {id: lists, title: t, citation: c, text: t, priority: 5,
   when: {all: [{fact: evidence_present, contains: PROOF_OF_DAMAGE},
                {fact: item_categories, in: [toys, home]}]},
   outcome: {recommend: {resolution: partial_refund, percent: 30}}}
- {id: unknowns, title: t, citation: c, text: t, priority: 1,
   when: {any: [{fact: condition_grade, exists: false}, {fact: condition_grade, not_in: [A]}]},
   requires_evidence: [CONDITION_REPORT], outcome: {approval: {supervisor_above_percent: 40}}}
- {id: numbers, title: t, citation: c, text: t, priority: 1,
   when: {all: [{fact: prior_returns_90d, gte: 3}, {fact: max_discount_percent, ne: 0},
                {fact: hours_delivery_to_report, gt: 48}, {fact: original_decision, eq: denied}]},
   outcome: {recommend: {resolution: deny}, allowed: [deny, uphold], approval: {supervisor: true}}}
- {id: always, title: t, citation: c, text: t, requires_evidence: [ORDER_DETAILS]}
"""
)

CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "KWD"]) | st.text(max_size=4)


def value_of(spec: FactSpec) -> st.SearchStrategy[Any]:
    """Any value of the fact's type, as `facts_from_order` would produce it."""
    ftype = spec.type
    if ftype is FactType.ENUM:
        return st.sampled_from(spec.values)
    if ftype is FactType.INT:
        return st.integers(-1000, 10**6)
    if ftype is FactType.MONEY:
        return st.integers(0, 10**9)
    if ftype is FactType.BOOL:
        return st.booleans()
    if ftype is FactType.TEXT:
        return st.text(max_size=30)
    if ftype is FactType.LIST:
        items = st.sampled_from(spec.values) if spec.values else st.sampled_from(["toys", "home"])
        return st.lists(items | st.text(max_size=8), unique=True, max_size=5)
    return st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    )


FACT_SETS = st.fixed_dictionaries(
    {},
    optional={
        name: CURRENCIES if name == "currency" else value_of(spec) for name, spec in FACTS.items()
    },
)


def write_pack(folder: Path, rules: list[dict[str, Any]]) -> LoadedPack:
    path = folder / "pack.yml"
    path.write_text(yaml.safe_dump({"pack": "props", "version": "1", "rules": rules}))
    return load_pack(path)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> LoadedPack:
    return write_pack(tmp_path_factory.mktemp("props"), RULES)


def stored(decision: Decision) -> dict[str, Any]:
    """The decision as stored, without the hash of the file's bytes."""
    data = decision.to_dict()
    data.pop("pack_hash")
    return data


LENIENT = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])


@LENIENT
@given(facts=FACT_SETS)
def test_well_typed_facts_never_raise_and_round_trip(pack: LoadedPack, facts: dict) -> None:
    decision = evaluate(pack, facts, as_of=AS_OF)
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
    assert set(decision.allowed).isdisjoint(decision.refused)
    assert [t.id for t in decision.trace if t.matched] == [m.id for m in decision.matched]
    untraced = evaluate(pack, facts, as_of=AS_OF, trace=False)
    assert stored(untraced) == {**stored(decision), "trace": []}


@pytest.mark.skipif(not DEFAULT_PACK.exists(), reason="no default pack yet")
@LENIENT
@given(facts=FACT_SETS)
def test_the_default_pack_never_raises(facts: dict) -> None:
    evaluate(_default_pack(), facts, as_of=AS_OF)


def _default_pack(cache: dict[str, LoadedPack] = {}) -> LoadedPack:  # noqa: B006 - memo
    if "pack" not in cache:
        cache["pack"] = load_pack(DEFAULT_PACK)
    return cache["pack"]


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(range(len(RULES))), facts=st.lists(FACT_SETS, min_size=5, max_size=5))
def test_decision_does_not_depend_on_the_order_of_rules(order: list[int], facts: list) -> None:
    with tempfile.TemporaryDirectory() as folder:
        written = write_pack(Path(folder), RULES)
        shuffled = write_pack(Path(folder), [RULES[i] for i in order])
    for one in facts:
        assert stored(evaluate(shuffled, one, as_of=AS_OF)) == stored(
            evaluate(written, one, as_of=AS_OF)
        )


@LENIENT
@given(facts=FACT_SETS, data=st.data())
def test_decision_does_not_depend_on_the_order_of_facts(
    pack: LoadedPack, facts: dict, data: st.DataObject
) -> None:
    keys = data.draw(st.permutations(list(facts)))
    reordered = {key: facts[key] for key in keys}
    assert evaluate(pack, reordered, as_of=AS_OF) == evaluate(pack, facts, as_of=AS_OF)
