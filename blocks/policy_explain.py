"""The policy decision in three plain sentences, as a colleague would put it: what applies,
what it means for the customer, what we recommend and why. Built from the decision and the
facts it was made on, never written per rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from blocks.labels import recommendation_text, resolution_label, supervisor_cause_text
from blocks.text import inline
from disputes.models import PolicyDecision, RuleTrace
from domain.money import MoneyError, format_minor
from domain.reasons import Reason
from domain.resolutions import Resolution

MatchedRule = Any  # policies' MatchedRule: id, title, citation, text, priority
MONEY_FACTS = frozenset(
    {
        "order_total",
        "disputed_amount",
        "returned_value",
        "shipping_total",
        "return_shipping_cost",
        "min_item_price",
        "original_decision_amount",
    }
)
SHOWN_PER_RULE = 3  # fact phrases behind one rule; more reads like a trace again
_NO_REFUND = frozenset({Resolution.DENY, Resolution.UPHOLD})
_NOUNS = {
    Resolution.DENY: "denying the request",
    Resolution.UPHOLD: "upholding the original decision",
    Resolution.CARRIER_CLAIM: "a claim with the carrier",
    Resolution.STORE_CREDIT: "store credit",
    Resolution.PARTIAL_REFUND: "a partial refund",
    Resolution.REPLACEMENT: "a replacement",
    Resolution.WAIVE_FEE: "waiving the fee",
    Resolution.OVERTURN: "overturning the original decision",
    Resolution.FULL_REFUND: "a full refund",
}
_OUTCOMES = {
    "refunded": "refunded",
    "partial_refund": "partly refunded",
    "denied": "denied",
    "store_credit": "settled with store credit",
    "pending": "not decided yet",
}


def explanation(decision: PolicyDecision, currency: str) -> list[str]:
    """Three sentences in mrkdwn (outside text escaped): what applies, what it means for the
    customer, what is recommended and why."""
    return [
        _what_applies(decision, currency),
        _what_it_means(decision, currency),
        _recommendation(decision, currency),
    ]


def because(decision: PolicyDecision, rule_id: str, currency: str) -> str:
    """Why one matched rule applies: the facts its condition found, in words ("" if none)."""
    trace = next((t for t in decision.trace if t.id == rule_id), None)
    phrases = _phrases(trace, currency) if trace is not None else []
    return _join(phrases[:SHOWN_PER_RULE])


def _what_applies(decision: PolicyDecision, currency: str) -> str:
    if not decision.matched:
        return "No rule of the return policy covers this dispute."
    top = _top_rule(decision)
    why = because(decision, top.id, currency)
    head = f"*{inline(top.title, 200)}* ({inline(top.citation, 100)}) applies"
    others = len(decision.matched) - 1
    also = f", with {others} other rule{'s' if others != 1 else ''}" if others else ""
    return f"{head}{also}" + (f", because {why}." if why else ".")


def _what_it_means(decision: PolicyDecision, currency: str) -> str:
    allowed = decision.allowed
    if allowed and set(allowed) <= _NO_REFUND:
        options = _or([resolution_label(r).lower() for r in allowed])
        text = f"For the customer this means no refund: the policy lets us only {options}"
    else:
        disputed = _money(decision.facts.get("disputed_amount"), currency)
        stake = f" on the {disputed} in dispute" if disputed else ""
        options = _or([resolution_label(r).lower() for r in allowed])
        if len(allowed) == len(Resolution):
            options = "every option"
        text = f"For the customer this means the policy allows {options}{stake}"
    fee = decision.restocking_fee_percent
    if fee:
        text += f", less a {fee}% restocking fee"
    elif fee == 0:
        text += ", with no restocking fee"
    missing = [kind.label.lower() for kind in decision.missing_evidence]
    if missing:
        text += f"; we still need {_and(missing)} before deciding"
    return text + "."


def _recommendation(decision: PolicyDecision, currency: str) -> str:
    recommended = decision.recommended
    if recommended is None:
        text = (
            "Nothing is recommended, as no rule that applies suggests a resolution: use "
            "judgement within the allowed options"
        )
    else:
        label = resolution_label(recommended.resolution)
        limits = inline(recommendation_text(recommended, currency)[len(label) :], 300)
        what = _NOUNS[recommended.resolution] + limits
        amount = _money(decision.facts.get("disputed_amount"), currency)
        if recommended.resolution is Resolution.FULL_REFUND and amount:
            what = f"{what} of {amount}"
        rule = _by_id(decision, decision.recommended_by)
        source = f" because {inline(rule.citation, 100)} says so" if rule else ""
        text = f"We recommend {what}{source}"
    if decision.needs_supervisor:
        causes = supervisor_cause_text(decision.supervisor_causes, currency)
        text += (
            f", and a supervisor must approve it: {causes}"
            if causes
            else (", and a supervisor must approve it")
        )
    elif recommended is not None:
        text += f", and a {inline(decision.approval.role, 40)} can approve it"
    return text + "."


def _top_rule(decision: PolicyDecision) -> MatchedRule:
    return _by_id(decision, decision.recommended_by) or decision.matched[0]


def _by_id(decision: PolicyDecision, rule_id: str | None) -> MatchedRule | None:
    return next((rule for rule in decision.matched if rule.id == rule_id), None)


def _phrases(trace: RuleTrace, currency: str) -> list[str]:
    phrases: dict[str, str] = {}
    for check in trace.checks:
        # Tests under a `not` counted when they failed; the words would say the opposite.
        if not check.passed or check.unknown or ".not" in check.path or check.fact in phrases:
            continue
        phrase = _phrase(check.fact, check.actual, currency)
        if phrase:
            phrases[check.fact] = phrase
    return list(phrases.values())


def _phrase(fact: str, actual: Any, currency: str) -> str | None:
    words = _WORDS.get(fact)
    if words is not None:
        return words(actual, currency)
    if fact == "evidence_present":
        return None
    value = _money(actual, currency) if fact in MONEY_FACTS else _plain(actual)
    return f"{inline(fact.replace('_', ' '), 60)} is {value}"


def _reason(value: Any, _currency: str) -> str:
    try:
        label = Reason(str(value)).label.lower()
    except ValueError:
        label = inline(value, 60)
    return f"the reason is “{label}”"


def _days(template: str) -> Callable[[Any, str], str]:
    return lambda value, _currency: template.format(n=_plain(value), s=_s(value))


_WORDS: dict[str, Callable[[Any, str], str]] = {
    "reason": _reason,
    "days_delivery_to_request": _days("the return was asked for {n} day{s} after delivery"),
    "days_since_delivery": _days("the parcel was delivered {n} day{s} ago"),
    "hours_delivery_to_report": lambda v, c: (
        _days("the problem was reported {n} hour{s} after delivery")(v, c)
        if not isinstance(v, int) or v < 72
        else _days("the problem was reported {n} days after delivery")(v // 24, c)
    ),
    "days_since_return_received": _days("the return came back {n} day{s} ago"),
    "prior_returns_90d": _days("the customer made {n} return{s} in the last 90 days"),
    "max_discount_percent": _days("the item was discounted by {n}%"),
    "item_categories": lambda v, _c: f"the items are filed under {_plain(v).replace('_', ' ')}",
    "condition_grade": lambda v, _c: f"the warehouse graded the item {_plain(v)}",
    "has_final_sale_item": lambda v, _c: (
        "an item was final sale" if v else "nothing was final sale"
    ),
    "item_opened": lambda v, _c: "the item was opened" if v else "the item was not opened",
    "tags_attached": lambda v, _c: "the tags are on" if v else "the tags are off",
    "original_packaging": lambda v, _c: (
        "it came back in its packaging" if v else "it came back without its packaging"
    ),
    "customer_tier": lambda v, _c: f"the customer is {_plain(v)}",
    "outbound_status": lambda v, _c: f"the parcel is {_plain(v).replace('_', ' ')}",
    "proof_of_delivery": lambda v, _c: f"the carrier's proof of delivery is {_plain(v)}",
    "return_status": lambda v, _c: f"the return is {_plain(v).replace('_', ' ')}",
    "original_decision": lambda v, _c: f"the return was first {_OUTCOMES.get(str(v), _plain(v))}",
    "return_costs_more_than_item": lambda v, _c: (
        "sending it back costs more than it is worth"
        if v
        else "sending it back costs no more than it is worth"
    ),
    "return_shipping_cost": lambda v, c: f"return postage is {_money(v, c)}",
    "disputed_amount": lambda v, c: f"{_money(v, c)} is in dispute",
    "shipping_total": lambda v, c: f"shipping cost {_money(v, c)}",
}


def _money(value: Any, currency: str) -> str:
    if isinstance(value, str):  # as rules write it in a trace: "12.50"
        return f"{inline(value, 40)} {inline(currency, 10)}"
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    try:
        return f"{format_minor(value, currency)} {inline(currency, 10)}"
    except (MoneyError, ValueError):
        return inline(value, 40)


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return _and([inline(v, 60) for v in value])
    return inline(value, 100)


def _s(value: Any) -> str:
    return "" if value == 1 else "s"


def _and(items: Sequence[str]) -> str:
    return _join(list(items), "and")


def _or(items: Sequence[str]) -> str:
    return _join(list(items), "or") or "nothing"


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
