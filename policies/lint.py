"""Lint a policy pack: every problem at once, each with its file and line.

The YAML and its fields (see `validation`) and the notice templates, then what the schema
alone cannot see: fact tests typed against FACTS, conditions that can never be true,
recommendations outside their own allowed options, duplicate rule ids, and recommendations
that an identical condition always outranks. The loader loads only a pack that lints clean,
so it calls `check_pack`; nothing here knows of loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from policies.contradictions import contradictions
from policies.notices import environment, load_notice
from policies.schema import (
    STRICTNESS_RANK,
    Condition,
    Leaf,
    Pack,
    PackHeader,
    Rule,
    leaf_problems,
    parse_condition,
)
from policies.validation import validate
from policies.yaml_source import Loc, Problem, YamlDoc, parse_loc, read_yaml


def lint_pack(path: Path) -> list[Problem]:
    """Every problem in the pack, in line order; empty when it loads."""
    return check_pack(Path(path)).problems


@dataclass
class CheckedPack:
    """A pack file checked: every problem, and the pack and its notices when there are none."""

    raw: bytes
    problems: list[Problem]
    pack: Pack | None = None
    templates: dict[str, jinja2.Template] = field(default_factory=dict)


def check_pack(path: Path) -> CheckedPack:
    """Read, validate and lint the pack at `path`; problems sorted by line."""
    doc, raw, problems = read_yaml(path)
    checked = CheckedPack(raw, problems)
    if doc is None:
        return checked
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "a pack is a mapping with pack, version and rules"))
        return checked
    header = validate(doc, (), PackHeader, doc.data, problems)
    raw_rules = doc.data.get("rules")
    raw_rules = raw_rules if isinstance(raw_rules, list) else []
    env = environment(path.parent)
    rules: list[tuple[int, Rule]] = []
    clean: list[tuple[int, Rule]] = []
    for index, raw_rule in enumerate(raw_rules):
        at: Loc = ("rules", index)
        rule = validate(doc, at, Rule, raw_rule, problems)
        raw_rule = raw_rule if isinstance(raw_rule, dict) else {}
        typed = _check_leaves(doc, (*at, "when"), raw_rule.get("when"), problems)
        notice = raw_rule.get("notice")
        template = load_notice(doc, env, index, notice, problems) if notice else None
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
        checked.pack = Pack(
            pack=header.pack,
            version=header.version,
            rules=[r for _, r in rules],
            options=header.options,
        )
    return checked


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
