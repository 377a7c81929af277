"""`/dispute policy <reason>` over the default pack: the rules about the reason first, the
rules for every dispute after, and never a rule whose condition rules the reason out."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from bot.settings import default_policy_pack
from domain.money import to_minor
from domain.reasons import Reason
from policies.engine import evaluate
from policies.facts import FACTS, FactType
from policies.loader import LoadedPack, load_pack
from policies.schema import walk_leaves
from policies.search import given_reason, search_rules

PACK = load_pack(default_policy_pack())
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
EVERY_DISPUTE = ["overturn-needs-supervisor", "repeat-returns-review", "approval-limits"]
# The rules each reason must list first (in this order), and some it must leave out.
FIRST: dict[Reason, list[str]] = {
    Reason.DAMAGED: ["damage-reported-48h", "damage-reported-late"],
    Reason.DEFECTIVE: ["defective-in-window"],
    Reason.WRONG_ITEM: ["wrong-item"],
    Reason.NOT_AS_DESCRIBED: ["shipping-refunded-our-error"],
    Reason.SIZE_TOO_SMALL: ["opened-hygiene-items"],
    Reason.SIZE_TOO_LARGE: ["opened-hygiene-items"],
    Reason.UNWANTED: ["opened-hygiene-items"],
    Reason.REFUND_NOT_RECEIVED: ["refund-not-received"],
    Reason.OTHER: [
        "not-received-not-shipped",
        "not-received-in-transit",
        "not-received-unproven-delivery",
        "not-received-proven-delivery",
    ],
}
LEFT_OUT: dict[Reason, set[str]] = {
    Reason.DAMAGED: {
        "after-window-store-credit",
        "beyond-60-days",
        "vip-goodwill-90-days",
        "final-sale",
        "condition-grade-c-d",
        "defective-in-window",
        "wrong-item",
        "refund-not-received",
    },
    Reason.DEFECTIVE: {"damage-reported-48h", "final-sale", "electronics-restocking-fee"},
    Reason.WRONG_ITEM: {"defective-in-window", "tags-and-packaging", "shipping-not-refundable"},
    Reason.NOT_AS_DESCRIBED: {"opened-hygiene-items", "no-restocking-fee-our-error"},
    Reason.SIZE_TOO_SMALL: {"shipping-refunded-our-error", "returnless-refund"},
    Reason.SIZE_TOO_LARGE: {"damage-reported-late", "wrong-item"},
    Reason.UNWANTED: {"perishable-returnless", "restocking-fee-waived"},
    Reason.REFUND_NOT_RECEIVED: {"window-30-days", "overturn-needs-supervisor", "final-sale"},
    Reason.OTHER: {"damage-reported-48h", "refund-not-received"},
}


def ids(pack: LoadedPack, reason: Reason) -> list[str]:
    return [rule.id for rule in search_rules(pack, reason.value.lower(), reason)]


@pytest.mark.parametrize("reason", list(Reason))
def test_search_ranks_rules_about_the_reason_first(reason: Reason) -> None:
    found = ids(PACK, reason)
    assert found[: len(FIRST[reason])] == FIRST[reason]
    assert not LEFT_OUT[reason] & set(found)
    general = [rule for rule in EVERY_DISPUTE if rule in found]
    assert found[-len(general) :] == general  # the rules for every dispute come last
    assert len(found) == len(set(found))


@pytest.mark.parametrize("reason", list(Reason))
def test_no_rule_left_out_could_ever_apply_to_the_reason(reason: Reason) -> None:
    """Every left-out rule is false for this reason whatever the other facts: tried on every
    combination of the values its own tests name."""
    found = set(ids(PACK, reason))
    for compiled in PACK.rules:
        rule = compiled.rule
        if rule.id in found:
            continue
        assert given_reason(rule.when, reason) is False
        facts = {"reason": reason.value, "currency": "USD"}
        choices = _values_named(rule)
        for combo in product(*choices.values()):
            tried = {**facts, **dict(zip(choices, combo, strict=True))}
            decision = evaluate(PACK, tried, as_of=AS_OF)
            assert rule.id not in [m.id for m in decision.matched], tried


def _values_named(rule) -> dict[str, list[object]]:  # type: ignore[no-untyped-def]
    # A couple of values per fact is enough to show the reason alone decides.
    values: dict[str, list[object]] = {}
    for _path, leaf in walk_leaves(rule.when):
        if leaf.fact in ("reason", "currency") or leaf.fact in values:
            continue
        spec = FACTS[leaf.fact]
        if spec.type is FactType.DATE:
            continue
        value = leaf.value
        named = (value if isinstance(value, list) else [value])[:2]
        if spec.type is FactType.MONEY:
            named = [to_minor(str(v), "USD") for v in named]
        elif spec.type is FactType.LIST:
            named = [[v] for v in named]
        values[leaf.fact] = named
    return {k: v for k, v in list(values.items())[:4]}


def test_words_without_a_reason_still_search_the_text() -> None:
    found = [rule.id for rule in search_rules(PACK, "keep the item")]
    assert found == ["returnless-refund"]
