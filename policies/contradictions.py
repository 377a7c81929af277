"""Conditions that can never be true: a rule that could never apply is a mistake in the pack.

Works on validated, well-typed conditions (see `schema.leaf_problems`); finds empty `in`
lists, `between` with its ends swapped, and two tests in one `all` that exclude each other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from policies.facts import FACTS, FactType
from policies.schema import AllOf, AnyOf, Condition, Leaf, NotOf, Op


def contradictions(condition: Condition | None, path: str = "when") -> list[tuple[str, str]]:
    """(path, message) for each part of a well-typed condition that can never be true."""
    found: list[tuple[str, str]] = []
    if condition is not None:
        _never(condition, path, found)
    return found


def _never(cond: Condition, path: str, found: list[tuple[str, str]]) -> bool:
    """Whether `cond` can never be true; root causes are appended to `found` once each."""
    if isinstance(cond, Leaf):
        reason = _leaf_never(cond)
        if reason:
            found.append((path, f"can never be true: {reason}"))
        return reason is not None
    if isinstance(cond, NotOf):
        return False  # a condition that is never true only makes its negation always true
    if isinstance(cond, AnyOf):
        results = [_never(c, f"{path}.any[{i}]", found) for i, c in enumerate(cond.any)]
        return all(results)
    results = [_never(c, f"{path}.all[{i}]", found) for i, c in enumerate(cond.all)]
    if any(results):
        return True
    leaves = _conjuncts(cond, path)
    for j, (path_b, b) in enumerate(leaves):
        for path_a, a in leaves[:j]:
            if a.fact == b.fact and _conflict(a, b):
                found.append(
                    (path_b, f"can never be true: {_says(b)} contradicts {path_a} ({_says(a)})")
                )
                return True
    return False


def _conjuncts(cond: AllOf, path: str) -> list[tuple[str, Leaf]]:
    """The leaves that must all hold: direct children and those of nested `all`s."""
    out: list[tuple[str, Leaf]] = []
    for i, child in enumerate(cond.all):
        if isinstance(child, Leaf):
            out.append((f"{path}.all[{i}]", child))
        elif isinstance(child, AllOf):
            out.extend(_conjuncts(child, f"{path}.all[{i}]"))
    return out


def _says(leaf: Leaf) -> str:
    return f"{leaf.fact} {leaf.op} {leaf.value!r}"


def _leaf_never(leaf: Leaf) -> str | None:
    if leaf.op is Op.IN and not leaf.value:
        return f"{leaf.fact} in [] matches nothing"
    if leaf.op is Op.BETWEEN:
        lo, hi = (_number(v, leaf.fact) for v in leaf.value)
        if lo > hi:
            return f"{leaf.fact} between {leaf.value!r}: the low end is above the high end"
    return None


def _number(value: Any, fact: str) -> Decimal:
    return Decimal(str(value).strip()) if FACTS[fact].type is FactType.MONEY else Decimal(value)


def _conflict(a: Leaf, b: Leaf) -> bool:
    """Whether two leaves on the same fact can never hold together."""
    if Op.EXISTS in (a.op, b.op):
        exists = [leaf.value for leaf in (a, b) if leaf.op is Op.EXISTS]
        return False in exists and (len(exists) == 1 or exists[0] != exists[1])
    ftype = FACTS[a.fact].type
    if ftype is FactType.DATE:
        return _dates_conflict(a, b) or _dates_conflict(b, a)
    if ftype is FactType.LIST:
        return _lists_conflict(a, b) or _lists_conflict(b, a)
    if _sets_conflict(a, b) or _sets_conflict(b, a):
        return True
    if ftype in (FactType.INT, FactType.MONEY):
        return _empty_range([*_bounds(a), *_bounds(b)], integer=ftype is FactType.INT)
    return False


def _dates_conflict(a: Leaf, b: Leaf) -> bool:
    # within N is age <= N days; older_than M is age > M days: empty when M >= N.
    return a.op is Op.WITHIN_DAYS and b.op is Op.OLDER_THAN_DAYS and b.value >= a.value


def _lists_conflict(a: Leaf, b: Leaf) -> bool:
    if a.op is Op.CONTAINS and b.op is Op.NOT_IN:
        return a.value in b.value
    return a.op is Op.IN and b.op is Op.NOT_IN and set(a.value) <= set(b.value)


def _key(value: Any, fact: str) -> Any:
    return _number(value, fact) if FACTS[fact].type is FactType.MONEY else value


def _sets_conflict(a: Leaf, b: Leaf) -> bool:
    """eq/in on one side against eq/in/ne/not_in on the other."""
    allowed = _allowed(a)
    if allowed is None:
        return False
    if b.op in (Op.EQ, Op.IN):
        other = _allowed(b)
        return other is not None and not (allowed & other)
    if b.op is Op.NE:
        return allowed <= {_key(b.value, b.fact)}
    if b.op is Op.NOT_IN:
        return allowed <= {_key(v, b.fact) for v in b.value}
    return False


def _allowed(leaf: Leaf) -> set[Any] | None:
    if leaf.op is Op.EQ:
        return {_key(leaf.value, leaf.fact)}
    if leaf.op is Op.IN:
        return {_key(v, leaf.fact) for v in leaf.value}
    return None


Bound = tuple[str, Decimal, bool]  # ("lo" | "hi", value, strict)


def _bounds(leaf: Leaf) -> list[Bound]:
    op, fact = leaf.op, leaf.fact
    if op in (Op.LT, Op.LTE):
        return [("hi", _number(leaf.value, fact), op is Op.LT)]
    if op in (Op.GT, Op.GTE):
        return [("lo", _number(leaf.value, fact), op is Op.GT)]
    if op is Op.EQ:
        value = _number(leaf.value, fact)
        return [("lo", value, False), ("hi", value, False)]
    if op is Op.BETWEEN:
        lo, hi = (_number(v, fact) for v in leaf.value)
        return [("lo", lo, False), ("hi", hi, False)]
    if op is Op.IN and leaf.value:
        values = [_number(v, fact) for v in leaf.value]
        return [("lo", min(values), False), ("hi", max(values), False)]
    return []


def _empty_range(bounds: list[Bound], *, integer: bool) -> bool:
    def closed(side: str, value: Decimal, strict: bool) -> Decimal:
        if integer and strict:
            return value + 1 if side == "lo" else value - 1
        return value

    for side_lo, lo, lo_strict in bounds:
        for side_hi, hi, hi_strict in bounds:
            if side_lo != "lo" or side_hi != "hi":
                continue
            low, high = closed("lo", lo, lo_strict), closed("hi", hi, hi_strict)
            strict = not integer and (lo_strict or hi_strict)
            if low > high or (strict and low == high):
                return True
    return False
