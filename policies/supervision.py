"""Why a supervisor must approve: each cause names the rule that asks for one and, for a limit,
its figure, so the people who see the flag learn what triggered it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from domain.money import MoneyError
from domain.resolutions import Resolution
from policies.conditions import Facts, minor_units
from policies.schema import Approval, Recommendation

# Options that move no money: no approval limit and no "supervisor reviews" rule applies to them
# (an option outside policy still needs a supervisor; the proposal checks that itself).
MOVES_NO_MONEY = frozenset({Resolution.DENY, Resolution.UPHOLD, Resolution.CARRIER_CLAIM})
# Options whose money is not a refund: a rule's say-so applies, its amount limits do not.
NOT_A_REFUND = frozenset({Resolution.STORE_CREDIT, Resolution.REPLACEMENT})

CauseKind = Literal["rule", "amount", "percent", "option"]


@dataclass(frozen=True, slots=True)
class SupervisorCause:
    """One reason a supervisor must approve.

    `rule`: the rule always asks for a supervisor when money moves; `amount`: the amount is
    above `limit` (a decimal string in the order's currency); `percent`: above `limit` % of the
    order; `option`: the rule asks for a supervisor whenever `limit` (a resolution) is picked.
    `rule_id` is empty for decisions stored before causes were recorded.
    """

    kind: CauseKind
    rule_id: str
    title: str
    citation: str
    limit: str | None = None

    def words(self, currency: str) -> str:
        """The cause as a person reads it (plain text, not escaped): "the refund is over the
        200.00 USD limit (Returns Policy §1.1)"."""
        where = f" ({_line(self.citation, 100)})" if self.citation else ""
        limit = _line(self.limit or "", 40)
        if self.kind == "amount":
            return f"the refund is over the {limit} {_line(currency, 10)} limit{where}"
        if self.kind == "percent":
            return f"the refund is over {limit}% of the order{where}"
        if self.kind == "option":
            known = self.limit in {r.value for r in Resolution}
            option = Resolution(self.limit).label if known and self.limit else "This option"
            return f"{option} needs a supervisor: {_line(self.title, 200) or 'the policy'}{where}"
        if self.title:
            return f"{_line(self.title, 200)}{where}"
        return "the policy asks for a supervisor"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule_id": self.rule_id,
            "title": self.title,
            "citation": self.citation,
            "limit": self.limit,
        }


def causes_in_words(causes: Iterable[SupervisorCause], currency: str) -> str:
    """Every cause once, in words, joined by "; " (plain text); empty when there is none."""
    return "; ".join(dict.fromkeys(cause.words(currency) for cause in causes))


def _line(text: str, limit: int) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


class RuleApproval(NamedTuple):
    """The approval one matched rule asks for."""

    rule_id: str
    approval: Approval


class RuleName(NamedTuple):
    title: str
    citation: str


def supervisor_causes(
    approvals: Iterable[RuleApproval],
    names: Mapping[str, RuleName],
    facts: Facts,
    resolution: Resolution | None,
    amount: int | None,
) -> list[SupervisorCause]:
    """Why a supervisor must approve `resolution` for `amount` (minor units; None when the
    option moves no refund). `resolution` None: the option is not known yet."""
    if resolution in MOVES_NO_MONEY:
        return []
    causes: list[SupervisorCause] = []
    for rule_id, approval in approvals:
        name = names.get(rule_id, RuleName("", ""))

        def cause(kind: CauseKind, limit: str | None = None) -> SupervisorCause:
            return SupervisorCause(kind, rule_id, name.title, name.citation, limit)  # noqa: B023

        if approval.supervisor or approval.role == "supervisor":
            causes.append(cause("rule"))
        elif resolution is not None and resolution in approval.supervisor_for:
            causes.append(cause("option", resolution.value))
        elif amount:
            if _over_amount(approval, amount, facts):
                causes.append(cause("amount", approval.supervisor_above))
            elif _over_percent(approval, amount, facts):
                causes.append(cause("percent", str(approval.supervisor_above_percent)))
    return causes


def _over_amount(approval: Approval, amount: int, facts: Facts) -> bool:
    if approval.supervisor_above is None:
        return False
    threshold = _threshold(approval.supervisor_above, facts.get("currency"))
    # Without a usable currency the amount threshold cannot be applied.
    return threshold is not None and amount > threshold


def _over_percent(approval: Approval, amount: int, facts: Facts) -> bool:
    percent = approval.supervisor_above_percent
    total = facts.get("order_total")
    if percent is None or not total:
        return False
    return bool(amount * 100 > percent * total)


@lru_cache(maxsize=256)
def _threshold(amount: str, currency: Any) -> int | Decimal | None:
    try:
        return minor_units(amount, currency)
    except (MoneyError, TypeError, AttributeError):
        return None


def recommended_amount(
    recommended: Recommendation | None, facts: Facts, fee_percent: int | None
) -> int | None:
    """The refund the recommendation moves, in minor units; the disputed amount when nothing
    is recommended (any option may be picked); None when it moves no refund."""
    disputed = facts.get("disputed_amount")
    if recommended is None:
        return disputed
    resolution = recommended.resolution
    if resolution in MOVES_NO_MONEY or resolution in NOT_A_REFUND:
        return None
    if disputed is None:
        return None
    if resolution is Resolution.WAIVE_FEE:
        value: int = facts.get("returned_value") or disputed
        return value * fee_percent // 100 if fee_percent else disputed
    if resolution is Resolution.PARTIAL_REFUND:
        amount = disputed * recommended.percent // 100 if recommended.percent else disputed
        cap = _threshold(recommended.cap, facts.get("currency")) if recommended.cap else None
        return int(min(amount, cap)) if cap is not None else amount
    return disputed
