"""YAML that people edit, read within limits: file size, alias expansion and nesting depth.

A few hundred bytes of nested aliases ("billion laughs") expand to hundreds of millions of
nodes for whoever walks the data; a cyclic alias or thousands of brackets recurse without end.
Such documents are refused here, before anything walks them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 1024 * 1024
# Nodes that aliases may add on top of the document's own: generous for reused conditions.
MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64


class YamlLimitError(yaml.YAMLError):
    """A document refused for its size, its aliases or its depth; `line` is 1-based."""

    def __init__(self, problem: str, line: int = 1) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.problem_mark: yaml.Mark | None = None

    def __str__(self) -> str:
        return self.problem


def read_bounded(path: Path, limit: int = MAX_YAML_BYTES) -> bytes:
    """The file's bytes; `YamlLimitError` when it holds more than `limit` (read no further)."""
    with Path(path).open("rb") as file:
        raw = file.read(limit + 1)
    if len(raw) > limit:
        raise YamlLimitError(_too_large(limit))
    return raw


def compose_bounded(
    text: str | bytes, *, Loader: type[yaml.SafeLoader] = yaml.SafeLoader
) -> tuple[yaml.Node | None, Any]:
    """The document's node graph and its data, or `YamlLimitError` when it is too large,
    its aliases expand too far or it nests too deep. Other problems are `yaml.YAMLError`s
    as from `yaml.load`; a value that cannot be read (a date like 2024-02-30, a number of
    thousands of digits) is a `yaml.constructor.ConstructorError` at its line."""
    if len(text) > MAX_YAML_BYTES or (
        isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES
    ):
        raise YamlLimitError(_too_large(MAX_YAML_BYTES))
    loader = _bounded(Loader)(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(_too_deep()) from None
        if node is None:
            return None, None
        check_node(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def safe_load(text: str | bytes, *, Loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """`yaml.load(text, Loader=Loader)` within this module's limits (see `compose_bounded`)."""
    return compose_bounded(text, Loader=Loader)[1]


def check_node(node: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand to more than MAX_ALIAS_NODES extra nodes,
    that refers to itself, or that nests deeper than MAX_DEPTH once expanded."""
    # Per node: its size and height once expanded, each node walked once.
    seen: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def expanded(current: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(current)
        line = current.start_mark.line + 1
        known = seen.get(key)
        if known is None:
            if key in open_nodes:
                message = "an alias refers to a node that contains it: recursive alias"
                raise YamlLimitError(message, line)
            if depth > MAX_DEPTH:
                raise YamlLimitError(_too_deep(), line)
            open_nodes.add(key)
            children: list[yaml.Node] = []
            if isinstance(current, yaml.SequenceNode):
                children = list(current.value)
            elif isinstance(current, yaml.MappingNode):
                children = [part for pair in current.value for part in pair]
            size, height = 1, 1
            for child in children:
                child_size, child_height = expanded(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
            open_nodes.discard(key)
            known = seen[key] = (size, height)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise YamlLimitError(_too_deep(), line)
        return known

    extra = expanded(node, 1)[0] - len(seen)
    if extra > MAX_ALIAS_NODES:
        raise YamlLimitError(
            f"aliases would add more than {MAX_ALIAS_NODES} nodes to the document: too many aliases"
        )


def _too_large(limit: int) -> str:
    mib, rest = divmod(limit, 1024 * 1024)
    size = f"{mib} MiB" if mib and not rest else f"{limit // 1024} KiB"
    return f"the file is over {size}: too large"


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep: too deep"


_BOUNDED: dict[type[yaml.SafeLoader], type[yaml.SafeLoader]] = {}


def _bounded(loader: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """`loader` refusing deep nesting as it reads, and whose unreadable values are YAML
    errors at their line, not `ValueError`s."""
    found = _BOUNDED.get(loader)
    if found is None:

        class Bounded(loader):  # type: ignore[valid-type,misc]
            # Nesting is counted as the scanner opens collections: PyYAML's scanner slows
            # down with every open flow collection, and its composer recurses per level.
            def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
                super().fetch_flow_collection_start(TokenClass)
                self._check_depth()

            def add_indent(self, column: int) -> bool:
                added: bool = super().add_indent(column)
                if added:
                    self._check_depth()
                return added

            def _check_depth(self) -> None:
                if self.flow_level + len(self.indents) > MAX_DEPTH:
                    raise YamlLimitError(_too_deep(), self.get_mark().line + 1)

            def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
                try:
                    return super().construct_object(node, deep=deep)
                except (ValueError, OverflowError) as exc:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"cannot read this value: {exc}", node.start_mark
                    ) from None

        found = _BOUNDED[loader] = Bounded
    return found
