"""Proposals as a team reads them: numbered within their dispute, sent back only with a
reason, carrying the reason the review went on without evidence, and where the supervisors
were alerted. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.refunds.fake import FakeGateway
from disputes.audit import Actor
from disputes.errors import DisputeError, NotAllowed
from disputes.models import PROPOSABLE
from domain.resolutions import MONEY_KINDS
from storage.db import Database
from tests.support.money import MANAGER, MANAGER2, SUPERVISOR, MoneyWorld
from tests.support.orders import order

ROLES = """
roles:
  supervisor: {users: [U0SUPER], approval_limit: null}
  manager: {users: [U0MANAGER1, U0MANAGER2], approval_limit: "200.00"}
two_person_rule_above: "100.00"
"""


@pytest.fixture
def world(db: Database, tmp_path: Path) -> MoneyWorld:
    gateway = FakeGateway(paid={"pi_3QtestTEST": (129_00, "USD"), "pi_3QtestTWO": (129_00, "USD")})
    second = order(order_id="ORD-T2", payment={"provider": "stripe", "reference": "pi_3QtestTWO"})
    return MoneyWorld(db, gateway, tmp_path, orders=[order(), second], roles=ROLES)


async def test_proposals_are_numbered_within_their_dispute(world: MoneyWorld) -> None:
    first = await world.open("ORD-T1")
    second = await world.open("ORD-T2")
    a1 = await world.propose(first, kind="store_credit")
    await world.request_changes(first, a1)
    b1 = await world.propose(second, kind="store_credit")
    a2 = await world.propose(first, kind="replacement")
    numbers = [
        (await world.resolution.proposal(n, p)).number
        for n, p in ((first, a1), (second, b1), (first, a2))
    ]
    assert numbers == [1, 1, 2]


async def test_changes_are_requested_with_a_reason_kept_and_audited(world: MoneyWorld) -> None:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, kind="store_credit")
    supervisor = Actor.slack_user(SUPERVISOR)
    with pytest.raises(DisputeError, match="Say what should change"):
        await world.resolution.request_changes(number, proposal, supervisor, "   ")
    assert await world.status(number) == "proposed"  # nothing changed
    await world.resolution.request_changes(number, proposal, supervisor, "offer 40.00 instead")
    sent_back = await world.resolution.proposal(number, proposal)
    assert (sent_back.status, sent_back.decision_reason) == (
        "changes_requested",
        "offer 40.00 instead",
    )
    assert sent_back.decided_by == SUPERVISOR and sent_back.decided_at is not None
    reasons = [after.get("reason") for _action, after in await world.audit(number)]
    assert "offer 40.00 instead" in reasons


async def test_asking_first_refuses_a_proposal_already_decided(world: MoneyWorld) -> None:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, kind="store_credit")
    await world.request_changes(number, proposal)
    with pytest.raises(DisputeError, match="already changes requested"):
        await world.resolution.check_request_changes(number, proposal, Actor.slack_user(SUPERVISOR))


async def test_the_override_reason_travels_with_the_proposal(world: MoneyWorld) -> None:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, kind="store_credit", override="photos came by post")
    assert (await world.resolution.proposal(number, proposal)).override_reason == (
        "photos came by post"
    )


async def test_where_the_supervisors_were_alerted_is_kept(world: MoneyWorld) -> None:
    number = await world.open("ORD-T1")
    proposal = await world.propose(number, MANAGER, kind="store_credit")
    await world.resolution.record_alert(proposal, "C0SUPERVISORS", "1700000000.000200")
    kept = await world.resolution.proposal(number, proposal)
    assert (kept.alert_channel, kept.alert_ts) == ("C0SUPERVISORS", "1700000000.000200")


async def test_a_proposal_of_another_dispute_is_not_found(world: MoneyWorld) -> None:
    first = await world.open("ORD-T1")
    second = await world.open("ORD-T2")
    proposal = await world.propose(first, kind="store_credit")
    with pytest.raises(DisputeError, match="has no such proposal"):
        await world.resolution.proposal(second, proposal)


async def test_a_refusal_names_what_requires_a_supervisor(world: MoneyWorld) -> None:
    number = await world.open("ORD-T1")
    allowed = (await world.review(number)).decision.allowed
    outside = next(r for r in PROPOSABLE if r not in allowed and r not in MONEY_KINDS)
    proposal = await world.propose(
        number, MANAGER, kind=outside.value, justification="a loyal customer"
    )
    with pytest.raises(
        NotAllowed, match="Only a supervisor can approve this: it is outside policy"
    ):
        await world.approve(number, proposal, by=MANAGER2)
    assert await world.status(number) == "proposed"
