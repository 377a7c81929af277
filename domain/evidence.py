"""What a case file is made of: the kinds of evidence, and one piece as a source produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_EVIDENCE_FILES = 10  # the most files added at once: a file_input's limit, and a message's


class EvidenceKind(StrEnum):
    """PayPal-style evidence names; the order they are listed in is the card's order."""

    ORDER_DETAILS = "ORDER_DETAILS"
    PAYMENT_RECORD = "PAYMENT_RECORD"
    PROOF_OF_FULFILLMENT = "PROOF_OF_FULFILLMENT"
    RETURN_REQUEST = "RETURN_REQUEST"
    RETURN_TRACKING_INFORMATION = "RETURN_TRACKING_INFORMATION"
    CONDITION_REPORT = "CONDITION_REPORT"
    PROOF_OF_DAMAGE = "PROOF_OF_DAMAGE"
    CUSTOMER_COMMUNICATION = "CUSTOMER_COMMUNICATION"
    ATTACHMENT = "ATTACHMENT"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    EvidenceKind.ORDER_DETAILS: "Order",
    EvidenceKind.PAYMENT_RECORD: "Payment",
    EvidenceKind.PROOF_OF_FULFILLMENT: "Outbound shipment",
    EvidenceKind.RETURN_REQUEST: "Return request",
    EvidenceKind.RETURN_TRACKING_INFORMATION: "Return tracking",
    EvidenceKind.CONDITION_REPORT: "Condition report",
    EvidenceKind.PROOF_OF_DAMAGE: "Photos",
    EvidenceKind.CUSTOMER_COMMUNICATION: "Correspondence",
    EvidenceKind.ATTACHMENT: "Files",
}


@dataclass(frozen=True, slots=True)
class EvidenceDraft:
    """One piece of evidence as a source produced it, before it is stored."""

    kind: EvidenceKind
    source: str
    summary: str
    payload: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    captured_at: datetime | None = None
