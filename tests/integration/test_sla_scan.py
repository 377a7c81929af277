"""The SLA clock and the scan on SQLite and PostgreSQL: clocks kept on every change, priority
re-evaluated as a dispute ages, each alert raised once across scans and scanners, one scanner
at a time under a fenced lease, a broken dispute not stopping the scan, snoozes, quiet hours
and the daily summary."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from disputes.alerts import AlertService, Kind, State
from disputes.audit import Actor
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Event
from disputes.permissions import Gate
from disputes.roles import CurrentRoles
from disputes.sla_clock import watch
from disputes.sla_scan import LostLease, SlaScan
from disputes.transitions import transition
from domain.orders import Order
from domain.reasons import Reason
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import AlertDigestRow, AlertPostRow, AuditRow, DisputeRow, SlaAlertRow
from tests.support.orders import StaticOrders, order

SLA = """
timezone: UTC
business_hours: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"}}
holidays: []
quiet_hours: {quiet}
warn_at: 0.5
priorities:
  - {{name: urgent, when: {{fact: disputed_amount, op: gte, value: "500.00"}}}}
  - {{name: high, when: {{fact: age_hours, op: gte, value: 48}}}}
  - {{name: normal}}
targets:
  urgent: {{business: false, first_response: 1h, in_review: 2h, awaiting_approval: 1h,
           awaiting_customer: 1d, executing: 1h}}
  high: {{business: false, first_response: 4h, in_review: 8h, awaiting_approval: 4h,
         awaiting_customer: 3d, executing: 2h}}
  normal: {{business: false, first_response: 4h, in_review: 8h, awaiting_approval: 4h,
           awaiting_customer: 3d, executing: 2h}}
"""
ROLES = """
roles:
  supervisor: {users: [U0SUP], approval_limit: null}
  manager: {users: [U0MAN], approval_limit: "200.00"}
  agent: {users: [U0AGE], approval_limit: "0"}
two_person_rule_above: null
"""
MANAGER = Actor.slack_user("U0MAN")


def sla_policy(folder: Path, quiet: str = "null") -> SlaPolicy:
    path = folder / "sla.yml"
    path.write_text(SLA.format(quiet=quiet))
    return SlaPolicy.load(path)


class World:
    def __init__(self, db: Database, folder: Path, *, quiet: str = "null") -> None:
        self.db = db
        self.sla = sla_policy(folder, quiet)
        watch(db, self.sla)
        (folder / "roles.yml").write_text(ROLES)
        self.roles = CurrentRoles(folder / "roles.yml")
        # ORD-S3 disputes 600.00 (urgent), the others 99.00.
        self.orders = StaticOrders(
            *(priced(n, "600.00" if n == 3 else "99.00") for n in range(1, 6))
        )
        self.intake = IntakeService(db, self.orders, [])

    def scan(self, holder: str = "one", **options: object) -> SlaScan:
        options.setdefault("destinations", ["supervisors"])
        return SlaScan(self.db, self.sla, self.roles, holder=holder, **options)  # type: ignore[arg-type]

    async def open(self, n: int, *, owner: str | None = "U0MAN") -> int:
        request = OpenRequest(f"ORD-S{n}", Reason.DAMAGED, "crushed", MANAGER)
        number = (await self.intake.open(request)).case.dispute.number
        async with self.db.transaction() as session:  # an owner keeps "unassigned" out of it
            await session.execute(
                update(DisputeRow).where(DisputeRow.number == number).values(owner_id=owner)
            )
        return number

    async def row(self, number: int) -> DisputeRow:
        async with self.db.reading() as session:
            found = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
            assert found is not None
            return found

    async def move(self, number: int, event: Event) -> None:
        async def work(session):  # type: ignore[no-untyped-def]
            row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
            await transition(session, row, event, MANAGER)

        await self.db.run(work)

    async def alerts(self) -> list[tuple[int | None, str, str, str]]:
        async with self.db.reading() as session:
            rows = await session.execute(
                select(DisputeRow.number, SlaAlertRow.kind, SlaAlertRow.stage, SlaAlertRow.state)
                .outerjoin(DisputeRow, DisputeRow.id == SlaAlertRow.dispute_id)
                .order_by(SlaAlertRow.id)
            )
            return [tuple(r) for r in rows.all()]  # type: ignore[misc]

    async def count(self, table: type) -> int:
        async with self.db.reading() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def priced(n: int, price: str) -> Order:
    base = order()
    item = {**base.to_wire()["items"][0], "unit_price": price}
    wire = {**base.to_wire(), "order_id": f"ORD-S{n}", "total": price, "items": [item]}
    wire["customer"] = {**wire["customer"], "id": f"C{n}"}
    wire["return_request"] = {**wire["return_request"], "decision": None}
    return Order.from_wire(wire)


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


async def test_every_write_keeps_the_clock(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(3)  # 600.00 disputed: urgent
    row = await world.row(number)
    assert (row.priority, row.sla_stage, row.sla_level) == ("urgent", "first_response", "ok")
    assert row.sla_entered_at is not None and row.sla_due_at is not None
    assert row.sla_due_at - row.sla_entered_at == timedelta(hours=1)
    assert row.sla_check_at is not None  # the scan looks at it (alerts) at once
    opened_at = row.sla_entered_at

    await world.move(number, Event.EVIDENCE_COMPLETED)  # still the first response
    row = await world.row(number)
    assert row.sla_stage == "first_response" and row.sla_entered_at == opened_at

    await world.move(number, Event.REVIEW_STARTED)
    row = await world.row(number)
    assert row.sla_stage == "in_review" and row.sla_entered_at > opened_at
    assert row.sla_due_at - row.sla_entered_at == timedelta(hours=2)

    await world.move(number, Event.WITHDRAWN)
    row = await world.row(number)
    assert (row.sla_stage, row.sla_due_at, row.sla_check_at) == (None, None, None)


async def test_a_breach_is_raised_once_over_many_scans(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    urgent, normal = await world.open(3, owner=None), await world.open(1, owner=None)
    scan = world.scan()
    first = await scan.run_once()
    # Both on time; the urgent one has no owner.
    assert first.held_lease and first.reclocked == 2 and first.digest_id is not None
    assert await world.alerts() == [(urgent, "unassigned", "urgent", "sent")]

    warned = await scan.run_once(later(minutes=40))  # past half of urgent's hour
    assert (await world.alerts())[1:] == [(urgent, "warning", "first_response", "sent")]
    assert warned.digest_id is not None

    for minutes in (70, 75, 90, 180):
        await scan.run_once(later(minutes=minutes))
    alerts = await world.alerts()
    assert alerts == [
        (urgent, "unassigned", "urgent", "sent"),
        (urgent, "warning", "first_response", "sent"),
        (urgent, "breached", "first_response", "sent"),
        (normal, "warning", "first_response", "sent"),
    ]
    assert await world.count(AlertDigestRow) == 4  # one digest per scan that found news
    assert await world.count(AlertPostRow) == 4
    assert (await world.row(urgent)).sla_level == "breached"


async def test_priority_is_re_evaluated_as_a_dispute_ages(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(1, owner=None)
    row = await world.row(number)
    assert row.priority == "normal"
    scan = world.scan(destinations=[])
    await scan.run_once(later(hours=5))  # breached: only the age rule can change anything now
    # The rule on age_hours >= 48 makes the scan look again when the dispute turns 48 hours old.
    assert (await world.row(number)).sla_check_at == row.created_at + timedelta(hours=48)
    report = await scan.run_once(later(hours=49))
    row = await world.row(number)
    assert row.priority == "high" and number in report.changed
    # High and unowned: an alert; nobody owns it at intake without an assignment section.
    assert (number, "unassigned", "high", "pending") in await world.alerts()


async def test_two_scanners_one_lease_each_alert_once(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    await world.open(3)
    one, two = world.scan("one"), world.scan("two")
    for minutes in (70, 71, 72, 73):
        reports = [
            await one.run_once(later(minutes=minutes)),
            await two.run_once(later(minutes=minutes)),
        ]
        assert [r.held_lease for r in reports] == [True, False]
    assert [a[1] for a in await world.alerts()] == ["breached"]
    assert await world.count(AlertPostRow) == 1

    # The holder stops renewing: the other takes over once the lease lapses, with a new fence.
    fence = one.fence
    assert fence is not None
    taken = await two.run_once(later(minutes=74) + one.lease_for)
    assert taken.held_lease and two.fence == fence + 1
    # The old holder's late write is refused.
    async with db.reading() as session:
        post_id = await session.scalar(select(AlertPostRow.id))
    assert post_id is not None
    with pytest.raises(LostLease):
        await one.posted(post_id, fence, "C1", "1.0")


async def test_a_broken_dispute_does_not_stop_the_scan(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    broken, fine = await world.open(1), await world.open(3)
    async with db.transaction() as session:
        await session.execute(
            update(DisputeRow)
            .where(DisputeRow.number == broken)
            .values(status="no_such_status", sla_check_at=datetime.now(UTC))
        )
    report = await world.scan().run_once(later(minutes=70))
    assert report.failed == 1 and report.reclocked == 1
    assert [(a[0], a[1]) for a in await world.alerts()] == [(fine, "breached")]
    row = await world.row(broken)
    assert row.sla_check_at is not None and row.sla_check_at > later(minutes=70)  # later again


async def test_a_snoozed_alert_comes_back_once_if_it_still_holds(
    db: Database, tmp_path: Path
) -> None:
    world = World(db, tmp_path)
    held, cleared = await world.open(3), await world.open(4)
    async with db.transaction() as session:  # both urgent
        await session.execute(update(DisputeRow).values(disputed_amount_minor=60000))
        await session.execute(update(DisputeRow).values(sla_check_at=datetime.now(UTC)))
    scan = world.scan()
    await scan.run_once(later(minutes=70))
    alerts = AlertService(db, Gate(db, world.roles), snooze=timedelta(hours=2))
    async with db.reading() as session:
        ids = dict(
            (
                await session.execute(
                    select(DisputeRow.number, SlaAlertRow.id)
                    .join(DisputeRow, DisputeRow.id == SlaAlertRow.dispute_id)
                    .where(SlaAlertRow.kind == Kind.BREACHED.value)
                )
            ).all()
        )
    snoozed = await alerts.snooze(ids[held], MANAGER)
    await alerts.snooze(ids[cleared], MANAGER)
    await world.move(cleared, Event.WITHDRAWN)  # no longer late: its snooze ends in nothing
    assert snoozed.until > datetime.now(UTC)

    quiet = await scan.run_once(later(minutes=80))  # still snoozed
    assert quiet.digest_id is None
    back = await scan.run_once(later(minutes=200))
    assert back.digest_id is not None and back.dropped == 1
    states = {(n, k): s for n, k, _, s in await world.alerts()}
    assert states[(held, "breached")] == State.SENT.value
    assert states[(cleared, "breached")] == State.DROPPED.value
    view = await alerts.digest(back.digest_id)
    assert [(line.number, line.back_from_snooze) for line in view.lines] == [(held, True)]
    async with db.reading() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditRow.action == "alert.snoozed")
        )
    assert audited == 2
    assert (await scan.run_once(later(minutes=300))).digest_id is None  # once


async def test_quiet_hours_hold_alerts_back_until_they_end(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path, quiet='{start: "22:00", end: "06:00"}')
    number = await world.open(3)
    base = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    async with db.transaction() as session:
        await session.execute(
            update(DisputeRow).values(
                created_at=base,
                sla_entered_at=base,
                sla_stage=None,
                sla_check_at=base,
                state_times={"new": base.isoformat()},
            )
        )
    scan = world.scan()
    night = await scan.run_once(base.replace(hour=23))
    assert night.quiet and night.digest_id is None and night.raised == 1  # the breach
    morning = await scan.run_once(base.replace(hour=23) + timedelta(hours=8))
    assert not morning.quiet and morning.digest_id is not None
    assert await world.alerts() == [(number, "breached", "first_response", "sent")]


async def test_the_daily_summary_goes_out_once_a_day(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    scan = world.scan(summary_at=time(9, 0))
    day = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
    assert (await scan.run_once(day.replace(hour=9))).summary_id is None  # nothing open
    await world.open(3)
    await world.open(1, owner=None)
    assert (await scan.run_once(day)).summary_id is None  # before 09:00
    first = await scan.run_once(day.replace(hour=9, minute=1))
    assert first.summary_id is not None
    assert (await scan.run_once(day.replace(hour=17))).summary_id is None
    assert (await scan.run_once(day + timedelta(days=1, hours=2))).summary_id is not None
    view = await AlertService(db, None, snooze=timedelta(hours=1)).digest(first.summary_id)
    assert view.kind == "summary"
    assert view.summary["open"] == 2 and view.summary["breached"] == 2
    assert view.summary["stuck_by_stage"] == {"first_response": 2}
    assert view.summary["unassigned"] == 1
    assert view.summary["stuck_by_owner"] == [["U0MAN", 1]]


async def test_over_cap_and_refund_attention_alerts(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    (tmp_path / "roles.yml").write_text(
        ROLES + "assignment:\n  eligible: [agent]\n  caps_by_user: {U0AGE: 1}\n"
    )
    first, second = await world.open(1, owner="U0AGE"), await world.open(2, owner="U0AGE")
    async with db.transaction() as session:
        await session.execute(
            update(DisputeRow)
            .where(DisputeRow.number == second)
            .values(status="needs_attention", sla_check_at=datetime.now(UTC))
        )
    scan = world.scan()
    report = await scan.run_once(later(minutes=1))
    alerts = await world.alerts()
    assert (second, "attention", "executing", "sent") in alerts
    assert (None, "over_cap", later(minutes=1).date().isoformat(), "sent") in alerts
    assert first not in [a[0] for a in alerts if a[1] == "attention"]
    assert report.digest_id is not None
    again = await scan.run_once(later(minutes=2))
    assert again.raised == 0 and again.digest_id is None
