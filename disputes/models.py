"""Snapshots of disputes and their evidence, safe to hand to presentation code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from disputes.lifecycle import REASON_SWITCHABLE, Status
from disputes.payments import PaymentLedger
from domain.evidence import EvidenceKind
from domain.money import Money
from domain.reasons import Reason
from domain.resolutions import Resolution
from policies.engine import Decision as PolicyDecision
from policies.engine import RuleTrace
from policies.schema import Recommendation
from policies.schema import Rule as PolicyRule
from policies.supervision import SupervisorCause, causes_in_words

# The one list of options (F4), in the order the policy card and the review modal show them:
# every resolution a policy may recommend can be proposed.
PROPOSABLE: tuple[Resolution, ...] = (
    Resolution.FULL_REFUND,
    Resolution.PARTIAL_REFUND,
    Resolution.REPLACEMENT,
    Resolution.STORE_CREDIT,
    Resolution.WAIVE_FEE,
    Resolution.OVERTURN,
    Resolution.UPHOLD,
    Resolution.DENY,
    Resolution.CARRIER_CLAIM,
)

__all__ = [
    "PROPOSABLE",
    "CaseFile",
    "ChecklistEntry",
    "Dispute",
    "EarlierDispute",
    "EvidenceItem",
    "PolicyDecision",
    "PolicyRule",
    "Recommendation",
    "Resolution",
    "RuleTrace",
    "SupervisorCause",
    "UnavailableSource",
    "causes_in_words",
    "dispute_ref",
]


def dispute_ref(number: int) -> str:
    return f"D-{number}"


@dataclass(frozen=True, slots=True)
class Dispute:
    number: int
    order_id: str
    reason: Reason
    claim: str
    status: Status
    customer_id: str | None
    customer_name: str | None
    customer_email: str | None
    currency: str
    order_total_minor: int
    disputed_amount_minor: int | None
    priority: str
    owner_id: str | None
    opened_by: str
    channel_id: str | None
    thread_ts: str | None
    evidence_card_ts: str | None
    policy_card_ts: str | None
    state_times: dict[str, str]
    required_evidence: tuple[EvidenceKind, ...]
    created_at: datetime
    updated_at: datetime
    version: int
    # The service-level clock (`disputes.sla_clock`): the stage whose clock runs, when it is
    # due and its level (ok, warning, breached); no stage once closed or before it was clocked.
    sla_stage: str | None = None
    sla_due_at: datetime | None = None
    sla_level: str = "ok"

    @property
    def ref(self) -> str:
        return dispute_ref(self.number)

    @property
    def reason_can_change(self) -> bool:
        """Whether the reason the policy uses may still be switched (before any proposal)."""
        return self.status in REASON_SWITCHABLE

    @property
    def order_total(self) -> Money:
        return Money(self.order_total_minor, self.currency)

    @property
    def disputed_amount(self) -> Money | None:
        if self.disputed_amount_minor is None:
            return None
        return Money(self.disputed_amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    kind: EvidenceKind
    source: str
    summary: str
    payload: dict[str, Any]
    url: str | None
    captured_at: datetime
    added_by: str


@dataclass(frozen=True, slots=True)
class ChecklistEntry:
    kind: EvidenceKind
    present: bool
    required: bool


@dataclass(frozen=True, slots=True)
class UnavailableSource:
    source: str
    kinds: tuple[EvidenceKind, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class EarlierDispute:
    """Another dispute on the same order: how it ended, and what it refunded."""

    number: int
    status: Status
    resolution: Resolution | None  # the proposal approved for it, if any
    refunded_minor: int
    currency: str

    @property
    def ref(self) -> str:
        return dispute_ref(self.number)

    @property
    def refunded(self) -> Money:
        return Money(self.refunded_minor, self.currency)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a dispute was decided: the proposal approved last, and the money it returned."""

    resolution: Resolution
    proposal_number: int
    amount_minor: int | None
    currency: str
    approved_by: str | None
    approved_at: datetime | None
    refunded_minor: int  # what the provider confirmed for this dispute

    @property
    def amount(self) -> Money | None:
        return None if self.amount_minor is None else Money(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Money:
        return Money(self.refunded_minor, self.currency)


@dataclass(frozen=True, slots=True)
class Note:
    """A person's reply in the dispute's thread, kept as an internal note: never sent to the
    customer. `history` holds its earlier texts, oldest first, each with when it was replaced."""

    author: str  # the Slack user id
    text: str
    posted_at: datetime
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    history: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A dispute with everything gathered for it, and the money already moved on its order."""

    dispute: Dispute
    evidence: list[EvidenceItem] = field(default_factory=list)
    checklist: list[ChecklistEntry] = field(default_factory=list)
    unavailable: list[UnavailableSource] = field(default_factory=list)
    ledger: PaymentLedger | None = None
    earlier: list[EarlierDispute] = field(default_factory=list)
    outcome: Outcome | None = None
    note_count: int = 0  # the thread's notes not deleted
    notes: list[Note] = field(default_factory=list)  # the latest of them, newest first

    def items(self, kind: EvidenceKind) -> list[EvidenceItem]:
        return [item for item in self.evidence if item.kind == kind]

    def first(self, kind: EvidenceKind) -> EvidenceItem | None:
        found = self.items(kind)
        return found[0] if found else None

    @property
    def missing_required(self) -> list[EvidenceKind]:
        return [entry.kind for entry in self.checklist if entry.required and not entry.present]
