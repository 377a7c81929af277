"""Fuzzing the files and documents people hand the app: order JSON (from an order system or
fixture files) and policy pack YAML. Whatever comes in, the answer is the document or one
clear error (a ValidationError, a FixtureError, a PackError), never a crash.

A few seconds each in CI; DISPUTE_DESK_FUZZ_EXAMPLES=5000 runs longer by hand."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.orders import fixtures
from connectors.orders.factory import default_fixtures_path
from connectors.orders.fixtures import FixtureError, load_fixture_orders
from domain.evidence import EvidenceKind
from domain.orders import Order, describe_validation_error
from domain.reasons import Reason
from policies.engine import evaluate
from policies.facts import facts_from_order
from policies.loader import LoadedPack, PackError, load_pack
from tests.support.fuzz import FUZZ

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)

SHIPPED = [
    json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(default_fixtures_path().glob("*.json"))
]

# Values that have broken parsers before: odd numbers, dates and text.
NASTY_STRINGS = [
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1e400",
    "-1e-400",
    "NaN",
    "Infinity",
    "12.345",
    "0.001",
    "1" * 5000,
    "１２.００",
    "12,00",
    "٣",
    "2024-02-30",
    "2024-02-30T10:00:00Z",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59+14:00",
    "10000-01-01T00:00:00Z",
    "2026-11-01T10:00:00",
    "XXX",
    "usd",
    "EUR ",
    "JPY",
    "DAMAGED",
    "\x00",
    "\u202e",
    "line\nbreak",
    "&a",
    "*a",
    "{{ 7 * 7 }}",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(NASTY_STRINGS)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _slots(document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside `document` (the root itself excluded)."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*path, key)
            yield from _slots(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*path, index)
            yield from _slots(value, (*path, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


@st.composite
def mutated(draw: st.DrawFn, originals: list[Any], values: st.SearchStrategy[Any]) -> Any:
    """One of `originals` with a few values replaced, removed, or added next to them."""
    document = copy.deepcopy(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        slots = list(_slots(document))
        if not slots:
            break
        path = draw(st.sampled_from(slots))
        parent, key = _parent(document, path), path[-1]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[key] = draw(values)
        elif action == "remove":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(values)
        else:
            parent.insert(key, draw(values))
    return document


ORDERS = mutated(SHIPPED, JSON_VALUES) | JSON_VALUES


def _no_crash_on(order: Order) -> None:
    """Everything the app derives from an order it accepted works."""
    wire = order.to_wire()
    json.dumps(wire, allow_nan=False)
    assert Order.from_wire(wire) == order
    order.format_money(order.total_minor)
    _ = (order.items_total_minor, order.returned_value_minor, order.delivered_at)
    facts_from_order(
        order,
        reason=Reason.OTHER,
        claim="",
        disputed_amount_minor=order.total_minor,
        evidence_present=list(EvidenceKind),
        as_of=AS_OF,
    )


@FUZZ
@given(data=ORDERS)
@example(data=None)
@example(data=[])
@example(data={**SHIPPED[0], "total": "1e400"})
@example(data={**SHIPPED[0], "currency": "XXX"})
@example(data={**SHIPPED[0], "currency": True})
@example(data={**SHIPPED[0], "currency": ["USD"]})
@example(data={**SHIPPED[0], "placed_at": "2024-02-30T10:00:00Z"})
@example(data={**SHIPPED[0], "placed_at": "0001-01-01T00:00:00-23:59"})
@example(data={**SHIPPED[0], "total": math.inf})
def test_an_order_document_is_an_order_or_one_validation_error(data: Any) -> None:
    try:
        order = Order.from_wire(data)
    except ValidationError as exc:
        line = describe_validation_error(exc)
        assert line and "\n" not in line
        return
    _no_crash_on(order)


def _json_text(draw: st.DrawFn) -> str:
    document = draw(ORDERS | st.lists(mutated(SHIPPED, JSON_VALUES), min_size=1, max_size=3))
    text = json.dumps(document)
    if draw(st.booleans()):  # and some text that is only nearly JSON
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.sampled_from(["", "}", "]", ",", '"', "\\", "[" * 5000]))
    return text


@st.composite
def fixture_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "text", "bytes"]))
    if kind == "json":
        return _json_text(draw).encode()
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    return draw(st.binary(max_size=200))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        yield Path(folder)


@FUZZ
@given(raw=fixture_files())
@example(raw=b"[" * 100_000)
@example(raw=b'{"order_id": 1' + b"1" * 5000 + b"}")
@example(raw=b"\xff\xfe")
@example(raw=json.dumps(SHIPPED[:2]).encode())
def test_a_fixture_file_loads_or_is_one_fixture_error(scratch: Path, raw: bytes) -> None:
    path = scratch / "orders.json"
    path.write_bytes(raw)
    try:
        orders = load_fixture_orders(path)
    except FixtureError as exc:
        assert str(exc).startswith(f"{path}")
        return
    for order in orders.values():
        _no_crash_on(order)


PACK = """\
pack: fuzz
version: "1"
rules:
  - id: window
    title: Return window
    citation: "§2"
    text: You can return items within 30 days.
    priority: 20
    when:
      all:
        - &is_return
          any:
            - {fact: reason, in: [DEFECTIVE, DAMAGED, UNWANTED]}
            - {fact: return_status, eq: received}
        - {fact: days_delivery_to_request, lte: 30}
    requires_evidence: [PROOF_OF_FULFILLMENT, RETURN_REQUEST]
    outcome:
      recommend: {resolution: full_refund}
      allowed: [full_refund, partial_refund, store_credit, deny]
    notice: notices/refund.j2
  - id: late
    title: Late returns
    citation: "§2.3"
    text: Store credit after the window.
    priority: 65
    when:
      all:
        - *is_return
        - {fact: days_delivery_to_request, gt: 30}
        - {fact: order_total, gte: "10.00"}
    outcome:
      recommend: {resolution: store_credit}
      restocking_fee_percent: 10
      approval: {role: manager, supervisor_above: "200.00"}
"""
YAML_NOISE = [*"[]{}:,-&*!|>'\"#%@` \n\t?", "<<: ", "!!python/object:os.system", "\ufeff"]


@st.composite
def pack_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["data", "text", "noise"]))
    if kind == "data":
        values = JSON_VALUES | st.dates() | st.datetimes() | st.binary(max_size=8)
        return yaml.safe_dump(draw(mutated([yaml.safe_load(PACK)], values)), allow_unicode=True)
    if kind == "text":
        text = PACK
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            at = draw(st.integers(min_value=0, max_value=len(text)))
            cut = draw(st.integers(min_value=0, max_value=8))
            insert = draw(st.sampled_from(YAML_NOISE) | st.text(max_size=4))
            text = text[:at] + insert + text[at + cut :]
        return text
    return "".join(draw(st.lists(st.sampled_from(YAML_NOISE) | st.text(max_size=3), max_size=60)))


@pytest.fixture(scope="module")
def pack_folder(scratch: Path) -> Path:
    folder = scratch / "packs"
    (folder / "notices").mkdir(parents=True)
    (folder / "notices" / "refund.j2").write_text("Hello {{ customer_name }}, {{ amount }}.\n")
    return folder


def test_the_fuzzed_pack_loads_as_written(pack_folder: Path) -> None:
    path = pack_folder / "pack.yml"
    path.write_text(PACK)
    assert [rule.id for rule in load_pack(path).rules] == ["late", "window"]


@FUZZ
@given(text=pack_texts())
@example(text="a: &a [*a]\n")
@example(text="rules: " + "[" * 5000)
@example(text="pack: p\nversion: 1\nrules: []\nwhen: 2024-02-30\n")
@example(text="pack: p\nversion: " + "9" * 5000 + "\n")
@example(text="pack: p\n<<: 1\n")
@example(text="? [a, b]\n: c\n")
@example(text="? '\n\n  '\n: null\npack: p\nversion: '1'\nrules: []\n")
@example(text="pack: p\nversion: '1'\nrules:\n- {id: \"a\\nb\\u202e\", title: 1}\n")
def test_a_pack_loads_or_is_one_pack_error(pack_folder: Path, text: str) -> None:
    path = pack_folder / "pack.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        pack = load_pack(path)
    except PackError as exc:
        assert exc.problems
        for problem in exc.problems:
            line = str(problem)
            assert line.startswith(f"{path}:{problem.line} ") and problem.line >= 1
            assert "\n" not in line, line
        return
    _evaluate(pack)


def _evaluate(pack: LoadedPack) -> None:
    order = Order.from_wire(SHIPPED[0])
    for reason in (Reason.DAMAGED, Reason.OTHER):
        facts = facts_from_order(
            order,
            reason=reason,
            claim="",
            disputed_amount_minor=order.total_minor,
            evidence_present=[],
            as_of=AS_OF,
        )
        evaluate(pack, facts, as_of=AS_OF)


def test_a_fixture_file_over_the_size_limit_is_refused_unread(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixtures, "MAX_FIXTURE_BYTES", 1000)
    path = scratch / "big.json"
    path.write_text(json.dumps(SHIPPED[:1]) + " " * 5000)
    with pytest.raises(FixtureError, match=r"big\.json: over .* too large"):
        load_fixture_orders(path)
