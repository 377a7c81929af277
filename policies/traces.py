"""What a pack's evaluation found rule by rule: `RuleTrace`s, as evaluated or as stored."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

from policies.conditions import LeafCheck


class RuleTrace(NamedTuple):
    """One rule as evaluated: whether it matched, and each leaf check in written order."""

    id: str
    matched: bool
    checks: list[LeafCheck]


class StoredTrace(Sequence[RuleTrace]):
    """A stored decision's trace, read into `RuleTrace`s when first looked at: every rule of
    the pack with each of its checks, which most readers of a decision (its cards) never
    look at."""

    __slots__ = ("_read", "_stored")

    def __init__(self, stored: list[dict[str, Any]]) -> None:
        self._stored = stored
        self._read: list[RuleTrace] | None = None

    def _traces(self) -> list[RuleTrace]:
        if self._read is None:
            self._read = [
                RuleTrace(t["id"], t["matched"], [LeafCheck(**c) for c in t["checks"]])
                for t in self._stored
            ]
        return self._read

    @overload
    def __getitem__(self, index: int) -> RuleTrace: ...
    @overload
    def __getitem__(self, index: slice) -> list[RuleTrace]: ...
    def __getitem__(self, index: int | slice) -> RuleTrace | list[RuleTrace]:
        return self._traces()[index]

    def __len__(self) -> int:
        return len(self._stored)

    def __iter__(self) -> Iterator[RuleTrace]:
        return iter(self._traces())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredTrace | list | tuple):
            return self._traces() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._traces())
