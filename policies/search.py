"""Finding the rules of a pack that a manager asks about: by reason, or by words."""

from __future__ import annotations

from domain.reasons import Reason
from policies.loader import LoadedPack
from policies.schema import AllOf, Condition, Leaf, NotOf, Op, Rule, walk_leaves


def mentions_reason(rule: Rule, reason: Reason) -> bool:
    """The rule's condition tests the reason and names this one."""
    for _path, leaf in walk_leaves(rule.when):
        if leaf.fact != "reason":
            continue
        for value in (leaf.eq, leaf.ne, leaf.in_, leaf.not_in):
            values = value if isinstance(value, list) else [value]
            if reason.value in values:
                return True
    return False


def given_reason(condition: Condition | None, reason: Reason) -> bool | None:
    """The condition with the reason known and every other fact not: True or False when the
    reason alone settles it, None when other facts decide."""
    if condition is None:
        return True
    if isinstance(condition, Leaf):
        return _leaf(condition, reason) if condition.fact == "reason" else None
    if isinstance(condition, NotOf):
        inner = given_reason(condition.not_, reason)
        return None if inner is None else not inner
    if isinstance(condition, AllOf):
        results = [given_reason(child, reason) for child in condition.all]
        if False in results:
            return False
        return True if all(results) else None
    results = [given_reason(child, reason) for child in condition.any]
    if True in results:
        return True
    return False if all(result is False for result in results) else None


def _leaf(leaf: Leaf, reason: Reason) -> bool | None:
    value = leaf.value
    if leaf.op is Op.EQ:
        return reason.value == value
    if leaf.op is Op.NE:
        return reason.value != value
    if leaf.op is Op.IN:
        return reason.value in value
    if leaf.op is Op.NOT_IN:
        return reason.value not in value
    if leaf.op is Op.EXISTS:
        return bool(value)  # a dispute always has a reason
    return None


def rules_for_reason(pack: LoadedPack, reason: Reason) -> list[Rule]:
    """Rules that can apply to disputes with this reason, those for the fewest reasons first
    (a rule about damage before the rules for every return), then in the order the engine
    considers them; rules whose conditions rule the reason out are left out."""
    ranked = []
    for order, compiled in enumerate(pack.rules):
        rule = compiled.rule
        if given_reason(rule.when, reason) is False:
            continue
        reach = sum(given_reason(rule.when, other) is not False for other in Reason)
        ranked.append((reach, order, rule))
    return [rule for *_rank, rule in sorted(ranked, key=lambda item: item[:2])]


def search_rules(pack: LoadedPack, words: str, reason: Reason | None = None) -> list[Rule]:
    """Rules for the reason (see `rules_for_reason`), or containing every word; best matches
    (in titles) first."""
    if reason is not None:
        return rules_for_reason(pack, reason)
    rules = [compiled.rule for compiled in pack.rules]
    tokens = [token.casefold() for token in words.split()]
    scored = []
    for order, rule in enumerate(rules):
        haystack = f"{rule.id} {rule.title} {rule.citation} {rule.text}".casefold()
        if all(token in haystack for token in tokens):
            in_title = sum(token in rule.title.casefold() for token in tokens)
            scored.append((-in_title, order, rule))
    return [rule for *_rank, rule in sorted(scored, key=lambda item: item[:2])]
