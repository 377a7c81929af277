"""What the provider's refunds on a payment say about one of our requests.

A refund is taken as ours only when its request id, amount and currency are the ones we asked
for; one carrying our request id with another amount or currency is a mismatch for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from connectors.refunds.protocol import RefundOrder, RefundResult, RefundStatus


class Found(Enum):
    NONE = auto()  # the provider holds nothing for this request
    SUCCEEDED = auto()  # exactly one refund, done
    PENDING = auto()  # exactly one refund, on its way
    DUPLICATE = auto()  # two or more refunds for one request: money moved more than once
    REFUSED = auto()  # the provider's refund for it failed or was canceled: no money moved
    MISMATCH = auto()  # a refund carries our request id but not our amount or currency


@dataclass(frozen=True, slots=True)
class Lookup:
    kind: Found
    refunds: tuple[RefundResult, ...] = ()

    @property
    def ids(self) -> list[str]:
        return [r.provider_refund_id for r in self.refunds]

    @property
    def failure_reason(self) -> str | None:
        return next((r.failure_reason for r in self.refunds if r.failure_reason), None)


def classify(order: RefundOrder, refunds: list[RefundResult]) -> Lookup:
    ours = [r for r in refunds if r.request_id == order.request_id]
    # Whatever became of it (canceled later included), a refund under our id that is not what
    # we asked for means something else acted in our name: a person looks before anything more.
    strangers = [r for r in ours if not r.matches(order)]
    if strangers:
        return Lookup(Found.MISMATCH, tuple(strangers))
    holding = [r for r in ours if r.matches(order) and r.status.holds_money]
    if len(holding) > 1:
        return Lookup(Found.DUPLICATE, tuple(holding))
    if holding:
        done = holding[0].status == RefundStatus.SUCCEEDED
        return Lookup(Found.SUCCEEDED if done else Found.PENDING, tuple(holding))
    ended = [r for r in ours if r.matches(order)]
    if ended:
        return Lookup(Found.REFUSED, tuple(ended))
    return Lookup(Found.NONE)
