"""The protocol every evidence source implements."""

from __future__ import annotations

from typing import Protocol

from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order


class EvidenceSource(Protocol):
    """Produces the evidence of some kinds for an order; may be slow or fail."""

    name: str
    kinds: tuple[EvidenceKind, ...]

    async def collect(self, order: Order) -> list[EvidenceDraft]: ...
