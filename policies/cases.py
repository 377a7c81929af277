"""Regression cases for a pack: facts written like rule values, and the decision expected."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from domain.evidence import EvidenceKind
from domain.money import MoneyError, to_minor
from domain.resolutions import Resolution
from policies.engine import Decision, evaluate
from policies.facts import FACTS, FactType
from policies.loader import LoadedPack
from policies.schema import money_problem
from policies.validation import validate
from policies.yaml_source import Loc, Problem, YamlDoc, read_yaml


class CasesError(Exception):
    """A cases file that cannot run; `problems` lists every mistake in it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expect(_Model):
    rules: list[StrictStr]
    recommended: Resolution | None = None  # checked only when written (null: no recommendation)
    allowed: list[Resolution] | None = None
    missing_evidence: list[EvidenceKind] | None = None
    needs_supervisor: StrictBool | None = None
    # The rules that make a supervisor approve the recommendation (empty: none must).
    supervisor_causes: list[StrictStr] | None = None
    # Options a supervisor approves whenever they are picked.
    supervisor_for: list[Resolution] | None = None
    restocking_fee_percent: StrictInt | None = None


class Case(_Model):
    name: StrictStr
    facts: dict[str, Any]
    as_of: datetime | None = None
    expect: Expect


class CasesFile(_Model):
    as_of: datetime | None = None  # default for cases without their own
    cases: list[Case]


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    diff: str  # empty when passed
    decision: Decision


def run_cases(pack: LoadedPack, cases_path: Path) -> list[CaseResult]:
    """Evaluate every case against `pack`; raises CasesError when the file itself is wrong."""
    doc, _raw, problems = read_yaml(Path(cases_path))
    cases = validate(doc, (), CasesFile, doc.data, problems) if doc else None
    if doc is None or cases is None or problems:
        raise CasesError(problems)
    all_facts = [
        case_facts(doc, ("cases", i, "facts"), case.facts, problems)
        for i, case in enumerate(cases.cases)
    ]
    if problems:
        raise CasesError(problems)
    results = []
    for case, facts in zip(cases.cases, all_facts, strict=True):
        as_of = _aware(case.as_of or cases.as_of or datetime.now(UTC))
        decision = evaluate(pack, facts, as_of=as_of)
        diff = _diff(case.expect, decision)
        results.append(CaseResult(case.name, not diff, diff, decision))
    return results


def case_facts(doc: YamlDoc, loc: Loc, raw: dict[str, Any], problems: list[Problem]) -> dict:
    """Facts as rules write them converted to the engine's types; null leaves a fact out."""
    facts: dict[str, Any] = {}
    currency = raw.get("currency")
    for name, value in raw.items():
        spec = FACTS.get(name)
        if spec is None:
            close = difflib.get_close_matches(str(name), FACTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(doc.problem((*loc, name), f"unknown fact {name!r}{hint}"))
            continue
        if value is None:
            continue
        try:
            facts[name] = _convert(value, spec.type, spec.values, currency)
        except ValueError as exc:
            problems.append(doc.problem((*loc, name), str(exc)))
    return facts


def _convert(value: Any, ftype: FactType, values: tuple[str, ...], currency: Any) -> Any:
    if ftype is FactType.MONEY:
        problem = money_problem(value)
        if problem:
            raise ValueError(problem)
        if not isinstance(currency, str):
            raise ValueError("money facts need the currency fact in the same case")
        try:
            return to_minor(value, currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
    if ftype is FactType.DATE:
        return _date(value)
    if ftype is FactType.LIST:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        for item in value:
            _check_choice(item, values)
        return list(value)
    if ftype is FactType.INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        return value
    if ftype is FactType.BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    _check_choice(value, values)
    return value


def _check_choice(value: Any, values: tuple[str, ...]) -> None:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    if values and value not in values:
        raise ValueError(f"{value!r} is not one of {', '.join(values)}")


def _date(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO date: {value!r}") from None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    raise ValueError(f"expected an ISO date like 2026-11-03T10:00:00Z, got {value!r}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _diff(expect: Expect, decision: Decision) -> str:
    """What differs, one fact per line, with the failing checks of rules that did not match."""
    lines: list[str] = []
    got_rules = [rule.id for rule in decision.matched]
    if expect.rules != got_rules:
        lines += [
            f"rules:       expected {_ids(expect.rules)}",
            f"             got      {_ids(got_rules)}",
        ]
        for rule_id in expect.rules:
            if rule_id not in got_rules:
                lines += _why_not(rule_id, decision)
    if "recommended" in expect.model_fields_set:
        got = decision.recommended.resolution if decision.recommended else None
        if expect.recommended != got:
            lines.append(f"recommended: expected {expect.recommended}, got {got}")
    checks: list[tuple[str, Any, Any]] = [
        ("allowed", _set(expect.allowed), _set(decision.allowed)),
        ("missing_evidence", _set(expect.missing_evidence), _set(decision.missing_evidence)),
        ("needs_supervisor", expect.needs_supervisor, decision.needs_supervisor),
        (
            "supervisor_causes",
            _set(expect.supervisor_causes),
            _set([cause.rule_id for cause in decision.supervisor_causes]),
        ),
        (
            "supervisor_for",
            _set(expect.supervisor_for),
            _set(list(decision.approval.supervisor_for)),
        ),
        ("restocking_fee_percent", expect.restocking_fee_percent, decision.restocking_fee_percent),
    ]
    for name, expected, got in checks:
        if name in expect.model_fields_set and expected != got:
            lines.append(f"{name}: expected {_show(expected)}, got {_show(got)}")
    return "\n".join(lines)


def _why_not(rule_id: str, decision: Decision) -> list[str]:
    trace = next((t for t in decision.trace if t.id == rule_id), None)
    if trace is None:
        return [f"  {rule_id}: no such rule in the pack"]
    lines = [f"  {rule_id} did not match:"]
    for check in trace.checks:
        if not check.passed:
            actual = "unknown" if check.unknown else repr(check.actual)
            lines.append(
                f"    {check.path}: {check.fact} {check.operator} {check.expected!r} (was {actual})"
            )
    return lines


def _ids(ids: list[str]) -> str:
    return "[" + ", ".join(ids) + "]"


def _set(values: list[Any] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v) for v in values)


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
