"""Gathering evidence concurrently, and the checklist of what a dispute needs."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connectors.evidence_source import EvidenceSource
from disputes.audit import canonical_json
from disputes.models import ChecklistEntry, UnavailableSource
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order
from domain.reasons import Reason

log = logging.getLogger(__name__)

ALWAYS_REQUIRED = (
    EvidenceKind.ORDER_DETAILS,
    EvidenceKind.PAYMENT_RECORD,
    EvidenceKind.PROOF_OF_FULFILLMENT,
    EvidenceKind.RETURN_REQUEST,
)
PHOTO_REASONS = frozenset({Reason.DAMAGED, Reason.DEFECTIVE, Reason.NOT_AS_DESCRIBED})


@dataclass(slots=True)
class EvidenceCollection:
    drafts: list[EvidenceDraft] = field(default_factory=list)
    unavailable: list[UnavailableSource] = field(default_factory=list)


async def collect_evidence(
    order: Order, sources: Sequence[EvidenceSource], *, per_source_timeout: float
) -> EvidenceCollection:
    """Ask every source at once; a slow or failing one only marks its kinds unavailable."""

    async def one(source: EvidenceSource) -> list[EvidenceDraft]:
        async with asyncio.timeout(per_source_timeout):
            return await source.collect(order)

    results = await asyncio.gather(*(one(source) for source in sources), return_exceptions=True)
    collection = EvidenceCollection()
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            reason = "timed out" if isinstance(result, TimeoutError) else _describe(result)
            log.warning("evidence source %s failed for %s: %s", source.name, order.order_id, reason)
            collection.unavailable.append(UnavailableSource(source.name, source.kinds, reason))
        else:
            collection.drafts.extend(result)
    return collection


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def required_kinds(reason: Reason, *, return_received: bool) -> set[EvidenceKind]:
    """What a manager needs before review, until the policy engine says more."""
    if reason is Reason.REFUND_NOT_RECEIVED:
        # Traced through the money, not the goods: the order, the payment and the decision
        # that says it was refunded.
        return {
            EvidenceKind.ORDER_DETAILS,
            EvidenceKind.PAYMENT_RECORD,
            EvidenceKind.RETURN_REQUEST,
        }
    required = set(ALWAYS_REQUIRED)
    if return_received:
        required.add(EvidenceKind.CONDITION_REPORT)
    if reason in PHOTO_REASONS:
        required.add(EvidenceKind.PROOF_OF_DAMAGE)
    return required


def checklist(present: Iterable[EvidenceKind], required: set[EvidenceKind]) -> list[ChecklistEntry]:
    have = set(present)
    return [ChecklistEntry(kind, kind in have, kind in required) for kind in EvidenceKind]


def content_hash(draft: EvidenceDraft) -> str:
    body = {"kind": draft.kind.value, "payload": draft.payload, "url": draft.url}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()
