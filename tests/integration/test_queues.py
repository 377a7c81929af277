"""Queues on SQLite and PostgreSQL, read from a hand-built set of disputes: each queue's filter
and order, its paging, the approvals a person may give under the roles file, and the team's
stuck disputes and load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import default_policy_pack
from disputes.audit import Actor
from disputes.errors import NotAllowed
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.queues import QueuePage, QueueService, StuckCount, Workload
from disputes.resolution import ResolutionService
from disputes.roles import CurrentRoles
from policies.current import CurrentPack
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import DisputeRow, ProposalRow

SUP, MAN, MAN2, AGE, AGE2 = "U0SUP", "U0MAN", "U0MAN2", "U0AGE", "U0AGE2"
ROLES = """
roles:
  supervisor: {users: [U0SUP], approval_limit: null}
  manager: {users: [U0MAN, U0MAN2], approval_limit: "200.00"}
  agent: {users: [U0AGE, U0AGE2], approval_limit: "0"}
two_person_rule_above: "100.00"
"""
NOW = datetime.now(UTC).replace(microsecond=0)
STAGE = {"in_review": "in_review", "proposed": "awaiting_approval", "new": "first_response"}

# number: (owner, status, priority, due in minutes (None: no clock), level)
DISPUTES: dict[int, tuple[str | None, str, str, int | None, str]] = {
    1: (AGE, "in_review", "normal", 120, "ok"),
    2: (AGE, "in_review", "high", -30, "breached"),
    3: (AGE, "new", "normal", None, "ok"),
    4: (AGE, "resolved", "normal", -300, "breached"),  # closed: in no queue
    5: (AGE2, "in_review", "normal", 60, "warning"),
    6: (None, "new", "normal", 10, "ok"),
    7: (None, "new", "urgent", 300, "ok"),
    8: (None, "new", "high", 60, "ok"),
    9: (None, "new", "urgent", 60, "ok"),
    10: (None, "withdrawn", "urgent", 1, "ok"),  # closed
    11: (MAN, "proposed", "normal", 30, "warning"),
    12: (AGE2, "proposed", "normal", 40, "ok"),
    13: (AGE2, "proposed", "normal", 50, "ok"),
    14: (AGE2, "proposed", "high", 20, "ok"),
    15: (AGE2, "proposed", "normal", 70, "ok"),
    16: (AGE2, "in_review", "normal", 80, "ok"),
    17: (None, "new", "normal", -120, "breached"),
}
# dispute: (proposed by, amount in cents, needs a supervisor, status)
PROPOSALS = {
    11: (AGE, 5000, False, "open"),
    12: (MAN, 15000, False, "open"),  # his own, over the two-person threshold
    13: (MAN, 5000, False, "open"),  # his own, under it
    14: (AGE, 30000, False, "open"),  # over the manager's limit
    15: (AGE, 2000, True, "open"),  # a supervisor must approve it
    16: (AGE, 2000, False, "changes_requested"),
}


async def build(db: Database) -> None:
    async with db.transaction() as session:
        for number, (owner, status, priority, due, level) in DISPUTES.items():
            closed = status in ("resolved", "withdrawn")
            row = DisputeRow(
                number=number,
                order_id=f"ORD-Q{number}",
                active_order_key=None if closed else f"ORD-Q{number}",
                reason="DAMAGED",
                claim="",
                currency="USD",
                order_total_minor=50000,
                priority=priority,
                owner_id=owner,
                opened_by=MAN,
                status=status,
                state_times={},
                required_evidence=[],
                channel_id="C0DISPUTES",
                thread_ts=f"{1000 + number}.000100",
                created_at=NOW - timedelta(days=1),
                updated_at=NOW,
                sla_stage=None if closed else STAGE[status],
                sla_due_at=None if due is None else NOW + timedelta(minutes=due),
                sla_level=level,
            )
            session.add(row)
            await session.flush()
            if number in PROPOSALS:
                by, amount, supervisor, state = PROPOSALS[number]
                session.add(
                    ProposalRow(
                        dispute_id=row.id,
                        kind="partial_refund",
                        amount_minor=amount,
                        currency="USD",
                        proposed_by=by,
                        proposed_at=NOW,
                        status=state,
                        needs_supervisor=supervisor,
                        number=1,
                    )
                )


def service(db: Database, folder: Path, sla: SlaPolicy | None = None) -> QueueService:
    path = folder / "roles.yml"
    path.write_text(ROLES)
    roles = CurrentRoles(path)
    gate = Gate(db, roles)
    policy = PolicyService(db, CurrentPack(default_policy_pack()))
    resolution = ResolutionService(db, policy, roles, gateway_name=None, gate=gate)
    return QueueService(db, roles, resolution, gate=gate, sla=sla)


def numbers(page: QueuePage) -> list[int]:
    return [item.dispute.number for item in page.items]


def person(user_id: str) -> Actor:
    return Actor.slack_user(user_id)


async def test_my_queue_is_mine_and_open_nearest_breach_first(db: Database, tmp_path: Path) -> None:
    await build(db)
    queues = service(db, tmp_path)
    page = await queues.mine(AGE, limit=10)
    assert numbers(page) == [2, 1, 3] and page.total == 3  # no clock: last; closed: never
    first, rest = await queues.mine(AGE, limit=2), await queues.mine(AGE, limit=2, offset=2)
    assert (numbers(first), first.has_next, first.has_previous) == ([2, 1], True, False)
    assert (numbers(rest), rest.total, rest.has_next, rest.has_previous) == ([3], 3, False, True)
    beyond = await queues.mine(AGE, limit=2, offset=10)
    assert (numbers(beyond), beyond.total) == ([], 3)
    item = page.items[0]
    assert (item.stage, item.level, item.due_at) == (
        "in_review",
        "breached",
        NOW - timedelta(minutes=30),
    )
    assert numbers(await queues.mine(SUP, limit=10)) == []
    with pytest.raises(ValueError):
        await queues.mine(AGE, limit=0)
    with pytest.raises(ValueError):
        await queues.mine(AGE, limit=101)


async def test_unassigned_highest_priority_first_then_nearest_due(
    db: Database, tmp_path: Path
) -> None:
    await build(db)
    page = await service(db, tmp_path).unassigned(limit=10)
    assert numbers(page) == [9, 7, 8, 17, 6] and page.total == 5
    second = await service(db, tmp_path).unassigned(limit=2, offset=2)
    assert numbers(second) == [8, 17]
    # The SLA file's priorities rank them when it is loaded; a name it lacks ranks last.
    text = (Path(__file__).parents[2] / "policies/sla/default.yml").read_text()
    (tmp_path / "sla.yml").write_text(text.replace("urgent", "critical"))
    sla = SlaPolicy.load(tmp_path / "sla.yml")
    ranked = await service(db, tmp_path, sla).unassigned(limit=10)
    assert numbers(ranked) == [8, 17, 6, 9, 7]


async def test_stuck_breached_first_then_nearest_due(db: Database, tmp_path: Path) -> None:
    await build(db)
    queues = service(db, tmp_path)
    page = await queues.stuck(limit=10)
    assert numbers(page) == [17, 2, 11, 5] and page.total == 4
    assert [item.level for item in page.items] == ["breached", "breached", "warning", "warning"]
    assert numbers(await queues.stuck(limit=3, offset=1)) == [2, 11, 5]


async def test_approvals_follow_roles_limits_and_the_two_person_rule(
    db: Database, tmp_path: Path
) -> None:
    await build(db)
    queues = service(db, tmp_path)
    manager = await queues.approvals(person(MAN), limit=10)
    # Not his own above 100.00 (12), not over his 200.00 (14), not a supervisor's (15).
    assert numbers(manager) == [11, 13] and manager.total == 2 and manager.exact
    proposal = manager.items[0].proposal
    assert proposal is not None
    assert (proposal.proposed_by, proposal.amount_minor, proposal.kind.value) == (
        AGE,
        5000,
        "partial_refund",
    )
    supervisor = await queues.approvals(person(SUP), limit=10)
    assert numbers(supervisor) == [14, 11, 12, 13, 15]
    assert numbers(await queues.approvals(person(SUP), limit=2, offset=1)) == [11, 12]
    other = await queues.approvals(person(MAN2), limit=10)
    assert numbers(other) == [11, 12, 13]  # someone else's proposals: within his limit
    assert (await queues.approvals(person(AGE), limit=10)).total == 0  # a limit of 0
    assert (await queues.approvals(person("U0NOBODY"), limit=10)).total == 0


async def test_team_counts_stuck_by_stage_and_owner_and_each_load(
    db: Database, tmp_path: Path
) -> None:
    await build(db)
    queues = service(db, tmp_path)
    team = await queues.team()
    assert set(team.stuck) == {
        StuckCount("first_response", None, 0, 1),
        StuckCount("in_review", AGE, 0, 1),
        StuckCount("in_review", AGE2, 1, 0),
        StuckCount("awaiting_approval", MAN, 1, 0),
    }
    assert team.by_stage() == [
        ("in_review", 1, 1),
        ("first_response", 0, 1),
        ("awaiting_approval", 1, 0),
    ]
    assert team.by_owner()[:2] == [(AGE, 0, 1), (None, 0, 1)]
    workload = {w.owner: w for w in team.workload}
    # Without an SLA file every priority but "normal" is high.
    assert workload[AGE] == Workload(AGE, 3, 1, 1)
    assert workload[AGE2] == Workload(AGE2, 6, 1, 0)
    assert workload[MAN] == Workload(MAN, 1, 0, 0)
    assert workload[MAN2] == Workload(MAN2, 0, 0, 0)  # holds nothing, takes disputes
    assert SUP not in workload  # supervisors are not given disputes by default
    assert team.workload[0].owner == AGE  # the most breaching first
    text = (Path(__file__).parents[2] / "policies/sla/default.yml").read_text()
    (tmp_path / "sla.yml").write_text(text.replace("high", "raised"))
    with_sla = await service(db, tmp_path, SlaPolicy.load(tmp_path / "sla.yml")).team()
    loads = {w.owner: w for w in with_sla.workload}
    assert (loads[AGE].high, loads[AGE2].high) == (0, 0)  # "high" is not a priority there


async def test_only_managers_and_supervisors_see_the_team(db: Database, tmp_path: Path) -> None:
    queues = service(db, tmp_path)
    assert queues.sees_team(person(SUP)) and queues.sees_team(person(MAN))
    assert not queues.sees_team(person(AGE)) and not queues.sees_team(person("U0NOBODY"))
    with pytest.raises(NotAllowed, match="managers and supervisors"):
        queues.require_team(person(AGE))
    assert queues.may_take(person(AGE)) and not queues.may_take(person("U0NOBODY"))
