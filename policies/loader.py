"""Load a policy pack, or lint it: every problem at once, each with its file and line."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from domain.evidence import EvidenceKind
from domain.resolutions import Resolution
from policies.contradictions import contradictions
from policies.engine import CompiledRule, compile_rule
from policies.schema import (
    ROLES,
    STRICTNESS_RANK,
    Approval,
    Condition,
    Leaf,
    Outcome,
    Pack,
    PackHeader,
    Recommendation,
    Rule,
    leaf_problems,
    parse_condition,
)
from policies.yaml_safety import YamlLimitError, compose_bounded, read_bounded

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


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


class PackError(Exception):
    """A pack that does not load; `problems` says everything that is wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


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
            rule = _item(self.data, loc[:2])
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


def _item(data: Any, loc: Loc) -> Any:
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


@dataclass(frozen=True)
class LoadedPack:
    """A pack that passed lint: rules compiled and ranked, notice templates parsed."""

    pack: Pack
    path: Path
    content_hash: str
    rules: tuple[CompiledRule, ...]  # ranked: priority desc, specificity desc, id
    templates: dict[str, jinja2.Template] = field(default_factory=dict)

    def rule(self, rule_id: str) -> CompiledRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def render_notice(self, rule_id: str, **context: Any) -> str | None:
        """The rule's customer notice rendered with `context`; None when it has none."""
        self.rule(rule_id)
        template = self.templates.get(rule_id)
        return None if template is None else template.render(**context)


def load_pack(path: Path) -> LoadedPack:
    """Load and compile a pack; raises PackError listing every problem."""
    path = Path(path)
    checked = _check(path)
    if checked.problems or checked.pack is None:
        raise PackError(checked.problems)
    rules = sorted((compile_rule(rule) for rule in checked.pack.rules), key=lambda r: r.sort_key)
    return LoadedPack(
        pack=checked.pack,
        path=path,
        content_hash=hashlib.sha256(checked.raw).hexdigest(),
        rules=tuple(rules),
        templates=checked.templates,
    )


def lint_pack(path: Path) -> list[Problem]:
    """Every problem in the pack, in line order; empty when it loads."""
    return _check(Path(path)).problems


@dataclass
class _Checked:
    raw: bytes
    problems: list[Problem]
    pack: Pack | None = None
    templates: dict[str, jinja2.Template] = field(default_factory=dict)


def _check(path: Path) -> _Checked:
    doc, raw, problems = read_yaml(path)
    checked = _Checked(raw, problems)
    if doc is None:
        return checked
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "a pack is a mapping with pack, version and rules"))
        return checked
    header = validate(doc, (), PackHeader, doc.data, problems)
    raw_rules = doc.data.get("rules")
    raw_rules = raw_rules if isinstance(raw_rules, list) else []
    env = _environment(path.parent)
    rules: list[tuple[int, Rule]] = []
    clean: list[tuple[int, Rule]] = []
    for index, raw_rule in enumerate(raw_rules):
        at: Loc = ("rules", index)
        rule = validate(doc, at, Rule, raw_rule, problems)
        raw_rule = raw_rule if isinstance(raw_rule, dict) else {}
        typed = _check_leaves(doc, (*at, "when"), raw_rule.get("when"), problems)
        notice = raw_rule.get("notice")
        template = _template(doc, env, index, notice, problems) if notice else None
        when = rule.when if rule else _parse_condition(raw_rule.get("when"))
        if typed and when is not None:
            found = contradictions(when)
            problems.extend(doc.problem((*at, *parse_loc(p)), m) for p, m in found)
            typed = not found
        if rule is None:
            continue
        rules.append((index, rule))
        if template is not None:
            checked.templates[rule.id] = template
        if typed and _recommend_allowed(doc, index, rule, problems):
            clean.append((index, rule))
    problems += _duplicate_ids(doc, raw_rules)
    problems += _shadowed(doc, clean)
    problems.sort(key=lambda p: p.line)
    if header is not None and not problems:
        checked.pack = Pack(pack=header.pack, version=header.version, rules=[r for _, r in rules])
    return checked


def validate(
    doc: YamlDoc, loc: Loc, model: type[M], data: Any, problems: list[Problem]
) -> M | None:
    """Validate `data` at `loc` with `model`; pydantic errors become problems at their lines."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = _data_loc(doc.data, (*loc, *error["loc"]))
            problems.append(doc.problem(where, _message(error, where, doc.data)))
        return None


_TAGS = {"all", "any", "not", "leaf"}


def _has(data: Any, part: str | int) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _data_loc(data: Any, loc: Loc) -> Loc:
    """Pydantic's error location as a path in the data: union tags dropped."""
    out: list[str | int] = []
    current = data
    for part in loc:
        if _has(current, part):
            current = current[part]
        elif part in _TAGS:
            continue
        else:
            current = None
        out.append(part)
    return tuple(out)


def _message(error: Any, loc: Loc, data: Any) -> str:
    kind, value = error["type"], error.get("input")
    name = loc[-1] if loc else ""
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        parent = _item(data, loc[:-1])
        if isinstance(parent, dict) and "fact" in parent:
            return f"unknown operator {name!r} (use one of: {', '.join(_OPERATORS)})"
        close = difflib.get_close_matches(str(name), _KNOWN_FIELDS, n=1)
        return f"unknown field {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
    if kind == "enum":
        noun, names = (
            ("evidence kind", list(EvidenceKind))
            if "requires_evidence" in loc
            else ("resolution", list(Resolution))
        )
        return f"unknown {noun} {value!r} (use one of: {', '.join(names)})"
    if kind == "literal_error":
        return f"unknown {name} {value!r} (use one of: {', '.join(ROLES)})"
    if kind == "string_type":
        return f"expected text, got {value!r} (put it in quotes)"
    if kind == "int_type":
        return f"expected a whole number, got {value!r}"
    if kind == "bool_type":
        return f"expected true or false, got {value!r}"
    if kind == "list_type":
        return f"expected a list, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields, got {value!r}"
    if kind == "too_short":
        return "needs at least one item"
    if kind in ("less_than_equal", "greater_than_equal"):
        limit = error["ctx"].get("le", error["ctx"].get("ge"))
        return f"must be {'at most' if kind == 'less_than_equal' else 'at least'} {limit}"
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


_OPERATORS = [n if n != "in_" else "in" for n in Leaf.model_fields if n != "fact"]
_KNOWN_FIELDS = sorted(
    {
        name
        for model in (PackHeader, Rule, Outcome, Recommendation, Approval)
        for name in model.model_fields
    }
)


def _duplicate_ids(doc: YamlDoc, raw_rules: Any) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(rule_id, str):
            continue
        if rule_id in first:
            line = doc.line(("rules", first[rule_id], "id"))
            problems.append(
                doc.problem(("rules", index, "id"), f"duplicate rule id (first on line {line})")
            )
        else:
            first[rule_id] = index
    return problems


def _check_leaves(doc: YamlDoc, loc: Loc, raw: Any, problems: list[Problem]) -> bool:
    """Type every leaf that parses against FACTS, even when the rest of the rule does not."""
    if raw is None:
        return True  # no condition: the rule always applies
    ok = True
    if isinstance(raw, dict) and "fact" not in raw:
        for key in ("all", "any"):
            items = raw.get(key)
            for i, item in enumerate(items if isinstance(items, list) else []):
                ok &= _check_leaves(doc, (*loc, key, i), item, problems)
        if "not" in raw:
            ok &= _check_leaves(doc, (*loc, "not"), raw["not"], problems)
        return ok
    try:
        leaf = Leaf.model_validate(raw)
    except ValidationError:
        return False  # reported by the rule's own validation
    found = leaf_problems(leaf)
    problems.extend(doc.problem((*loc, key), message) for key, message in found)
    return not found


def _parse_condition(raw: Any) -> Condition | None:
    try:
        return parse_condition(raw) if raw is not None else None
    except ValidationError:
        return None


def _recommend_allowed(doc: YamlDoc, index: int, rule: Rule, problems: list[Problem]) -> bool:
    """Whether the rule's recommendation is among its allowed options (a problem if not)."""
    recommend, allowed = rule.outcome.recommend, rule.outcome.allowed
    if recommend and allowed is not None and recommend.resolution not in allowed:
        where = ("rules", index, "outcome", "recommend", "resolution")
        message = f"{recommend.resolution} is recommended but not in allowed"
        problems.append(doc.problem(where, message))
        return False
    return True


def _shadowed(doc: YamlDoc, rules: list[tuple[int, Rule]]) -> list[Problem]:
    """Recommendations that never win: an identical condition always outranks them."""
    problems = []
    keyed = [(index, rule, _condition_key(rule.when)) for index, rule in rules]
    for index, rule, key in keyed:
        if rule.outcome.recommend is None:
            continue
        for _, other, other_key in keyed:
            if other is rule or other_key != key or other.outcome.recommend is None:
                continue
            if _outranks(other, rule):
                problems.append(
                    doc.problem(
                        ("rules", index, "outcome", "recommend"),
                        f"never used: rule {other.id!r} has the same condition and "
                        "always outranks this one",
                    )
                )
                break
    return problems


def _condition_key(condition: Condition | None) -> str:
    if condition is None:
        return "null"
    dumped = condition.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return json.dumps(dumped, sort_keys=True)


def _outranks(a: Rule, b: Rule) -> bool:
    if a.priority != b.priority:
        return a.priority > b.priority
    assert a.outcome.recommend and b.outcome.recommend
    rank_a = STRICTNESS_RANK[a.outcome.recommend.resolution]
    rank_b = STRICTNESS_RANK[b.outcome.recommend.resolution]
    return (rank_a, a.id) < (rank_b, b.id)


def _environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(("html", "htm", "xml", "html.j2")),
        keep_trailing_newline=True,
    )


def _template(
    doc: YamlDoc, env: SandboxedEnvironment, index: int, notice: Any, problems: list[Problem]
) -> jinja2.Template | None:
    at: Loc = ("rules", index, "notice")
    if not isinstance(notice, str):
        return None  # reported by the rule's own validation
    try:
        return env.get_template(notice)
    except jinja2.TemplateNotFound:
        problems.append(
            doc.problem(at, f"template {notice} not found (paths are relative to the pack file)")
        )
    except jinja2.TemplateSyntaxError as exc:
        problems.append(doc.problem(at, f"template {notice} line {exc.lineno}: {exc.message}"))
    return None
