"""The policy pack format: pydantic models for the YAML, and the typing of conditions."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    model_validator,
)

from domain.evidence import EvidenceKind
from domain.money import MoneyError, parse_decimal
from domain.resolutions import Resolution
from policies.facts import FACTS, FactType

# Strictest first: breaks ties between equally ranked rules and orders option lists.
STRICTNESS: tuple[Resolution, ...] = (
    Resolution.DENY,
    Resolution.UPHOLD,
    Resolution.CARRIER_CLAIM,
    Resolution.STORE_CREDIT,
    Resolution.PARTIAL_REFUND,
    Resolution.REPLACEMENT,
    Resolution.WAIVE_FEE,
    Resolution.OVERTURN,
    Resolution.FULL_REFUND,
)
STRICTNESS_RANK: dict[Resolution, int] = {r: i for i, r in enumerate(STRICTNESS)}

ROLES = ("agent", "manager", "supervisor")
MAX_MONEY_PLACES = 3  # the most minor-unit places of any ISO currency


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    BETWEEN = "between"
    EXISTS = "exists"
    CONTAINS = "contains"
    WITHIN_DAYS = "within_days"
    OLDER_THAN_DAYS = "older_than_days"


_SETS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN)
_RANGES = (Op.LT, Op.LTE, Op.GT, Op.GTE, Op.BETWEEN)
OPS_BY_TYPE: dict[FactType, tuple[Op, ...]] = {
    FactType.ENUM: (*_SETS, Op.EXISTS),
    FactType.INT: (*_SETS, *_RANGES, Op.EXISTS),
    FactType.MONEY: (*_SETS, *_RANGES, Op.EXISTS),
    FactType.BOOL: (Op.EQ, Op.NE, Op.EXISTS),
    FactType.TEXT: (*_SETS, Op.CONTAINS, Op.EXISTS),
    FactType.LIST: (Op.CONTAINS, Op.IN, Op.NOT_IN, Op.EXISTS),
    FactType.DATE: (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS, Op.EXISTS),
}


def money_problem(value: Any) -> str | None:
    """Why `value` is not a money amount as rules write it ("200.00"), or None."""
    if isinstance(value, float):
        return f'write money as a quoted decimal string, like "{value:.2f}"'
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f'not a money amount: {value!r} (write a decimal string like "50.00")'
    try:
        amount = parse_decimal(value)
    except MoneyError:
        return f'not a money amount: {value!r} (write a decimal string like "50.00")'
    if not amount.is_finite() or amount < 0:
        return f"not a money amount: {value!r} (must be zero or more)"
    if -amount.as_tuple().exponent > MAX_MONEY_PLACES:  # type: ignore[operator]
        return f"not a money amount: {value!r} (too many decimal places)"
    return None


def _money(value: Any) -> str:
    problem = money_problem(value)
    if problem:
        raise ValueError(problem)
    return str(value).strip()


MoneyStr = Annotated[str, BeforeValidator(_money)]
_ID = re.compile(r"^[a-z0-9-]+$")


def _rule_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r}: use only lowercase letters, digits and '-'")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Leaf(_Model):
    """`{fact: NAME, OP: VALUE}`: one test of one fact."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    fact: StrictStr
    eq: Any = None
    ne: Any = None
    in_: Any = Field(None, alias="in")
    not_in: Any = None
    lt: Any = None
    lte: Any = None
    gt: Any = None
    gte: Any = None
    between: Any = None
    exists: Any = None
    contains: Any = None
    within_days: Any = None
    older_than_days: Any = None

    @model_validator(mode="after")
    def _one_operator(self) -> Leaf:
        ops = self._ops()
        if not ops:
            raise ValueError(f"a condition needs an operator: one of {', '.join(Op)}")
        if len(ops) > 1:
            raise ValueError(f"a condition takes one operator, got {', '.join(ops)}")
        return self

    def _ops(self) -> list[str]:
        names = self.model_fields_set - {"fact"}
        return [Op.IN.value if n == "in_" else n for n in type(self).model_fields if n in names]

    @property
    def op(self) -> Op:
        return Op(self._ops()[0])

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op is Op.IN else self.op.value)


class AllOf(_Model):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Model):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    not_: Condition = Field(alias="not")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((key for key in ("all", "any", "not") if key in value), "leaf")
    return _TAGS.get(type(value))


_TAGS: dict[type, str] = {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}

Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="a condition is {fact: NAME, OP: VALUE}, all: [...], any: [...] "
        "or not: {...}",
    ),
]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()


_CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


def parse_condition(raw: Any) -> Condition:
    """A condition from its YAML shape; raises pydantic's ValidationError."""
    return _CONDITION.validate_python(raw)


class Recommendation(_Model):
    resolution: Resolution
    percent: StrictInt | None = Field(None, ge=1, le=100)
    cap: MoneyStr | None = None

    @model_validator(mode="after")
    def _partial_only(self) -> Recommendation:
        partial = self.resolution is Resolution.PARTIAL_REFUND
        if not partial and (self.percent is not None or self.cap is not None):
            raise ValueError("percent and cap are only for partial_refund")
        if partial and self.percent is None and self.cap is None:
            raise ValueError("partial_refund needs a percent, a cap or both")
        return self


class Approval(_Model):
    role: Literal["agent", "manager", "supervisor"] = "agent"
    supervisor: StrictBool = False
    supervisor_above: MoneyStr | None = None
    supervisor_above_percent: StrictInt | None = Field(None, ge=0, le=100)
    # Options a supervisor approves whenever they are picked (e.g. overturning a decision).
    supervisor_for: tuple[Resolution, ...] = ()


class Outcome(_Model):
    recommend: Recommendation | None = None
    allowed: list[Resolution] | None = Field(None, min_length=1)
    restocking_fee_percent: StrictInt | None = Field(None, ge=0, le=100)
    approval: Approval | None = None


class Rule(_Model):
    id: Annotated[StrictStr, AfterValidator(_rule_id)]
    title: StrictStr
    citation: StrictStr
    text: StrictStr
    priority: StrictInt = 0
    when: Condition | None = None
    requires_evidence: list[EvidenceKind] = []
    outcome: Outcome = Outcome()
    notice: StrictStr | None = None


class CustomerAgreement(StrEnum):
    """Whether the customer must accept an option before it is carried out, or is only told."""

    REQUIRED = "required"
    NOTIFY = "notify"


# What a pack that does not say gets: an option that gives the customer less than they asked
# for, or something other than their money, is offered; the rest is decided and announced.
DEFAULT_CUSTOMER_AGREEMENT: dict[Resolution, CustomerAgreement] = {
    Resolution.PARTIAL_REFUND: CustomerAgreement.REQUIRED,
    Resolution.STORE_CREDIT: CustomerAgreement.REQUIRED,
    Resolution.REPLACEMENT: CustomerAgreement.REQUIRED,
    Resolution.WAIVE_FEE: CustomerAgreement.REQUIRED,
    Resolution.FULL_REFUND: CustomerAgreement.NOTIFY,
    Resolution.OVERTURN: CustomerAgreement.NOTIFY,
    Resolution.UPHOLD: CustomerAgreement.NOTIFY,
    Resolution.DENY: CustomerAgreement.NOTIFY,
    Resolution.CARRIER_CLAIM: CustomerAgreement.NOTIFY,
}


class OptionSettings(_Model):
    """`options.<resolution>` in a pack: how one resolution option is handled."""

    customer_agreement: CustomerAgreement


class PackHeader(_Model):
    """The pack without its rules, validated first so one bad rule hides nothing else."""

    pack: StrictStr
    version: StrictStr
    rules: list[Any]
    options: dict[Resolution, OptionSettings] = {}


class Pack(_Model):
    pack: StrictStr
    version: StrictStr
    rules: list[Rule]
    options: dict[Resolution, OptionSettings] = {}  # only what the pack says; see below

    def customer_agreement(self, resolution: Resolution) -> CustomerAgreement:
        """What the pack says of `resolution`, or the default when it says nothing."""
        settings = self.options.get(resolution)
        if settings is None:
            return DEFAULT_CUSTOMER_AGREEMENT[resolution]
        return settings.customer_agreement


def leaf_problems(leaf: Leaf) -> list[tuple[str, str]]:
    """Typing of one leaf against FACTS: (key, message) pairs, key `fact` or the operator."""
    spec = FACTS.get(leaf.fact)
    if spec is None:
        return [("fact", _unknown_fact(leaf.fact))]
    op, value = leaf.op, leaf.value
    if op not in OPS_BY_TYPE[spec.type]:
        usable = ", ".join(OPS_BY_TYPE[spec.type])
        return [(op.value, f"{op} does not apply to {spec.type} fact {leaf.fact} (use {usable})")]
    problem = _value_problem(op, value, spec.type, spec.values)
    return [(op.value, problem)] if problem else []


def _unknown_fact(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, FACTS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown fact {name!r}{hint}"


def _value_problem(op: Op, value: Any, ftype: FactType, values: tuple[str, ...]) -> str | None:
    if op is Op.EXISTS:
        return None if isinstance(value, bool) else "exists takes true or false"
    if op in (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else f"{op} takes a whole number of days, got {value!r}"
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list):
            return f"{op} takes a list, like [a, b]"
        return next((p for v in value if (p := _scalar_problem(v, ftype, values))), None)
    if op is Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            return "between takes two values: [low, high]"
        return next((p for v in value if (p := _scalar_problem(v, ftype, values))), None)
    if op is Op.CONTAINS:
        if not isinstance(value, str):
            return f"contains takes text, got {value!r}"
        if ftype is FactType.LIST and values and value not in values:
            return f"{value!r} is not one of {', '.join(values)}"
        return None
    return _scalar_problem(value, ftype, values)


def _scalar_problem(value: Any, ftype: FactType, values: tuple[str, ...]) -> str | None:
    if ftype is FactType.MONEY:
        return money_problem(value)
    if ftype is FactType.INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected a whole number, got {value!r}"
    if ftype is FactType.BOOL:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if not isinstance(value, str):
        return f"expected text, got {value!r}"
    if values and value not in values:
        return f"{value!r} is not one of {', '.join(values)}"
    return None


def leaves(condition: Condition | None) -> list[Leaf]:
    """The leaf tests of a condition, in the order they are written."""
    if condition is None:
        return []
    if isinstance(condition, Leaf):
        return [condition]
    if isinstance(condition, NotOf):
        return leaves(condition.not_)
    children = condition.all if isinstance(condition, AllOf) else condition.any
    return [leaf for child in children for leaf in leaves(child)]


def walk_leaves(condition: Condition | None, path: str = "when") -> list[tuple[str, Leaf]]:
    """(path, leaf) for every leaf, in written order; paths as in the trace."""
    if condition is None:
        return []
    if isinstance(condition, Leaf):
        return [(path, condition)]
    if isinstance(condition, NotOf):
        return walk_leaves(condition.not_, f"{path}.not")
    key, items = ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
    assert isinstance(condition, AllOf | AnyOf)
    return [pair for i, c in enumerate(items) for pair in walk_leaves(c, f"{path}.{key}[{i}]")]
