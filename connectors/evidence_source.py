"""The protocol every evidence source implements."""

from __future__ import annotations

from typing import Protocol

from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order


class EvidenceSource(Protocol):
    """Produces the evidence of some kinds for an order; may be slow or fail."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> tuple[EvidenceKind, ...]:
        """The kinds this source can produce (read-only: a source's kinds are fixed)."""
        ...

    async def collect(self, order: Order) -> list[EvidenceDraft]: ...
