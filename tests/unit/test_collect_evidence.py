"""Evidence sources are asked at once; a slow or failing one never blocks or loses the rest."""

from __future__ import annotations

import asyncio

import pytest

from connectors.orders.evidence_sources import default_evidence_sources
from disputes.evidence_gathering import checklist, collect_evidence, required_kinds
from domain.evidence import EvidenceKind
from domain.reasons import Reason
from tests.support.orders import SlowSource, order


class BarrierSource:
    """Finishes only once all its siblings have started: sequential collection would time out."""

    def __init__(self, name: str, barrier: asyncio.Barrier) -> None:
        self.name, self.kinds, self.barrier = name, (EvidenceKind.CUSTOMER_COMMUNICATION,), barrier

    async def collect(self, order):  # type: ignore[no-untyped-def]
        await self.barrier.wait()
        return await SlowSource(self.name, self.kinds[0], 0).collect(order)


async def test_sources_run_concurrently_not_one_after_another() -> None:
    barrier = asyncio.Barrier(3)
    sources = [BarrierSource(f"s{n}", barrier) for n in range(3)]
    collection = await collect_evidence(order(), sources, per_source_timeout=5)
    assert sorted(draft.source for draft in collection.drafts) == ["s0", "s1", "s2"]
    assert collection.unavailable == []


async def test_a_slow_source_times_out_and_only_its_kinds_are_missing() -> None:
    sources = [
        *default_evidence_sources(),
        SlowSource("carrier-api", EvidenceKind.RETURN_TRACKING_INFORMATION, 10),
    ]
    collection = await collect_evidence(order(), sources, per_source_timeout=0.2)
    kinds = {draft.kind for draft in collection.drafts}
    assert EvidenceKind.ORDER_DETAILS in kinds and EvidenceKind.CONDITION_REPORT in kinds
    assert [(u.source, u.reason) for u in collection.unavailable] == [("carrier-api", "timed out")]


async def test_a_failing_source_is_reported_with_its_reason() -> None:
    sources = [
        SlowSource("warehouse", EvidenceKind.CONDITION_REPORT, 0, fail=True),
        SlowSource("helpdesk", EvidenceKind.CUSTOMER_COMMUNICATION, 0),
    ]
    collection = await collect_evidence(order(), sources, per_source_timeout=1)
    assert [draft.source for draft in collection.drafts] == ["helpdesk"]
    (failure,) = collection.unavailable
    assert failure.kinds == (EvidenceKind.CONDITION_REPORT,)
    assert "refused the connection" in failure.reason


def test_required_kinds_depend_on_reason_and_receipt() -> None:
    damaged = required_kinds(Reason.DAMAGED, return_received=True)
    assert {EvidenceKind.PROOF_OF_DAMAGE, EvidenceKind.CONDITION_REPORT} <= damaged
    unwanted = required_kinds(Reason.UNWANTED, return_received=False)
    assert EvidenceKind.PROOF_OF_DAMAGE not in unwanted
    assert EvidenceKind.CONDITION_REPORT not in unwanted


def test_checklist_marks_present_required_and_optional() -> None:
    entries = checklist(
        {EvidenceKind.ORDER_DETAILS}, {EvidenceKind.ORDER_DETAILS, EvidenceKind.PAYMENT_RECORD}
    )
    by_kind = {entry.kind: entry for entry in entries}
    assert len(entries) == len(EvidenceKind)
    assert by_kind[EvidenceKind.ORDER_DETAILS].present
    assert by_kind[EvidenceKind.PAYMENT_RECORD].required
    assert not by_kind[EvidenceKind.PAYMENT_RECORD].present
    assert not by_kind[EvidenceKind.CUSTOMER_COMMUNICATION].required


@pytest.mark.parametrize("received", [True, False])
def test_a_refund_not_received_needs_the_money_trail_not_the_goods(received: bool) -> None:
    required = required_kinds(Reason.REFUND_NOT_RECEIVED, return_received=received)
    assert required == {
        EvidenceKind.ORDER_DETAILS,
        EvidenceKind.PAYMENT_RECORD,
        EvidenceKind.RETURN_REQUEST,
    }


def test_other_reasons_still_need_proof_of_fulfillment() -> None:
    for reason in set(Reason) - {Reason.REFUND_NOT_RECEIVED}:
        assert EvidenceKind.PROOF_OF_FULFILLMENT in required_kinds(reason, return_received=False)
