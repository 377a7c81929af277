"""Pydantic errors as problems at their lines, in words a pack author understands."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.evidence import EvidenceKind
from domain.resolutions import Resolution
from policies.schema import (
    ROLES,
    Approval,
    CustomerAgreement,
    Leaf,
    OptionSettings,
    Outcome,
    PackHeader,
    Recommendation,
    Rule,
)
from policies.yaml_source import Loc, Problem, YamlDoc, value_at

M = TypeVar("M", bound=BaseModel)


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
_KEY = "[key]"  # pydantic's mark for an error in a mapping's key rather than its value


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
        elif part in _TAGS or part == _KEY:
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
        parent = value_at(data, loc[:-1])
        if isinstance(parent, dict) and "fact" in parent:
            return f"unknown operator {name!r} (use one of: {', '.join(_OPERATORS)})"
        close = difflib.get_close_matches(str(name), _KNOWN_FIELDS, n=1)
        return f"unknown field {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
    if kind == "enum":
        noun, names = _enum_noun(error["loc"], loc)
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


def _enum_noun(error_loc: Loc, loc: Loc) -> tuple[str, list[str]]:
    if "requires_evidence" in loc:
        return "evidence kind", list(EvidenceKind)
    if loc[-1:] == ("customer_agreement",):
        return "customer_agreement", list(CustomerAgreement)
    if loc[:1] == ("options",) and error_loc[-1:] == (_KEY,):
        return "option", list(Resolution)
    return "resolution", list(Resolution)


_OPERATORS = [n if n != "in_" else "in" for n in Leaf.model_fields if n != "fact"]
_KNOWN_FIELDS = sorted(
    {
        name
        for model in (PackHeader, Rule, Outcome, Recommendation, Approval, OptionSettings)
        for name in model.model_fields
    }
)
