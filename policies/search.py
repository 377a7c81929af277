"""Finding the rules of a pack that a manager asks about: by reason, or by words."""

from __future__ import annotations

from domain.reasons import Reason
from policies.loader import LoadedPack
from policies.schema import Rule, walk_leaves


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


def search_rules(pack: LoadedPack, words: str, reason: Reason | None = None) -> list[Rule]:
    """Rules naming the reason, or containing every word; best matches (in titles) first."""
    rules = [compiled.rule for compiled in pack.rules]
    if reason is not None:
        return [rule for rule in rules if mentions_reason(rule, reason)]
    tokens = [token.casefold() for token in words.split()]
    scored = []
    for order, rule in enumerate(rules):
        haystack = f"{rule.id} {rule.title} {rule.citation} {rule.text}".casefold()
        if all(token in haystack for token in tokens):
            in_title = sum(token in rule.title.casefold() for token in tokens)
            scored.append((-in_title, order, rule))
    return [rule for *_rank, rule in sorted(scored, key=lambda item: item[:2])]
