"""YAML that people edit, read within limits, with the line of every key and list item.

Problems in such files print as `file:line rule-id field: message`, the path written as
`format_loc` writes it ("when.all[1].gt") and read back by `parse_loc`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.yaml_safety import YamlLimitError, compose_bounded, read_bounded

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a pack or cases file; prints as `file:line rule-id field: message`."""

    file: str
    line: int
    rule_id: str
    field: str
    message: str

    def __str__(self) -> str:
        rule_id, field, message = (
            _one_line(part) for part in (self.rule_id, self.field, self.message)
        )
        return f"{self.file}:{self.line} {rule_id} {field}: {message}"


def _one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped, as in a repr."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


@dataclass
class YamlDoc:
    """Parsed YAML with the line (1-based) of every key and list item, by path."""

    data: Any
    lines: dict[Loc, int]
    file: str

    def line(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at `loc`; locations under `rules[i]` name the rule."""
        rule_id, rest = "-", loc
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rule = value_at(self.data, loc[:2])
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                rule_id, rest = rule["id"], loc[2:]
        return Problem(self.file, self.line(loc), rule_id, format_loc(rest) or "-", message)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_loc(path: str) -> Loc:
    """The inverse of `format_loc`: "when.all[1].gt" -> ("when", "all", 1, "gt")."""
    return tuple(
        int(index) if index else name for name, index in re.findall(r"(\w+)|\[(\d+)\]", path)
    )


def value_at(data: Any, loc: Loc) -> Any:
    """The value at `loc` in `data`, or None when there is none."""
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def read_yaml(path: Path) -> tuple[YamlDoc | None, bytes, list[Problem]]:
    """Parse a YAML file keeping lines; problems for unreadable files, bad syntax, dup keys."""
    file = str(path)
    try:
        raw = read_bounded(path)
    except OSError as exc:
        return None, b"", [Problem(file, 1, "-", "-", f"cannot read the file: {exc.strerror}")]
    except YamlLimitError as exc:
        return None, b"", [Problem(file, exc.line, "-", "-", exc.problem)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, raw, [Problem(file, 1, "-", "-", "the file is not UTF-8 text")]
    try:
        node, data = compose_bounded(text)
    except YamlLimitError as exc:
        return None, raw, [Problem(file, exc.line, "-", "-", exc.problem)]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"YAML syntax error: character #x{code:04x} is not allowed in YAML"
        return None, raw, [Problem(file, line, "-", "-", message)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())
        return None, raw, [Problem(file, line, "-", "-", f"YAML syntax error: {detail}")]
    lines: dict[Loc, int] = {(): 1}
    problems: list[Problem] = []
    if node is not None:
        _record_lines(node, (), lines, problems, file)
    return YamlDoc(data, lines, file), raw, problems


def _record_lines(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[Problem], file: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                where = format_loc((*loc, key))
                problems.append(Problem(file, line, "-", where, f"duplicate key {key!r}"))
            seen.add(key)
            lines.setdefault((*loc, key), line)
            _record_lines(value_node, (*loc, key), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _record_lines(item, (*loc, index), lines, problems, file)
