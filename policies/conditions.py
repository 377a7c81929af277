"""Conditions compiled once into closures: a fast test, and a traced one that explains itself.

A predicate takes (facts, as_of). Absent facts are unknown: every leaf on them is false except
`exists: false`. Money leaves compare minor units, converting the rule's decimal string with
the facts' `currency` (cached per currency); without a usable currency they count as unknown.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from domain.money import MoneyError, exponent, format_minor, to_minor
from policies.facts import FACTS, FactType
from policies.schema import AllOf, Condition, Leaf, NotOf, Op

Facts = dict[str, Any]
Predicate = Callable[[Facts, datetime], bool]
Traced = Callable[[Facts, datetime, list["LeafCheck"]], bool]

MISSING: Any = object()
_NAN = float("nan")
# NamedTuple's keyword-friendly __new__ costs twice this; the trace builds one per leaf.
_new = tuple.__new__
_COMPARE = {Op.LT: operator.lt, Op.LTE: operator.le, Op.GT: operator.gt, Op.GTE: operator.ge}
_CURRENCY_CACHE_LIMIT = 64


class LeafCheck(NamedTuple):
    """One leaf as evaluated: what was asked of which fact, what it held, and the answer."""

    path: str
    fact: str
    operator: str
    expected: Any
    actual: Any  # as rules write it (money "12.50", dates ISO); None when unknown
    unknown: bool
    passed: bool


@dataclass(frozen=True, slots=True)
class Compiled:
    """A condition ready to run: `test` for decisions, `trace` to record every leaf."""

    test: Predicate
    trace: Traced
    leaf_count: int


def always(facts: Facts, as_of: datetime) -> bool:
    return True


def _always_traced(facts: Facts, as_of: datetime, out: list[LeafCheck]) -> bool:
    return True


def compile_condition(condition: Condition | None, path: str = "when") -> Compiled:
    """Compile a validated, well-typed condition (see `schema.leaf_problems`)."""
    if condition is None:
        return Compiled(always, _always_traced, 0)
    return _compile(condition, path)


def _compile(cond: Condition, path: str) -> Compiled:
    if isinstance(cond, Leaf):
        test = _leaf_test(cond)
        return Compiled(test, _leaf_traced(cond, test, path), 1)
    if isinstance(cond, NotOf):
        child = _compile(cond.not_, f"{path}.not")
        inner, inner_traced = child.test, child.trace
        return Compiled(
            lambda f, a: not inner(f, a),
            lambda f, a, out: not inner_traced(f, a, out),
            child.leaf_count,
        )
    key = "all" if isinstance(cond, AllOf) else "any"
    items = cond.all if isinstance(cond, AllOf) else cond.any
    children = [_compile(c, f"{path}.{key}[{i}]") for i, c in enumerate(items)]
    combine = _all_of if isinstance(cond, AllOf) else _any_of
    traced = [c.trace for c in children]
    decide = all if isinstance(cond, AllOf) else any

    def run_traced(f: Facts, a: datetime, out: list[LeafCheck]) -> bool:
        # Every child runs, so the trace shows each check, not just up to the first answer.
        return decide([t(f, a, out) for t in traced])

    return Compiled(
        combine([c.test for c in children]), run_traced, sum(c.leaf_count for c in children)
    )


def _all_of(tests: list[Predicate]) -> Predicate:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        t0, t1 = tests
        return lambda f, a: t0(f, a) and t1(f, a)
    if len(tests) == 3:
        t0, t1, t2 = tests
        return lambda f, a: t0(f, a) and t1(f, a) and t2(f, a)

    def run(f: Facts, a: datetime) -> bool:
        for t in tests:  # noqa: SIM110 - a plain loop is faster than all(<generator>)
            if not t(f, a):
                return False
        return True

    return run


def _any_of(tests: list[Predicate]) -> Predicate:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        t0, t1 = tests
        return lambda f, a: t0(f, a) or t1(f, a)

    def run(f: Facts, a: datetime) -> bool:
        for t in tests:  # noqa: SIM110 - a plain loop is faster than any(<generator>)
            if t(f, a):
                return True
        return False

    return run


def _leaf_traced(leaf: Leaf, test: Predicate, path: str) -> Traced:
    name, op, expected = leaf.fact, leaf.op.value, leaf.value
    ftype = FACTS[name].type
    if ftype is FactType.MONEY:
        return _money_traced(leaf, test, path)
    show = _SHOW.get(ftype)

    def run(f: Facts, a: datetime, out: list[LeafCheck]) -> bool:
        passed = test(f, a)
        value = f.get(name, MISSING)
        if value is MISSING:
            out.append(_new(LeafCheck, (path, name, op, expected, None, True, passed)))
        else:
            actual = show(value) if show else value
            out.append(_new(LeafCheck, (path, name, op, expected, actual, False, passed)))
        return passed

    return run


def _money_traced(leaf: Leaf, test: Predicate, path: str) -> Traced:
    name, op, expected = leaf.fact, leaf.op.value, leaf.value
    needs_currency = leaf.op is not Op.EXISTS

    def run(f: Facts, a: datetime, out: list[LeafCheck]) -> bool:
        passed = test(f, a)
        value = f.get(name, MISSING)
        if value is MISSING:
            out.append(_new(LeafCheck, (path, name, op, expected, None, True, passed)))
            return passed
        currency = f.get("currency")
        usable = isinstance(currency, str) and _exponent_of(currency) is not None
        actual = format_minor(value, currency) if usable and isinstance(currency, str) else value
        unknown = needs_currency and not usable
        out.append(_new(LeafCheck, (path, name, op, expected, actual, unknown, passed)))
        return passed

    return run


def _iso(value: datetime) -> str:
    return value.isoformat()


_SHOW: dict[FactType, Callable[[Any], Any]] = {FactType.DATE: _iso, FactType.LIST: list}


def show_value(value: Any, ftype: FactType, currency: Any = None) -> Any:
    """A fact's value as rules write it, JSON-ready: money as a decimal string, dates ISO."""
    if ftype is FactType.MONEY and isinstance(value, int) and _exponent_of(currency) is not None:
        return format_minor(value, currency)
    show = _SHOW.get(ftype)
    return show(value) if show else value


def _exponent_of(currency: Any) -> int | None:
    """The currency's minor-unit places, or None when it is not a usable currency."""
    try:
        return _EXPONENTS[currency]
    except (KeyError, TypeError):
        pass
    try:
        places = exponent(currency)
    except (MoneyError, TypeError, AttributeError):
        places = None
    if len(_EXPONENTS) < _CURRENCY_CACHE_LIMIT:
        _EXPONENTS[currency] = places
    return places


_EXPONENTS: dict[Any, int | None] = {}


def _leaf_test(leaf: Leaf) -> Predicate:
    name, op, value = leaf.fact, leaf.op, leaf.value
    ftype = FACTS[name].type
    if op is Op.EXISTS:
        return (lambda f, a: name in f) if value else (lambda f, a: name not in f)
    if ftype is FactType.MONEY:
        return _money_test(name, op, value)
    if ftype is FactType.DATE:
        return _date_test(name, op, timedelta(days=value))
    if ftype is FactType.LIST:
        return _list_test(name, op, value)
    if ftype is FactType.TEXT and op is Op.CONTAINS:
        needle = value.casefold()
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and needle in v.casefold()
    return _scalar_test(name, op, value)


def _scalar_test(name: str, op: Op, value: Any) -> Predicate:
    """eq/ne/in/not_in/ranges on ENUM, INT, BOOL and TEXT facts, against constants."""
    if op is Op.EQ:
        return lambda f, a: f.get(name, MISSING) == value
    if op is Op.NE:
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and v != value
    if op is Op.IN:
        members = frozenset(value)
        return lambda f, a: f.get(name, MISSING) in members
    if op is Op.NOT_IN:
        members = frozenset(value)
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and v not in members
    # Ranges are INT only here: NaN as the stand-in for an unknown fact fails every comparison.
    if op is Op.BETWEEN:
        lo, hi = value
        return lambda f, a: lo <= f.get(name, _NAN) <= hi
    if op is Op.LT:
        return lambda f, a: f.get(name, _NAN) < value
    if op is Op.LTE:
        return lambda f, a: f.get(name, _NAN) <= value
    if op is Op.GT:
        return lambda f, a: f.get(name, _NAN) > value
    return lambda f, a: f.get(name, _NAN) >= value


def _list_test(name: str, op: Op, value: Any) -> Predicate:
    if op is Op.CONTAINS:
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and value in v
    members = frozenset(value)
    if op is Op.IN:
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and not members.isdisjoint(v)
    return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and members.isdisjoint(v)


def _date_test(name: str, op: Op, days: timedelta) -> Predicate:
    if op is Op.WITHIN_DAYS:
        return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and a - v <= days
    return lambda f, a: (v := f.get(name, MISSING)) is not MISSING and a - v > days


def _money_test(name: str, op: Op, value: Any) -> Predicate:
    """Money leaves: the rule's amounts become minor units of the facts' currency, once each."""
    cache: dict[Any, Any] = {}
    check: Callable[[Any, Any], Any]
    if op in (Op.IN, Op.NOT_IN):

        def convert(currency: Any) -> Any:
            return frozenset(minor_units(v, currency) for v in value)

        check = _member if op is Op.IN else _not_member
    elif op is Op.BETWEEN:

        def convert(currency: Any) -> Any:
            return tuple(minor_units(v, currency) for v in value)

        check = _between
    else:

        def convert(currency: Any) -> Any:
            return minor_units(value, currency)

        check = {Op.EQ: operator.eq, Op.NE: operator.ne, **_COMPARE}[op]

    def run(f: Facts, a: datetime) -> bool:
        v = f.get(name, MISSING)
        if v is MISSING:
            return False
        currency = f.get("currency")
        target = cache.get(currency, MISSING)
        if target is MISSING:
            if len(cache) >= _CURRENCY_CACHE_LIMIT:
                cache.clear()
            try:
                target = cache[currency] = convert(currency)
            except (MoneyError, TypeError, AttributeError):
                target = cache[currency] = None
        return target is not None and check(v, target)

    return run


def _member(v: int, targets: frozenset[Any]) -> bool:
    return v in targets


def _not_member(v: int, targets: frozenset[Any]) -> bool:
    return v not in targets


def _between(v: int, bounds: tuple[Any, Any]) -> bool:
    return bounds[0] <= v <= bounds[1]


def minor_units(amount: str | int, currency: str) -> int | Decimal:
    """`to_minor`, or the exact scaled Decimal when the amount is finer than the currency."""
    try:
        return to_minor(amount, currency)
    except MoneyError:
        places = exponent(currency)  # an unusable currency still raises
        return Decimal(str(amount).strip()).scaleb(places)
