"""How fast the policy engine decides, against the same predicates as plain Python.

Run from the project folder:  .venv/bin/python -m bench.policy   (about half a minute)
(prints numbers, never asserts on them; exits 0 when it ran)

Each pack is evaluated against 10,000 random but well-typed fact sets (every fact of FACTS
present with probability 0.85, currencies USD/EUR/GBP/JPY), timing each `evaluate` with
time.perf_counter, with and without the trace:
  (a) a built-in pack of 16 realistic rules, against hand-written lambdas for its conditions;
  (b) policies/packs/default.yml when it exists, against closures generated from its YAML;
  (c) a generated pack of 500 rules, against closures generated from its YAML.
The plain baseline evaluates every predicate and combines like the engine at its simplest
(ranked first recommendation, intersection of allowed, union of evidence), so the ratio is
what the engine's typing, unknown-fact handling, money conversion and Decision cost.
Targets: default pack p99 < 1 ms; engine / plain <= 3 (trace=False).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from domain.money import to_minor
from domain.resolutions import Resolution
from policies.engine import evaluate
from policies.facts import FACTS, FactType
from policies.lint import lint_pack
from policies.loader import LoadedPack, load_pack
from policies.schema import STRICTNESS

SAMPLES = 10_000
AS_OF = datetime(2026, 11, 15, 12, tzinfo=UTC)
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
CATEGORIES = ("apparel", "footwear", "electronics", "home", "beauty", "grocery", "toys")
DEFAULT_PACK = Path(__file__).resolve().parent.parent / "policies" / "packs" / "default.yml"
Plain = Callable[[dict[str, Any]], bool]


def random_facts(rng: random.Random) -> dict[str, Any]:
    """One dispute's facts: each fact present with probability 0.85, values of its type."""
    currency = rng.choice(CURRENCIES)
    scale = 1 if currency == "JPY" else 100
    facts: dict[str, Any] = {"currency": currency}
    for name, spec in FACTS.items():
        if name == "currency" or rng.random() > 0.85:
            continue
        facts[name] = _value(rng, spec.type, spec.values, scale)
    return facts


def _value(rng: random.Random, ftype: FactType, values: tuple[str, ...], scale: int) -> Any:
    if ftype is FactType.ENUM:
        return rng.choice(values)
    if ftype is FactType.INT:
        return rng.randint(0, 120)
    if ftype is FactType.MONEY:
        return rng.randint(0, 600) * scale
    if ftype is FactType.BOOL:
        return rng.random() < 0.5
    if ftype is FactType.TEXT:
        return rng.choice(("it arrived broken", "wrong size", "never came", "changed my mind"))
    if ftype is FactType.LIST:
        pool = values or CATEGORIES
        return sorted(rng.sample(pool, rng.randint(0, min(3, len(pool)))))
    return AS_OF - timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))


SMALL_PACK = """
pack: bench-small
version: "1"
rules:
  - {id: window-30, title: t, citation: c, text: t, priority: 20,
     when: {all: [{fact: days_delivery_to_request, lte: 30},
                  {fact: item_categories, not_in: [electronics]}]},
     requires_evidence: [PROOF_OF_FULFILLMENT, RETURN_REQUEST],
     outcome: {recommend: {resolution: full_refund}}}
  - {id: window-electronics-14, title: t, citation: c, text: t, priority: 20,
     when: {all: [{fact: item_categories, contains: electronics},
                  {fact: days_delivery_to_request, lte: 14}]},
     outcome: {recommend: {resolution: full_refund}}}
  - {id: after-window, title: t, citation: c, text: t, priority: 30,
     when: {all: [{fact: reason, ne: DAMAGED}, {fact: days_delivery_to_request, gt: 30},
                  {fact: days_delivery_to_request, lte: 60}]},
     outcome: {recommend: {resolution: store_credit}, allowed: [deny, uphold, store_credit]}}
  - {id: beyond-60, title: t, citation: c, text: t, priority: 40,
     when: {all: [{fact: reason, ne: DAMAGED}, {fact: days_delivery_to_request, gt: 60}]},
     outcome: {recommend: {resolution: deny}, allowed: [deny, uphold]}}
  - {id: final-sale, title: t, citation: c, text: t, priority: 50,
     when: {all: [{fact: has_final_sale_item, eq: true},
                  {fact: reason, in: [SIZE_TOO_SMALL, SIZE_TOO_LARGE, UNWANTED]}]},
     outcome: {recommend: {resolution: deny}, allowed: [deny, uphold]}}
  - {id: non-returnable, title: t, citation: c, text: t, priority: 50,
     when: {fact: item_categories, in: [grocery, beauty]},
     outcome: {recommend: {resolution: deny}, allowed: [deny, uphold, store_credit]}}
  - {id: deep-discount, title: t, citation: c, text: t, priority: 45,
     when: {all: [{fact: max_discount_percent, gte: 50}, {fact: reason, eq: UNWANTED}]},
     outcome: {recommend: {resolution: store_credit}, allowed: [deny, uphold, store_credit]}}
  - {id: grade-c-d, title: t, citation: c, text: t, priority: 35,
     when: {all: [{fact: condition_grade, in: [C, D]},
                  {fact: reason, not_in: [DEFECTIVE, DAMAGED, WRONG_ITEM]}]},
     requires_evidence: [CONDITION_REPORT],
     outcome: {recommend: {resolution: partial_refund, percent: 50, cap: "100.00"},
               allowed: [deny, uphold, store_credit, partial_refund]}}
  - {id: restocking-fee, title: t, citation: c, text: t, priority: 10,
     when: {all: [{fact: item_categories, contains: electronics}, {fact: item_opened, eq: true}]},
     outcome: {restocking_fee_percent: 15}}
  - {id: damage-48h, title: t, citation: c, text: t, priority: 60,
     when: {all: [{fact: reason, eq: DAMAGED}, {fact: hours_delivery_to_report, lte: 48}]},
     requires_evidence: [PROOF_OF_DAMAGE],
     outcome: {recommend: {resolution: replacement}}}
  - {id: damage-late, title: t, citation: c, text: t, priority: 60,
     when: {all: [{fact: reason, eq: DAMAGED}, {fact: hours_delivery_to_report, gt: 48}]},
     requires_evidence: [PROOF_OF_DAMAGE],
     outcome: {recommend: {resolution: carrier_claim}}}
  - {id: not-received, title: t, citation: c, text: t, priority: 70,
     when: {all: [{fact: reason, eq: OTHER}, {fact: outbound_status, eq: in_transit},
                  {fact: placed_at, older_than_days: 14}]},
     outcome: {recommend: {resolution: full_refund}}}
  - {id: signed-delivery, title: t, citation: c, text: t, priority: 65,
     when: {all: [{fact: reason, eq: OTHER}, {fact: proof_of_delivery, eq: signature}]},
     outcome: {recommend: {resolution: uphold}, allowed: [deny, uphold]}}
  - {id: keep-it-cheap, title: t, citation: c, text: t, priority: 25,
     when: {all: [{fact: return_shipping_cost, gt: "15.00"},
                  {fact: returned_value, lt: "20.00"}]},
     outcome: {recommend: {resolution: full_refund}}}
  - {id: vip-goodwill, title: t, citation: c, text: t, priority: 42,
     when: {all: [{fact: customer_tier, eq: vip},
                  {fact: days_delivery_to_request, between: [61, 90]}]},
     outcome: {recommend: {resolution: store_credit}, allowed: [uphold, store_credit]}}
  - {id: approval, title: t, citation: c, text: t, priority: 0,
     requires_evidence: [ORDER_DETAILS, PAYMENT_RECORD],
     outcome: {approval: {role: manager, supervisor_above: "200.00", supervisor_above_percent: 50}}}
"""


def _per_currency(amount: str) -> dict[str, int]:
    return {c: to_minor(amount, c) for c in CURRENCIES}


M15, M20 = _per_currency("15.00"), _per_currency("20.00")
REFUNDISH = frozenset({"SIZE_TOO_SMALL", "SIZE_TOO_LARGE", "UNWANTED"})
OUR_FAULT = frozenset({"DEFECTIVE", "DAMAGED", "WRONG_ITEM"})
D14 = timedelta(days=14)
_M: Any = object()

# The small pack's conditions as a programmer would write them, in the pack's order.
SMALL_PLAIN: dict[str, Plain] = {
    "window-30": lambda f: (
        f.get("days_delivery_to_request", 999) <= 30
        and "electronics" not in f.get("item_categories", ("electronics",))
    ),
    "window-electronics-14": lambda f: (
        "electronics" in f.get("item_categories", ())
        and f.get("days_delivery_to_request", 999) <= 14
    ),
    "after-window": lambda f: (
        f.get("reason", "DAMAGED") != "DAMAGED" and 30 < f.get("days_delivery_to_request", -1) <= 60
    ),
    "beyond-60": lambda f: (
        f.get("reason", "DAMAGED") != "DAMAGED" and f.get("days_delivery_to_request", -1) > 60
    ),
    "final-sale": lambda f: f.get("has_final_sale_item") is True and f.get("reason") in REFUNDISH,
    "non-returnable": lambda f: not {"grocery", "beauty"}.isdisjoint(f.get("item_categories", ())),
    "deep-discount": lambda f: (
        f.get("max_discount_percent", -1) >= 50 and f.get("reason") == "UNWANTED"
    ),
    "grade-c-d": lambda f: (
        f.get("condition_grade") in ("C", "D") and "reason" in f and f["reason"] not in OUR_FAULT
    ),
    "restocking-fee": lambda f: (
        "electronics" in f.get("item_categories", ()) and f.get("item_opened") is True
    ),
    "damage-48h": lambda f: (
        f.get("reason") == "DAMAGED" and f.get("hours_delivery_to_report", 999) <= 48
    ),
    "damage-late": lambda f: (
        f.get("reason") == "DAMAGED" and f.get("hours_delivery_to_report", -1) > 48
    ),
    "not-received": lambda f: (
        f.get("reason") == "OTHER"
        and f.get("outbound_status") == "in_transit"
        and "placed_at" in f
        and AS_OF - f["placed_at"] > D14
    ),
    "signed-delivery": lambda f: (
        f.get("reason") == "OTHER" and f.get("proof_of_delivery") == "signature"
    ),
    "keep-it-cheap": lambda f: (
        f.get("return_shipping_cost", -1) > M15[f["currency"]]
        and f.get("returned_value", 10**12) < M20[f["currency"]]
    ),
    "vip-goodwill": lambda f: (
        f.get("customer_tier") == "vip" and 61 <= f.get("days_delivery_to_request", -1) <= 90
    ),
    "approval": lambda f: True,
}


def plain_predicate(cond: dict[str, Any] | None, ns: dict[str, Any]) -> str:
    """A condition as a Python expression over `f` (constants bound in `ns`)."""
    if cond is None:
        return "True"
    if "all" in cond:
        return "(" + " and ".join(plain_predicate(c, ns) for c in cond["all"]) + ")"
    if "any" in cond:
        return "(" + " or ".join(plain_predicate(c, ns) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"(not {plain_predicate(cond['not'], ns)})"
    name = cond["fact"]
    ((op, value),) = [(k, v) for k, v in cond.items() if k != "fact"]
    ftype = FACTS[name].type
    if op == "exists":
        return f"({name!r} {'in' if value else 'not in'} f)"
    const = f"c{len(ns)}"
    if ftype is FactType.MONEY:
        if isinstance(value, list):
            ns[const] = {c: [to_minor(v, c) for v in value] for c in CURRENCIES}
        else:
            ns[const] = _per_currency(value)
        const = f"{const}[f['currency']]"
    elif ftype is FactType.DATE:
        ns[const] = timedelta(days=value)
    else:
        ns[const] = frozenset(value) if op in ("in", "not_in") else value
    v = f"f[{name!r}]"
    test = {
        "eq": f"{v} == {const}",
        "ne": f"{v} != {const}",
        "lt": f"{v} < {const}",
        "lte": f"{v} <= {const}",
        "gt": f"{v} > {const}",
        "gte": f"{v} >= {const}",
        "between": f"{const}[0] <= {v} <= {const}[1]",
        "within_days": f"AS_OF - {v} <= {const}",
        "older_than_days": f"AS_OF - {v} > {const}",
    }.get(op)
    if test is None and ftype is FactType.LIST:
        test = {
            "contains": f"{const} in {v}",
            "in": f"not {const}.isdisjoint({v})",
            "not_in": f"{const}.isdisjoint({v})",
        }[op]
    elif test is None:
        test = {
            "contains": f"{const}.casefold() in {v}.casefold()",
            "in": f"{v} in {const}",
            "not_in": f"{v} not in {const}",
        }[op]
    return f"({name!r} in f and {test})"


def generated_plain(rules: list[dict[str, Any]]) -> dict[str, Plain]:
    plain = {}
    for rule in rules:
        ns: dict[str, Any] = {"AS_OF": AS_OF}
        source = plain_predicate(rule.get("when"), ns)
        plain[rule["id"]] = eval(f"lambda f: {source}", ns)
    return plain


_BIT = {r: 1 << i for i, r in enumerate(STRICTNESS)}


def plain_decider(pack: LoadedPack, plain: dict[str, Plain]) -> Callable[[dict[str, Any]], Any]:
    """Every predicate, then the simplest combination: first recommendation, masks."""
    ranked = []
    for rule in pack.rules:
        outcome = rule.rule.outcome
        allowed = outcome.allowed
        mask = sum(_BIT[r] for r in set(allowed)) if allowed else None
        kinds = frozenset(rule.rule.requires_evidence)
        ranked.append((plain[rule.id], outcome.recommend, mask, kinds))

    def decide(facts: dict[str, Any]) -> Any:
        recommended, allowed, evidence = None, (1 << len(STRICTNESS)) - 1, set()
        for test, recommend, mask, kinds in ranked:
            if test(facts):
                if recommended is None:
                    recommended = recommend
                if mask is not None:
                    allowed &= mask
                evidence |= kinds
        return recommended, allowed, evidence

    return decide


def timed(run: Callable[[dict[str, Any]], Any], samples: list[dict[str, Any]]) -> list[float]:
    clock = time.perf_counter
    out = []
    for facts in samples:
        start = clock()
        run(facts)
        out.append(clock() - start)
    return out


def report(label: str, durations: list[float]) -> float:
    total = sum(durations)
    p50 = statistics.median(durations) * 1e6
    p99 = statistics.quantiles(durations, n=100)[98] * 1e6
    print(f"  {label:<22} {len(durations) / total:>10,.0f}/s  p50 {p50:7.1f} µs  p99 {p99:7.1f} µs")
    return total


def bench(title: str, pack: LoadedPack, plain: dict[str, Plain], samples: list[dict]) -> None:
    print(f"{title}: {len(pack.rules)} rules, {len(samples):,} fact sets")
    decide = plain_decider(pack, plain)
    for warm in samples[:500]:  # warm caches (per-currency money constants) for all three
        evaluate(pack, warm, as_of=AS_OF)
        decide(warm)
    plain_total = report("plain Python", timed(decide, samples))
    for trace in (False, True):
        took = timed(lambda f, t=trace: evaluate(pack, f, as_of=AS_OF, trace=t), samples)
        total = report(f"engine trace={trace}", took)
        print(f"  {'':<22} ratio engine / plain = {total / plain_total:.2f}")
    print()


def generated_rules(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Random well-typed rules: 1-4 leaves on distinct facts, so none is a contradiction."""
    names = [n for n in FACTS if n != "currency"]
    rules = []
    for index in range(count):
        leaves = [_leaf(rng, name) for name in rng.sample(names, rng.randint(1, 4))]
        when: dict[str, Any] = {"all": leaves} if len(leaves) > 1 else leaves[0]
        if rng.random() < 0.15:
            when = {"any": [when, _leaf(rng, rng.choice(names))]}
        allowed = sorted({r.value for r in rng.sample(list(Resolution), rng.randint(2, 6))})
        rules.append(
            {
                "id": f"rule-{index:03d}",
                "title": f"Rule {index}",
                "citation": f"§{index}",
                "text": "generated",
                "priority": rng.randint(0, 100),
                "when": when,
                "requires_evidence": ["ORDER_DETAILS"] if index % 3 else ["PROOF_OF_DAMAGE"],
                "outcome": {
                    "recommend": {"resolution": rng.choice(allowed)},
                    "allowed": allowed,
                },
            }
        )
    for rule in rules:
        if rule["outcome"]["recommend"]["resolution"] == "partial_refund":
            rule["outcome"]["recommend"]["percent"] = 50
    return rules


def _leaf(rng: random.Random, name: str) -> dict[str, Any]:
    spec = FACTS[name]
    ftype = spec.type
    if ftype is FactType.ENUM:
        op = rng.choice(("eq", "ne", "in", "not_in"))
        pick = rng.sample(spec.values, 2)
        return {"fact": name, op: pick if op in ("in", "not_in") else pick[0]}
    if ftype in (FactType.INT, FactType.MONEY):
        op = rng.choice(("lt", "lte", "gt", "gte", "between", "eq"))
        lo, hi = sorted(rng.sample(range(0, 200), 2))
        as_value = (lambda n: f"{n}.00") if ftype is FactType.MONEY else (lambda n: n)
        return {"fact": name, op: [as_value(lo), as_value(hi)] if op == "between" else as_value(lo)}
    if ftype is FactType.BOOL:
        return {"fact": name, "eq": rng.random() < 0.5}
    if ftype is FactType.LIST:
        pool = spec.values or CATEGORIES
        op = rng.choice(("contains", "in", "not_in"))
        return {"fact": name, op: rng.choice(pool) if op == "contains" else rng.sample(pool, 2)}
    if ftype is FactType.DATE:
        return {"fact": name, rng.choice(("within_days", "older_than_days")): rng.randint(1, 90)}
    return {"fact": name, "contains": "broken"}


def load_generated(rules: list[dict[str, Any]], folder: Path) -> LoadedPack:
    path = folder / "generated.yml"
    while True:
        path.write_text(yaml.safe_dump({"pack": "bench-500", "version": "1", "rules": rules}))
        bad = {p.rule_id for p in lint_pack(path)}
        if not bad:
            return load_pack(path)
        rules = [rule for rule in rules if rule["id"] not in bad]  # e.g. a shadowed rule


def main() -> int:
    rng = random.Random(20261115)
    samples = [random_facts(rng) for _ in range(SAMPLES)]
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.yml"
        small.write_text(SMALL_PACK)
        bench("(a) built-in pack", load_pack(small), SMALL_PLAIN, samples)
        if DEFAULT_PACK.exists():
            pack = load_pack(DEFAULT_PACK)
            raw = yaml.safe_load(DEFAULT_PACK.read_text())["rules"]
            bench("(b) policies/packs/default.yml", pack, generated_plain(raw), samples)
        generated = load_generated(generated_rules(rng, 500), Path(folder))
        raw = yaml.safe_load((Path(folder) / "generated.yml").read_text())["rules"]
        bench("(c) generated pack", generated, generated_plain(raw), samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
