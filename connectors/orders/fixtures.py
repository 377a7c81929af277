"""`fixtures:<path>`: orders read once from a JSON file or a folder of JSON files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.orders.protocol import DecisionUpdate, OrderNotFound
from domain.orders import Order, describe_validation_error

MAX_FIXTURE_BYTES = 16 * 1024 * 1024


class FixtureError(ValueError):
    """A fixture file that cannot be read as §4 orders; the message names file, order and field."""


class FixtureOrderSource:
    """Orders held in memory, validated at construction.

    Lookup strips surrounding whitespace from the id and is otherwise exact (case-sensitive),
    like the order ids a real order system hands out.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"fixtures:{self.path}"
        self._orders = load_fixture_orders(self.path)

    async def get_order(self, order_id: str) -> Order:
        order = self._orders.get(order_id.strip())
        if order is None:
            raise OrderNotFound(order_id)
        return order

    async def record_decision(
        self, order_id: str, return_id: str | None, update: DecisionUpdate
    ) -> bool:
        """Fixture files are read-only: decisions are kept in the audit trail only."""
        return False

    async def aclose(self) -> None:
        return None

    @property
    def order_ids(self) -> list[str]:
        return list(self._orders)

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)


def load_fixture_orders(path: Path) -> dict[str, Order]:
    """Every order in a file or a folder's `*.json` files (sorted, not recursive), by id."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if p.is_file())
        if not files:
            raise FixtureError(f"{path}: folder holds no *.json order files")
    elif path.is_file():
        files = [path]
    else:
        raise FixtureError(f"{path}: no such file or folder")
    orders: dict[str, Order] = {}
    seen_in: dict[str, Path] = {}
    for file in files:
        for order in _read_file(file):
            first = seen_in.get(order.order_id)
            if first is not None:
                raise FixtureError(f"{file}: order {order.order_id} is already defined in {first}")
            orders[order.order_id] = order
            seen_in[order.order_id] = file
    return orders


def _read_file(file: Path) -> list[Order]:
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_FIXTURE_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{file}: cannot read: {exc}") from None
    if len(raw) > MAX_FIXTURE_BYTES:
        raise FixtureError(f"{file}: over {MAX_FIXTURE_BYTES // (1024 * 1024)} MiB: too large")
    try:
        document = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or a number of thousands of digits
        raise FixtureError(f"{file}: not valid JSON: {exc}") from None
    except RecursionError:
        raise FixtureError(f"{file}: not valid JSON: nested too deep") from None
    if isinstance(document, dict):
        return [_parse(file, document, None)]
    if isinstance(document, list):
        return [_parse(file, entry, index) for index, entry in enumerate(document)]
    raise FixtureError(f"{file}: expected an order object or a list of orders")


def _parse(file: Path, data: Any, index: int | None) -> Order:
    where = f"{file}" if index is None else f"{file}: entry [{index}]"
    if not isinstance(data, dict):
        raise FixtureError(f"{where}: expected an order object, got {type(data).__name__}")
    order_id = data.get("order_id")
    label = f"order {order_id}" if isinstance(order_id, str) and order_id else "order (no id)"
    try:
        return Order.model_validate(data)
    except ValidationError as exc:
        raise FixtureError(f"{where}: {label}: {describe_validation_error(exc)}") from None
