"""Evaluate every rule of a pack against a dispute's facts and combine them into a Decision.

Matched rules rank by priority, then specificity (leaf count), then id. The top rule with a
recommendation recommends (the strictest among rules tied with it); allowed options are the
intersection of the matched rules' (the top restricting rule's when that is empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from domain.evidence import EvidenceKind
from domain.resolutions import Resolution
from policies.conditions import Facts, LeafCheck, Predicate, Traced, compile_condition
from policies.facts import FACTS, FactType
from policies.schema import ROLES, STRICTNESS, STRICTNESS_RANK, Approval, Recommendation, Rule
from policies.supervision import (
    RuleApproval,
    RuleName,
    SupervisorCause,
    recommended_amount,
    supervisor_causes,
)
from policies.traces import RuleTrace, StoredTrace

if TYPE_CHECKING:
    from policies.loader import LoadedPack

ALL_RESOLUTIONS = (1 << len(STRICTNESS)) - 1
_KINDS = tuple(EvidenceKind)
_NO_RECOMMENDATION = len(STRICTNESS)


@dataclass(frozen=True, slots=True)
class MatchedRule:
    id: str
    title: str
    citation: str
    text: str
    priority: int


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its condition compiled and its outcome reduced to masks, ready to combine."""

    rule: Rule
    test: Predicate
    trace: Traced
    specificity: int
    summary: MatchedRule
    strictness: int  # rank of its recommendation; len(STRICTNESS) when it recommends nothing
    allowed_mask: int | None  # None: the rule does not restrict the options
    evidence_mask: int
    fee: int | None
    approval: Approval | None
    rank: tuple[int, int]  # (priority, specificity): rules tied on it break ties by strictness

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (-self.rule.priority, -self.specificity, self.rule.id)


def compile_rule(rule: Rule) -> CompiledRule:
    """Compile a rule that passed lint."""
    compiled = compile_condition(rule.when)
    outcome = rule.outcome
    recommend = outcome.recommend
    allowed = outcome.allowed
    return CompiledRule(
        rule=rule,
        test=compiled.test,
        trace=compiled.trace,
        specificity=compiled.leaf_count,
        summary=MatchedRule(rule.id, rule.title, rule.citation, rule.text, rule.priority),
        strictness=STRICTNESS_RANK[recommend.resolution] if recommend else _NO_RECOMMENDATION,
        allowed_mask=None if allowed is None else _mask(STRICTNESS_RANK[r] for r in allowed),
        evidence_mask=_mask(_KINDS.index(kind) for kind in rule.requires_evidence),
        fee=outcome.restocking_fee_percent,
        approval=outcome.approval,
        rank=(rule.priority, compiled.leaf_count),
    )


def _mask(bits: Any) -> int:
    mask = 0
    for bit in bits:
        mask |= 1 << bit
    return mask


@cache
def _resolutions(mask: int) -> tuple[Resolution, ...]:
    return tuple(r for i, r in enumerate(STRICTNESS) if mask >> i & 1)


@cache
def _kinds(mask: int) -> tuple[EvidenceKind, ...]:
    return tuple(k for i, k in enumerate(_KINDS) if mask >> i & 1)


@dataclass(frozen=True)
class Decision:
    """What the pack says about one dispute, and under which pack it was said."""

    matched: list[MatchedRule]
    recommended: Recommendation | None
    allowed: list[Resolution]
    refused: list[Resolution]
    required_evidence: list[EvidenceKind]
    missing_evidence: list[EvidenceKind]
    restocking_fee_percent: int | None
    approval: Approval
    needs_supervisor: bool
    trace: Sequence[RuleTrace]  # a list when evaluated, a `StoredTrace` when read back
    pack_name: str
    pack_version: str
    pack_hash: str
    # The facts the pack was evaluated on (JSON-ready once read back from storage).
    facts: dict[str, Any] = field(default_factory=dict)
    recommended_by: str | None = None  # the id of the rule whose recommendation stands
    approvals: list[RuleApproval] = field(default_factory=list)  # each matched rule's say
    # Why a supervisor must approve the recommendation; empty exactly when none must.
    supervisor_causes: list[SupervisorCause] = field(default_factory=list)

    def supervisor_causes_for(
        self,
        resolution: Resolution,
        amount_minor: int | None,
        *,
        currency: str | None = None,
        order_total_minor: int | None = None,
    ) -> list[SupervisorCause]:
        """Why a supervisor must approve this option for this refund amount (None: the option
        moves no refund); empty when a manager may. An option outside policy is not checked
        here. The order's currency and total, when given, stand in for the stored facts."""
        approvals = self.approvals
        if not approvals and self.approval != _NO_APPROVAL:
            approvals = [RuleApproval("", self.approval)]  # stored before causes were
        names = {rule.id: RuleName(rule.title, rule.citation) for rule in self.matched}
        facts = dict(self.facts)
        if currency is not None:
            facts["currency"] = currency
        if order_total_minor is not None:
            facts["order_total"] = order_total_minor
        return supervisor_causes(approvals, names, facts, resolution, amount_minor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for storing with the dispute; `from_dict` reads it back."""
        return {
            "pack_name": self.pack_name,
            "pack_version": self.pack_version,
            "pack_hash": self.pack_hash,
            "facts": {name: _json_fact(value) for name, value in self.facts.items()},
            "recommended_by": self.recommended_by,
            "approvals": [
                {"rule_id": a.rule_id, "approval": a.approval.model_dump(mode="json")}
                for a in self.approvals
            ],
            "supervisor_causes": [cause.to_dict() for cause in self.supervisor_causes],
            "matched": [asdict(rule) for rule in self.matched],
            "recommended": self.recommended.model_dump(mode="json", exclude_none=True)
            if self.recommended
            else None,
            "allowed": [r.value for r in self.allowed],
            "refused": [r.value for r in self.refused],
            "required_evidence": [k.value for k in self.required_evidence],
            "missing_evidence": [k.value for k in self.missing_evidence],
            "restocking_fee_percent": self.restocking_fee_percent,
            "approval": self.approval.model_dump(mode="json"),
            "needs_supervisor": self.needs_supervisor,
            "trace": [
                {"id": t.id, "matched": t.matched, "checks": [c._asdict() for c in t.checks]}
                for t in self.trace
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        recommended = data["recommended"]
        return cls(
            matched=[MatchedRule(**rule) for rule in data["matched"]],
            recommended=Recommendation.model_validate(recommended) if recommended else None,
            allowed=[Resolution(r) for r in data["allowed"]],
            refused=[Resolution(r) for r in data["refused"]],
            required_evidence=[EvidenceKind(k) for k in data["required_evidence"]],
            missing_evidence=[EvidenceKind(k) for k in data["missing_evidence"]],
            restocking_fee_percent=data["restocking_fee_percent"],
            approval=Approval.model_validate(data["approval"]),
            needs_supervisor=data["needs_supervisor"],
            trace=StoredTrace(data["trace"]),
            pack_name=data["pack_name"],
            pack_version=data["pack_version"],
            pack_hash=data["pack_hash"],
            # Decisions stored before these fields existed read back without them.
            facts=_facts_from_json(data.get("facts") or {}),
            recommended_by=data.get("recommended_by"),
            approvals=[
                RuleApproval(a["rule_id"], Approval.model_validate(a["approval"]))
                for a in data.get("approvals") or ()
            ],
            supervisor_causes=[SupervisorCause(**c) for c in data.get("supervisor_causes") or ()],
        )


def _facts_from_json(data: dict[str, Any]) -> dict[str, Any]:
    facts = dict(data)
    for name, value in data.items():
        spec = FACTS.get(name)
        if spec is not None and spec.type is FactType.DATE and isinstance(value, str):
            facts[name] = datetime.fromisoformat(value)
    return facts


def _json_fact(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return value


def evaluate(pack: LoadedPack, facts: Facts, *, as_of: datetime, trace: bool = True) -> Decision:
    """Evaluate every rule of `pack` on `facts` (absent = unknown) as of an aware datetime."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    traces: list[RuleTrace] = []
    if trace:
        matched = []
        for rule in pack.rules:
            checks: list[LeafCheck] = []
            ok = rule.trace(facts, as_of, checks)
            traces.append(RuleTrace(rule.rule.id, ok, checks))
            if ok:
                matched.append(rule)
    else:
        matched = [rule for rule in pack.rules if rule.test(facts, as_of)]
    return _decide(pack, matched, facts, traces)


def _decide(
    pack: LoadedPack, matched: list[CompiledRule], facts: Facts, traces: list[RuleTrace]
) -> Decision:
    allowed = _allowed_mask(matched)
    evidence = 0
    fees = []
    approvals = []
    for rule in matched:
        evidence |= rule.evidence_mask
        if rule.fee is not None:
            fees.append(rule.fee)
        if rule.approval is not None:
            approvals.append(RuleApproval(rule.rule.id, rule.approval))
    required = _kinds(evidence)
    present = facts.get("evidence_present") or ()
    approval = combine_approvals([a.approval for a in approvals])
    recommending = _recommending(matched)
    recommended = recommending.rule.outcome.recommend if recommending else None
    fee = max(fees) if fees else None
    summaries = [rule.summary for rule in matched]
    causes = (
        supervisor_causes(
            approvals,
            {s.id: RuleName(s.title, s.citation) for s in summaries},
            facts,
            recommended.resolution if recommended else None,
            recommended_amount(recommended, facts, fee),
        )
        if approvals
        else []
    )
    return _new_decision(
        matched=summaries,
        recommended=recommended,
        allowed=list(_resolutions(allowed)),
        refused=list(_resolutions(ALL_RESOLUTIONS & ~allowed)),
        required_evidence=list(required),
        missing_evidence=[kind for kind in required if kind not in present],
        restocking_fee_percent=fee,
        approval=approval,
        needs_supervisor=bool(causes),
        trace=traces,
        pack_name=pack.pack.pack,
        pack_version=pack.pack.version,
        pack_hash=pack.content_hash,
        facts=facts,
        recommended_by=recommending.rule.id if recommending else None,
        approvals=approvals,
        supervisor_causes=causes,
    )


def _new_decision(**fields: Any) -> Decision:
    # The frozen dataclass __init__ sets its 17 fields one object.__setattr__ at a time, a
    # fifth of an evaluation; on this hot path the fields go into __dict__ at once.
    decision = object.__new__(Decision)
    decision.__dict__.update(fields)
    return decision


def _recommending(matched: list[CompiledRule]) -> CompiledRule | None:
    """The rule whose recommendation stands."""
    best: CompiledRule | None = None
    for rule in matched:
        if rule.strictness == _NO_RECOMMENDATION:
            continue
        if best is None:
            best = rule
        elif rule.rank != best.rank:
            break
        elif rule.strictness < best.strictness:
            best = rule
    return best


def _allowed_mask(matched: list[CompiledRule]) -> int:
    masks = [rule.allowed_mask for rule in matched if rule.allowed_mask is not None]
    allowed = ALL_RESOLUTIONS
    for mask in masks:
        allowed &= mask
    # Rules that cannot all be satisfied: the top restricting rule's options stand.
    return (allowed or masks[0]) if masks else ALL_RESOLUTIONS


_NO_APPROVAL = Approval()


def combine_approvals(approvals: list[Approval]) -> Approval:
    """The strictest of each: any `supervisor`, the highest role, the lowest thresholds."""
    if not approvals:
        return _NO_APPROVAL
    if len(approvals) == 1:
        return approvals[0]
    return _combined(tuple(approvals))


@lru_cache(maxsize=1024)
def _combined(approvals: tuple[Approval, ...]) -> Approval:
    # Cached: a pack has few distinct combinations, and building a model costs microseconds.
    amounts = [a.supervisor_above for a in approvals if a.supervisor_above is not None]
    percents = [
        a.supervisor_above_percent for a in approvals if a.supervisor_above_percent is not None
    ]
    options = {r for a in approvals for r in a.supervisor_for}
    return Approval(
        role=max((a.role for a in approvals), key=ROLES.index),
        supervisor=any(a.supervisor for a in approvals),
        supervisor_above=min(amounts, key=Decimal) if amounts else None,
        supervisor_above_percent=min(percents) if percents else None,
        supervisor_for=tuple(r for r in STRICTNESS if r in options),
    )
