"""Conditions: every operator on every fact type it applies to, unknown facts, nesting, money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policies.conditions import LeafCheck, compile_condition
from policies.schema import leaf_problems, leaves, parse_condition

AS_OF = datetime(2026, 11, 15, 12, tzinfo=UTC)
USD = {"currency": "USD"}
JPY = {"currency": "JPY"}


def holds(cond: dict[str, Any], facts: dict[str, Any]) -> bool:
    """The fast and the traced evaluation agree; return their answer."""
    parsed = parse_condition(cond)
    assert [p for leaf in leaves(parsed) for p in leaf_problems(leaf)] == []
    compiled = compile_condition(parsed)
    checks: list[LeafCheck] = []
    fast = compiled.test(facts, AS_OF)
    assert compiled.trace(facts, AS_OF, checks) is fast
    assert len(checks) == compiled.leaf_count
    return fast


DAY7 = AS_OF - timedelta(days=7)
PAST_DAY7 = DAY7 - timedelta(seconds=1)

# (id, fact, operator, value in the rule, the fact's value, expected)
CASES: list[tuple[str, str, str, Any, Any, bool]] = [
    # ENUM
    ("enum eq", "reason", "eq", "DAMAGED", "DAMAGED", True),
    ("enum eq other", "reason", "eq", "DAMAGED", "OTHER", False),
    ("enum ne", "reason", "ne", "DAMAGED", "OTHER", True),
    ("enum ne same", "reason", "ne", "DAMAGED", "DAMAGED", False),
    ("enum in", "condition_grade", "in", ["C", "D"], "C", True),
    ("enum in miss", "condition_grade", "in", ["C", "D"], "A", False),
    ("enum not_in", "condition_grade", "not_in", ["C"], "A", True),
    ("enum not_in hit", "condition_grade", "not_in", ["C"], "C", False),
    # INT
    ("int eq", "prior_returns_90d", "eq", 3, 3, True),
    ("int eq miss", "prior_returns_90d", "eq", 3, 4, False),
    ("int ne", "prior_returns_90d", "ne", 3, 4, True),
    ("int ne same", "prior_returns_90d", "ne", 3, 3, False),
    ("int in", "prior_returns_90d", "in", [1, 2], 2, True),
    ("int in miss", "prior_returns_90d", "in", [1, 2], 3, False),
    ("int not_in", "prior_returns_90d", "not_in", [1], 2, True),
    ("int not_in hit", "prior_returns_90d", "not_in", [1], 1, False),
    ("int lt", "days_since_delivery", "lt", 30, 29, True),
    ("int lt edge", "days_since_delivery", "lt", 30, 30, False),
    ("int lte edge", "days_since_delivery", "lte", 30, 30, True),
    ("int lte over", "days_since_delivery", "lte", 30, 31, False),
    ("int gt", "days_since_delivery", "gt", 30, 31, True),
    ("int gt edge", "days_since_delivery", "gt", 30, 30, False),
    ("int gte edge", "days_since_delivery", "gte", 30, 30, True),
    ("int gte under", "days_since_delivery", "gte", 30, 29, False),
    ("int between lo", "days_since_delivery", "between", [5, 9], 5, True),
    ("int between hi", "days_since_delivery", "between", [5, 9], 9, True),
    ("int between out", "days_since_delivery", "between", [5, 9], 10, False),
    # BOOL
    ("bool eq", "item_opened", "eq", True, True, True),
    ("bool eq false", "item_opened", "eq", True, False, False),
    ("bool ne", "item_opened", "ne", True, False, True),
    ("bool ne same", "item_opened", "ne", False, False, False),
    # TEXT
    ("text eq", "currency", "eq", "USD", "USD", True),
    ("text eq case", "currency", "eq", "USD", "usd", False),
    ("text ne", "currency", "ne", "USD", "EUR", True),
    ("text in", "currency", "in", ["USD", "EUR"], "EUR", True),
    ("text not_in", "currency", "not_in", ["USD", "EUR"], "EUR", False),
    ("text contains any case", "claim_text", "contains", "Broken", "it came BROKEN", True),
    ("text contains miss", "claim_text", "contains", "broken", "fine", False),
    # LIST
    ("list contains", "item_categories", "contains", "toys", ["home", "toys"], True),
    ("list contains miss", "item_categories", "contains", "toys", ["home"], False),
    ("list in: any element", "item_categories", "in", ["toys", "food"], ["home", "food"], True),
    ("list in: none", "item_categories", "in", ["toys"], ["home"], False),
    ("list not_in: none", "item_categories", "not_in", ["toys"], ["home"], True),
    ("list not_in: one", "item_categories", "not_in", ["toys"], ["home", "toys"], False),
    ("list empty not_in", "item_categories", "not_in", ["toys"], [], True),
    (
        "evidence contains",
        "evidence_present",
        "contains",
        "PROOF_OF_DAMAGE",
        ["PROOF_OF_DAMAGE"],
        True,
    ),
    # DATE
    ("within", "delivered_at", "within_days", 7, DAY7, True),
    ("within over", "delivered_at", "within_days", 7, PAST_DAY7, False),
    ("older", "delivered_at", "older_than_days", 7, PAST_DAY7, True),
    ("older edge", "delivered_at", "older_than_days", 7, DAY7, False),
    # exists on several types
    ("exists true", "delivered_at", "exists", True, AS_OF, True),
    ("exists false known", "condition_grade", "exists", False, "A", False),
    ("exists true on bool false", "item_opened", "exists", True, False, True),
    ("exists list", "item_categories", "exists", True, [], True),
]


@pytest.mark.parametrize(
    ("fact", "op", "value", "actual", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_operator(fact: str, op: str, value: Any, actual: Any, expected: bool) -> None:
    assert holds({"fact": fact, op: value}, {fact: actual}) is expected


UNKNOWN_LEAVES = [
    {"fact": "reason", "eq": "DAMAGED"},
    {"fact": "reason", "ne": "DAMAGED"},
    {"fact": "reason", "not_in": ["DAMAGED"]},
    {"fact": "days_since_delivery", "lt": 10},
    {"fact": "days_since_delivery", "gte": 0},
    {"fact": "days_since_delivery", "between": [0, 999]},
    {"fact": "item_opened", "ne": True},
    {"fact": "claim_text", "contains": ""},
    {"fact": "item_categories", "not_in": ["toys"]},
    {"fact": "delivered_at", "within_days": 9999},
    {"fact": "delivered_at", "older_than_days": 0},
    {"fact": "order_total", "gte": "0.00"},
    {"fact": "order_total", "ne": "1.00"},
    {"fact": "condition_grade", "exists": True},
]


@pytest.mark.parametrize("cond", UNKNOWN_LEAVES, ids=lambda c: f"{c['fact']}-{list(c)[1]}")
def test_unknown_fact_makes_every_leaf_false(cond: dict[str, Any]) -> None:
    assert holds(cond, {"currency": "USD"}) is False


def test_exists_false_is_true_for_an_unknown_fact() -> None:
    assert holds({"fact": "condition_grade", "exists": False}, {}) is True


def test_not_inverts_an_unknown_leaf() -> None:
    # "not (grade in [C, D])" is true when the grade is unknown: not only inverts.
    assert holds({"not": {"fact": "condition_grade", "in": ["C", "D"]}}, {}) is True
    assert (
        holds({"not": {"fact": "condition_grade", "in": ["C", "D"]}}, {"condition_grade": "C"})
        is False
    )
    assert holds({"not": {"fact": "condition_grade", "exists": False}}, {}) is False


def test_trace_marks_unknown_leaves_and_shows_values() -> None:
    parsed = parse_condition(
        {
            "all": [
                {"fact": "condition_grade", "eq": "A"},
                {"fact": "order_total", "gt": "10.00"},
                {"fact": "delivered_at", "within_days": 3},
            ]
        }
    )
    checks: list[LeafCheck] = []
    facts = {"currency": "USD", "order_total": 1250, "delivered_at": AS_OF}
    assert compile_condition(parsed).trace(facts, AS_OF, checks) is False
    assert checks == [
        LeafCheck("when.all[0]", "condition_grade", "eq", "A", None, True, False),
        LeafCheck("when.all[1]", "order_total", "gt", "10.00", "12.50", False, True),
        LeafCheck("when.all[2]", "delivered_at", "within_days", 3, AS_OF.isoformat(), False, True),
    ]


def test_combinators_nest() -> None:
    damaged_unopened = {
        "all": [{"fact": "reason", "eq": "DAMAGED"}, {"not": {"fact": "item_opened", "eq": True}}]
    }
    late_or_vip = {
        "any": [{"fact": "days_since_delivery", "gt": 30}, {"fact": "customer_tier", "eq": "vip"}]
    }
    cond = {"any": [damaged_unopened, {"all": [{"fact": "reason", "eq": "OTHER"}, late_or_vip]}]}
    assert holds(cond, {"reason": "DAMAGED", "item_opened": False}) is True
    assert holds(cond, {"reason": "DAMAGED", "item_opened": True}) is False
    assert holds(cond, {"reason": "DAMAGED"}) is True  # not(unknown leaf) is true
    assert (
        holds(cond, {"reason": "OTHER", "days_since_delivery": 3, "customer_tier": "vip"}) is True
    )
    assert holds(cond, {"reason": "OTHER", "days_since_delivery": 3}) is False
    assert holds(cond, {}) is False


def test_traced_combinators_record_every_leaf_in_written_order() -> None:
    parsed = parse_condition(
        {"any": [{"fact": "reason", "eq": "DAMAGED"}, {"not": {"fact": "item_opened", "eq": True}}]}
    )
    checks: list[LeafCheck] = []
    assert compile_condition(parsed).trace({"reason": "DAMAGED"}, AS_OF, checks) is True
    assert [(c.path, c.passed, c.unknown) for c in checks] == [
        ("when.any[0]", True, False),
        ("when.any[1].not", False, True),
    ]


@pytest.mark.parametrize(
    ("cond", "facts", "expected"),
    [
        ({"fact": "order_total", "gt": "200.00"}, {**USD, "order_total": 20001}, True),
        ({"fact": "order_total", "gt": "200.00"}, {**USD, "order_total": 20000}, False),
        ({"fact": "order_total", "gt": "200"}, {**JPY, "order_total": 201}, True),
        ({"fact": "order_total", "gt": "200"}, {**JPY, "order_total": 200}, False),
        # the same rule is read in each order's own currency
        ({"fact": "order_total", "lte": "200.00"}, {**JPY, "order_total": 200}, True),
        ({"fact": "order_total", "lte": "200.00"}, {**USD, "order_total": 200}, True),
        ({"fact": "order_total", "lte": "200.00"}, {**USD, "order_total": 20001}, False),
        # finer than the currency: compared exactly, never rounded
        ({"fact": "order_total", "gt": "199.50"}, {**JPY, "order_total": 200}, True),
        ({"fact": "order_total", "lt": "199.50"}, {**JPY, "order_total": 199}, True),
        ({"fact": "order_total", "eq": "199.50"}, {**JPY, "order_total": 199}, False),
        ({"fact": "order_total", "eq": "12.50"}, {**USD, "order_total": 1250}, True),
        ({"fact": "order_total", "ne": "12.50"}, {**USD, "order_total": 1250}, False),
        ({"fact": "order_total", "in": ["1.00", "12.50"]}, {**USD, "order_total": 1250}, True),
        ({"fact": "order_total", "not_in": ["1.00", "12.50"]}, {**USD, "order_total": 1250}, False),
        ({"fact": "order_total", "between": ["10", "20"]}, {**USD, "order_total": 2000}, True),
        ({"fact": "order_total", "between": ["10", "20"]}, {**USD, "order_total": 2001}, False),
        ({"fact": "order_total", "gte": "1.000"}, {"currency": "KWD", "order_total": 1000}, True),
        # no usable currency: the amount cannot be read, so the leaf is unknown (false)
        ({"fact": "order_total", "gte": "0.00"}, {"order_total": 100}, False),
        ({"fact": "order_total", "gte": "0.00"}, {"currency": "??", "order_total": 100}, False),
        ({"fact": "order_total", "exists": True}, {"order_total": 100}, True),
    ],
)
def test_money_in_the_orders_currency(
    cond: dict[str, Any], facts: dict[str, Any], expected: bool
) -> None:
    assert holds(cond, facts) is expected


def test_money_trace_shows_the_amount_in_major_units() -> None:
    parsed = parse_condition({"fact": "order_total", "gt": "200"})
    checks: list[LeafCheck] = []
    compile_condition(parsed).trace({**JPY, "order_total": 5000}, AS_OF, checks)
    assert checks[0].actual == "5000"
    checks.clear()
    compile_condition(parsed).trace({"order_total": 5000}, AS_OF, checks)
    assert (checks[0].actual, checks[0].unknown, checks[0].passed) == (5000, True, False)


def test_no_condition_always_holds() -> None:
    compiled = compile_condition(None)
    assert compiled.test({}, AS_OF) is True
    assert compiled.leaf_count == 0
