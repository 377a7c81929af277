"""A dispute snapshot for tests of what is shown: fixed facts, any of them changed by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from disputes.lifecycle import Status
from disputes.models import Dispute
from domain.evidence import EvidenceKind
from domain.reasons import Reason

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def make_dispute(**changes: object) -> Dispute:
    """D-7 on ORD-1001, damaged, new, in the disputes channel's thread, with `changes`."""
    base = Dispute(
        number=7,
        order_id="ORD-1001",
        reason=Reason.DAMAGED,
        claim="the box was crushed",
        status=Status.NEW,
        customer_id="C1",
        customer_name="Maya Thompson",
        customer_email="m@example.com",
        currency="USD",
        order_total_minor=12900,
        disputed_amount_minor=9400,
        priority="normal",
        owner_id=None,
        opened_by="U0MANAGER1",
        channel_id="C0DISPUTES",
        thread_ts="1.000100",
        evidence_card_ts=None,
        policy_card_ts=None,
        state_times={"new": NOW.isoformat()},
        required_evidence=(EvidenceKind.ORDER_DETAILS,),
        created_at=NOW,
        updated_at=NOW,
        version=1,
    )
    return replace(base, **changes)
