"""The facts a customer message template is rendered with, read from the dispute.

A fact the dispute lacks is left out, never set to a blank: the templates' strict undefined then
names it, and nothing is sent with a hole in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from disputes.models import dispute_ref
from domain.money import Money, format_minor
from domain.reasons import Reason
from domain.resolutions import Resolution
from policies.engine import Decision, MatchedRule
from storage.tables import DisputeRow, ProposalRow

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}


def amount_text(money: Money) -> str:
    """Money as a customer reads it: "$45.00", "€12.50", "1,200.00 SEK"."""
    digits = format_minor(money.minor, money.currency)
    whole, _, cents = digits.partition(".")
    grouped = f"{int(whole):,}" + (f".{cents}" if cents else "")
    symbol = SYMBOLS.get(money.currency)
    return f"{symbol}{grouped}" if symbol else f"{grouped} {money.currency}"


def day_text(moment: datetime) -> str:
    """A date as a customer reads it: "15 December 2026"."""
    return f"{moment.day} {moment:%B %Y}"


def cited_rule(decision: Decision | None, kind: Resolution | None) -> MatchedRule | None:
    """The rule a message cites: the one recommending the chosen option, else the top one."""
    if decision is None or not decision.matched:
        return None
    recommended = decision.recommended
    if kind is not None and recommended is not None and recommended.resolution == kind:
        for rule in decision.matched:
            if rule.id == decision.recommended_by:
                return rule
    return decision.matched[0]


def rule_facts(rule: MatchedRule) -> dict[str, str]:
    return {"id": rule.id, "citation": rule.citation, "title": rule.title, "text": rule.text}


def dispute_facts(
    row: DisputeRow,
    *,
    decision: Decision | None,
    proposal: ProposalRow | None,
    team: str,
    rule_id: str | None = None,
) -> dict[str, Any]:
    """Everything a template may use that the dispute has; `rule_id` picks the cited rule (a
    pack notice cites its own rule)."""
    facts: dict[str, Any] = {
        "dispute_ref": dispute_ref(row.number),
        "order_id": row.order_id,
        "team": team,
    }
    if row.customer_name:
        facts["customer_name"] = row.customer_name
    if row.reason in Reason.__members__:
        facts["reason"] = Reason(row.reason).label
    if row.claim:
        facts["claim"] = row.claim
    kind = Resolution(proposal.kind) if proposal is not None else None
    if proposal is not None and kind is not None:
        facts["resolution"] = kind.value
        facts["resolution_label"] = kind.label
        if proposal.amount_minor is not None:
            facts["amount"] = amount_text(Money(proposal.amount_minor, proposal.currency))
    rule = None
    if decision is not None:
        if rule_id is not None:
            rule = next((r for r in decision.matched if r.id == rule_id), None)
        else:
            rule = cited_rule(decision, kind)
        if decision.missing_evidence:
            facts["missing_evidence"] = [
                k.value.replace("_", " ").lower() for k in decision.missing_evidence
            ]
    if rule is not None:
        facts["rule"] = rule_facts(rule)
    return facts
