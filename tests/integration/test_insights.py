"""Insights on SQLite and PostgreSQL: every KPI and analysis of a hand-made history, with the
expected numbers worked out by hand below (not by the code under test); milestones, tags and
stage runs kept by the app's own writes; and an empty period giving no numbers at all."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from disputes import insight_facts, insight_offers, insight_resolved
from disputes.insight_report import TOO_FEW, Period
from disputes.insights import InsightsService
from disputes.lifecycle import Event
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import (
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
    RefundLedgerRow,
    RefundRequestRow,
    SlaStageRunRow,
)
from tests.integration.test_sla_scan import World

NOVEMBER = Period.parse("2026-11-01..2026-11-30")


def at(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def sla(folder: Path) -> SlaPolicy:
    (folder / "sla.yml").write_text(
        "timezone: UTC\n"
        "business_hours: {days: [mon, tue, wed, thu, fri], start: '09:00', end: '17:00'}\n"
        "holidays: []\nquiet_hours: null\nwarn_at: 0.75\n"
        "priorities:\n  - {name: high, when: {fact: customer_tier, op: eq, value: vip}}\n"
        "  - {name: normal}\n"
        "targets:\n"
        "  high: {business: false, first_response: 1h, in_review: 4h, awaiting_approval: 2h,"
        " awaiting_customer: 2d, executing: 1h}\n"
        "  normal: {business: true, first_response: 4h, in_review: 1d, awaiting_approval: 8h,"
        " awaiting_customer: 5d, executing: 4h}\n"
    )
    return SlaPolicy.load(folder / "sla.yml")


class History:
    """Rows written as stored, milestones given by hand (no hook runs on this database); the
    facts kept from other rows (`disputes.insight_facts`) recomputed once they are written."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.number = 0

    def dispute(
        self,
        *,
        order: str,
        reason: str,
        created: datetime,
        status: str,
        owner: str | None = None,
        priority: str = "normal",
        resolved: datetime | None = None,
        business_hours: float | None = None,
        reopened: datetime | None = None,
        closed: datetime | None = None,
    ) -> int:
        self.number += 1
        self.rows.append(
            DisputeRow(
                id=self.number,
                number=self.number,
                order_id=order,
                reason=reason,
                claim="",
                currency="USD",
                order_total_minor=10_000,
                disputed_amount_minor=5_000,
                priority=priority,
                owner_id=owner,
                opened_by="U0MAN",
                status=status,
                state_times={},
                required_evidence=[],
                created_at=created,
                updated_at=created,
                resolved_at=resolved,
                resolve_business_seconds=None
                if business_hours is None
                else int(business_hours * 3600),
                reopened_at=reopened,
                closed_at=closed,
            )
        )
        return self.number

    def add(self, row: Any) -> None:
        self.rows.append(row)

    def offer(self, dispute: int, status: str, made: datetime, answered: datetime | None) -> None:
        proposal = len([r for r in self.rows if isinstance(r, ProposalRow)]) + 1
        self.rows.append(_proposal(proposal, dispute, "full_refund", "declined", made))
        self.rows.append(
            CustomerOfferRow(
                dispute_id=dispute,
                proposal_id=proposal,
                nonce="n",
                status=status,
                created_at=made,
                expires_at=made + timedelta(days=14),
                answered_at=answered,
            )
        )

    async def write(self, db: Database) -> None:
        async with db.transaction() as session:
            for kind in (DisputeRow, ProposalRow, RefundLedgerRow):
                session.add_all([r for r in self.rows if isinstance(r, kind)])
                await session.flush()
            session.add_all(
                [
                    r
                    for r in self.rows
                    if not isinstance(r, DisputeRow | ProposalRow | RefundLedgerRow)
                ]
            )
            await session.flush()
            await session.run_sync(lambda s: insight_facts.refresh_all(s.connection()))


def _proposal(number: int, dispute: int, kind: str, status: str, when: datetime) -> ProposalRow:
    return ProposalRow(
        id=number,
        dispute_id=dispute,
        kind=kind,
        currency="USD",
        proposed_by="U0MAN",
        proposed_at=when,
        status=status,
        number=number,
    )


def november() -> History:
    """Five disputes resolved in November (D1–D5), two more opened then (D6 open, D7
    withdrawn), one in October (D8) and one after the period (D9)."""
    h = History()
    d1 = h.dispute(
        order="O1",
        reason="damaged",
        owner="U1",
        created=at(2),
        status="resolved",
        resolved=at(2, 10),
        business_hours=10,
        closed=at(2, 10),
    )
    d2 = h.dispute(
        order="O2",
        reason="damaged",
        owner="U1",
        created=at(3),
        status="resolved",
        resolved=at(4),
        business_hours=8,
        closed=at(4),
    )
    d3 = h.dispute(
        order="O3",
        reason="wrong_item",
        owner="U2",
        created=at(5),
        status="resolved",
        resolved=at(5, 4),
        business_hours=4,
        reopened=at(10),
        closed=at(12),
    )
    d4 = h.dispute(
        order="O4",
        reason="wrong_item",
        owner="U2",
        created=at(6),
        status="resolved",
        resolved=at(8),
        business_hours=16,
        closed=at(8),
    )
    d5 = h.dispute(
        order="O5",
        reason="not_as_described",
        created=at(20, 0, 10),
        status="resolved",
        resolved=at(10),
        business_hours=120,
        closed=at(10),
    )
    # D6: on D4's order 17 days after it was resolved; D7: on D5's order 5 days after.
    h.dispute(
        order="O4",
        reason="damaged",
        owner="U1",
        priority="high",
        created=at(25),
        status="in_review",
    )
    h.dispute(
        order="O5",
        reason="not_as_described",
        owner="U2",
        created=at(15),
        status="withdrawn",
        closed=at(16, 12),
    )
    h.dispute(
        order="O8",
        reason="damaged",
        created=at(5, 0, 10),
        status="resolved",
        resolved=at(6, 0, 10),
        business_hours=3,
        closed=at(6, 0, 10),
    )
    h.dispute(order="O9", reason="damaged", created=at(1, 6, 12), status="new")
    # What each resolved dispute was resolved with (the approved proposal).
    for number, (dispute, kind) in enumerate(
        [
            (d1, "full_refund"),
            (d2, "partial_refund"),
            (d3, "overturn"),
            (d4, "uphold"),
            (d5, "overturn"),
        ],
        start=101,
    ):
        h.add(_proposal(number, dispute, kind, "approved", at(1)))
    # Offers: D1 accepted after 6 hours; D2 declined once, then accepted after 8 hours.
    h.offer(d1, "accepted", at(2, 2), at(2, 8))
    h.offer(d2, "declined", at(3, 2), at(3, 10))
    h.offer(d2, "accepted", at(3, 12), at(3, 20))
    # Proof of damage on file before D1's offer and D2's second, after D2's first.
    for dispute, captured in ((d1, at(2, 1)), (d2, at(3, 11))):
        h.add(
            EvidenceRow(
                dispute_id=dispute,
                kind="PROOF_OF_DAMAGE",
                source="t",
                captured_at=captured,
                summary="",
                payload={},
                content_hash=f"h{dispute}",
                added_by="U1",
            )
        )
    # Rule R1 cited before every offer; R2 only after D2's offers.
    for dispute, rule, added in ((d1, "R1", at(2, 0)), (d2, "R1", at(3, 0)), (d2, "R2", at(3, 21))):
        h.add(
            DisputeTagRow(
                dispute_id=dispute, dimension="rule", value=rule, opened_at=at(2), added_at=added
            )
        )
    # SKUs: LAMP on D1, D2 and D6 (now) and on D8 (before); CHAIR on D3.
    for dispute, opened in ((d1, at(2)), (d2, at(3)), (6, at(25)), (8, at(5, 0, 10))):
        h.add(
            DisputeTagRow(
                dispute_id=dispute, dimension="sku", value="LAMP", opened_at=opened, added_at=opened
            )
        )
    h.add(
        DisputeTagRow(
            dispute_id=d3, dimension="sku", value="CHAIR", opened_at=at(5), added_at=at(5)
        )
    )
    # Surveys: D1 rated 5, D2 3, D4 4; D3 never answered; D5 none sent.
    for dispute, rating in ((d1, 5), (d2, 3), (d3, None), (d4, 4)):
        h.add(
            CsatRow(
                dispute_id=dispute, nonce="n", created_at=at(20), expires_at=at(28), rating=rating
            )
        )
    # Stage runs left in November: first response 1 of 3 late, review 2 of 2; one in October.
    for stage, left, due in (
        ("first_response", at(2, 1), at(2, 4)),
        ("first_response", at(3, 5), at(3, 4)),
        ("first_response", at(5, 1), at(5, 4)),
        ("in_review", at(3, 9), at(3, 8)),
        ("in_review", at(5, 3), at(5, 2)),
        ("in_review", at(31, 3, 10), at(31, 2, 10)),
    ):
        h.add(
            SlaStageRunRow(
                dispute_id=d1,
                stage=stage,
                priority="normal",
                entered_at=at(1),
                due_at=due,
                left_at=left,
                breached=left > due,
            )
        )
    # Refunds: 10.00 and 25.00 USD and 7.00 EUR paid in November; a refused one and an October
    # one do not count.
    h.add(RefundLedgerRow(payment_reference="pi_1", currency="USD", paid_minor=100_000))
    for n, (amount, currency, status, when) in enumerate(
        [
            (1000, "USD", "succeeded", at(3)),
            (2500, "USD", "succeeded", at(9)),
            (700, "EUR", "succeeded", at(9)),
            (999, "USD", "failed", at(9)),
            (4000, "USD", "succeeded", at(20, 0, 10)),
        ],
    ):
        h.add(
            RefundRequestRow(
                dispute_id=d1,
                payment_reference="pi_1",
                amount_minor=amount,
                currency=currency,
                gateway="stripe",
                idempotency_key=f"k{n}",
                provider_ref=f"r{n}",
                status=status,
                requested_by="U0MAN",
                created_at=when,
                updated_at=when,
                next_attempt_at=when,
            )
        )
    return h


async def test_every_number_of_a_hand_made_month(db: Database, tmp_path: Path) -> None:
    await november().write(db)
    report = await InsightsService(db, sla(tmp_path)).report(NOVEMBER)

    assert (report.disputes.opened, report.disputes.resolved) == (6, 5)
    # Calendar hours to resolve: D1 10, D2 24, D3 4, D4 48, D5 504 (Oct 20 to Nov 10).
    # Sorted 4, 10, 24, 48, 504: mean 590 / 5 = 118; median 24; p90 at rank 3.6:
    # 48 + 0.6 × (504 − 48) = 321.6.
    hours = report.time_to_resolve_hours
    assert (hours.count, hours.mean, hours.median) == (5, 118.0, 24.0)
    assert hours.p90 == pytest.approx(321.6)
    # Business hours 10, 8, 4, 16, 120: mean 31.6, median 10, p90 16 + 0.6 × 104 = 78.4.
    business = report.time_to_resolve_business_hours
    assert business.mean == pytest.approx(31.6) and business.median == 10.0
    assert business.p90 == pytest.approx(78.4)
    by_reason = {g.key: g for g in report.time_to_resolve_by_reason}
    # damaged: 10 and 24 hours: mean 17, median 17, p90 10 + 0.9 × 14 = 22.6.
    damaged = by_reason["damaged"].hours
    assert (by_reason["damaged"].resolved, damaged.mean, damaged.median) == (2, 17.0, 17.0)
    assert damaged.p90 == pytest.approx(22.6)
    by_owner = {g.key: g.resolved for g in report.time_to_resolve_by_owner}
    assert by_owner == {"U1": 2, "U2": 2, "unassigned": 1}

    # First contact: D1 yes; D2 no (declined, second offer); D3 no (reopened 5 days later);
    # D4 yes (the next dispute on its order came 17 days later); D5 no (one 5 days later).
    assert (report.first_contact.first_contact, report.first_contact.resolved) == (2, 5)
    assert report.first_contact_resolution_rate == pytest.approx(0.4)

    # CSAT: 4 surveys, 3 answered (5, 3, 4): score 2/3, response rate 3/4.
    csat = report.csat
    assert (csat.surveys, csat.responses) == (4, 3)
    assert csat.score == pytest.approx(2 / 3) and csat.response_rate == 0.75
    assert csat.distribution == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}

    breaches = {b.stage: (b.runs, b.breached, b.rate) for b in report.sla_breach_rate}
    assert breaches["first_response"] == (3, 1, pytest.approx(1 / 3))
    assert breaches["in_review"] == (2, 2, 1.0)
    assert breaches["executing"] == (0, 0, None)

    assert [(r.currency, r.refunds, r.amount_minor) for r in report.refunds_paid] == [
        ("EUR", 1, 700),
        ("USD", 2, 3500),
    ]
    assert report.resolutions == {
        "full_refund": 1,
        "overturn": 2,
        "partial_refund": 1,
        "uphold": 1,
    }
    assert report.overturn_rate == pytest.approx(0.4)

    # Reasons opened in November (D1, D2, D6 damaged; D3, D4 wrong item; D7 not as described)
    # against October 2–31 (D8 damaged; D5 not as described): 6 now, 2 before, share 0.75.
    # damaged: P(X ≥ 3 | Bin(4, 0.75)) = 4 × 0.75³ × 0.25 + 0.75⁴ = 0.73828125.
    reasons = {r.reason: (r.count, r.previous, r.flagged) for r in report.recurring_reasons}
    assert reasons == {
        "damaged": (3, 1, False),
        "wrong_item": (2, 0, False),
        "not_as_described": (1, 1, False),
    }
    assert report.recurring_reasons[0].reason == "damaged"
    assert report.recurring_reasons[0].p_value == pytest.approx(0.73828125)
    skus = {g.value: (g.count, g.previous) for g in report.recurring["sku"]}
    assert skus == {"LAMP": (3, 1), "CHAIR": (1, 0)}
    assert report.recurring["carrier"] == []

    # Offers decided in November: D1's (accepted, proof on file), D2's first (declined, no
    # proof yet) and second (accepted, proof on file). Too few for rates, counts shown.
    [proof] = report.evidence_effect
    assert proof.name == "PROOF_OF_DAMAGE" and proof.note == TOO_FEW
    assert (proof.with_.offers, proof.with_.accepted) == (2, 2)
    assert (proof.without.offers, proof.without.accepted) == (1, 0)
    assert proof.with_.acceptance_rate is None and proof.with_.median_hours_to_accept is None
    [rule] = report.citation_effect  # R2 came after every offer
    assert (rule.name, rule.with_.offers, rule.without.offers) == ("R1", 3, 0)

    # Workload at the end of each day, Nov 2 … Dec 1, by each dispute's current owner.
    points = report.workload.points
    assert len(points) == 30 and points[0] == at(2) and points[-1] == at(1, 0, 12)
    people = {p.owner: p for p in report.workload.people}
    assert [p.owner for p in report.workload.people] == ["U1", "U2", "unassigned"]

    def on(owner: str, day: int, month: int = 11, series: str = "open") -> int:
        return getattr(people[owner], series)[points.index(at(day, 0, month))]

    # U1: D1 open at Nov 2 00:00 (closed 10:00), D2 at Nov 3, nothing Nov 4, D6 from Nov 25.
    assert [on("U1", d) for d in (2, 3, 4, 24, 25)] == [1, 1, 0, 0, 1]
    assert on("U1", 1, 12) == 1 and on("U1", 1, 12, "high") == 1
    # U2: D3 from Nov 5 to its last close on Nov 12, D4 Nov 6–7, D7 Nov 15–16 (closed 12:00).
    assert [on("U2", d) for d in (5, 6, 7, 8, 11, 12, 15, 16, 17)] == [1, 2, 2, 1, 1, 0, 1, 1, 0]
    assert [on("unassigned", d) for d in (2, 9, 10)] == [1, 1, 0]


async def test_an_empty_period_gives_no_numbers(db: Database, tmp_path: Path) -> None:
    report = await InsightsService(db, sla(tmp_path)).report(NOVEMBER)
    payload = report.to_json()
    assert payload["disputes"] == {"opened": 0, "resolved": 0}
    assert payload["time_to_resolve_hours"] == {
        "count": 0,
        "mean": None,
        "median": None,
        "p90": None,
    }
    assert payload["first_contact_resolution_rate"] is None
    assert payload["csat"]["score"] is None and payload["csat"]["response_rate"] is None
    assert payload["overturn_rate"] is None
    assert all(stage["rate"] is None for stage in payload["sla_breach_rate"])
    assert payload["recurring_reasons"] == [] and payload["evidence_effect"] == []
    assert payload["workload"]["people"] == []


async def test_the_app_keeps_milestones_tags_and_stage_runs(db: Database, tmp_path: Path) -> None:
    world = World(db, tmp_path)
    number = await world.open(1)
    for event in (
        Event.EVIDENCE_COMPLETED,
        Event.REVIEW_STARTED,
        Event.PROPOSED,
        Event.APPROVED,
        Event.RESOLVED_WITHOUT_PAYMENT,
    ):
        await world.move(number, event)
    row = await world.row(number)
    assert row.resolved_at is not None and row.closed_at == row.resolved_at
    assert row.resolve_business_seconds is not None and row.resolve_business_seconds >= 0
    first_resolution = row.resolved_at

    await world.move(number, Event.REOPENED)
    row = await world.row(number)
    assert row.reopened_at is not None and row.closed_at is None
    assert row.resolved_at == first_resolution  # the first resolution is kept

    async with db.reading() as session:
        runs = (
            await session.execute(
                select(SlaStageRunRow.stage, SlaStageRunRow.breached)
                .where(SlaStageRunRow.dispute_id == row.id)
                .order_by(SlaStageRunRow.id)
            )
        ).all()
        tags = set(
            (
                await session.execute(
                    select(DisputeTagRow.dimension, DisputeTagRow.value).where(
                        DisputeTagRow.dispute_id == row.id
                    )
                )
            ).all()
        )
    # Each stage left is one run (new and evidence_ready are both the first response; the
    # approved dispute's clock is the execution's).
    assert [stage for stage, _ in runs] == [
        "first_response",
        "in_review",
        "awaiting_approval",
        "executing",
    ]
    assert not any(breached for _, breached in runs)
    assert {("sku", "LAMP-1"), ("category", "home"), ("carrier", "UPS")} <= tags


async def test_more_history_never_lowers_the_counts_and_rates_stay_rates(
    db: Database, tmp_path: Path
) -> None:
    """Disputes added one at a time at random moments in and around the period: the opened and
    resolved counts grow by exactly the disputes that fall in it, and every rate stays in 0–1."""
    rng = random.Random(14)
    service = InsightsService(db, sla(tmp_path))
    history = History()
    before = await service.report(NOVEMBER)
    for _ in range(12):
        created = at(1, 0, 10) + timedelta(hours=rng.randrange(0, 24 * 75))
        resolved = (
            created + timedelta(hours=rng.randrange(1, 24 * 20)) if rng.random() < 0.7 else None
        )
        number = history.dispute(
            order=f"O{rng.randrange(5)}",
            reason=rng.choice(["damaged", "wrong_item"]),
            owner=rng.choice(["U1", None]),
            created=created,
            status="resolved" if resolved else "in_review",
            resolved=resolved,
            business_hours=rng.randrange(0, 50) if resolved else None,
            closed=resolved,
        )
        if resolved and rng.random() < 0.6:
            history.add(
                CsatRow(
                    dispute_id=number,
                    nonce="n",
                    created_at=resolved,
                    expires_at=resolved,
                    rating=rng.choice([None, 1, 3, 4, 5]),
                )
            )
        batch = History()
        batch.rows, history.rows = history.rows, []
        await batch.write(db)
        after = await service.report(NOVEMBER)
        in_period = NOVEMBER.start <= created < NOVEMBER.end
        resolved_in = resolved is not None and NOVEMBER.start <= resolved < NOVEMBER.end
        assert after.disputes.opened == before.disputes.opened + in_period
        assert after.disputes.resolved == before.disputes.resolved + resolved_in
        for rate in (
            after.first_contact_resolution_rate,
            after.csat.score,
            after.csat.response_rate,
            after.overturn_rate,
        ):
            assert rate is None or 0.0 <= rate <= 1.0
        before = after


async def test_the_weekly_trend_of_a_hand_made_month(db: Database, tmp_path: Path) -> None:
    await november().write(db)
    weeks = await InsightsService(db, sla(tmp_path)).trend(at(1, 0, 12), weeks=4)
    assert [(w.start, w.end) for w in weeks] == [
        (at(3), at(10)),
        (at(10), at(17)),
        (at(17), at(24)),
        (at(24), at(1, 0, 12)),
    ]
    # Opened: D2, D3, D4 | D7 | none | D6. Resolved: D2 (24 h), D3 (4 h), D4 (48 h) | D5.
    assert [(w.opened, w.resolved) for w in weeks] == [(3, 3), (1, 1), (0, 0), (1, 0)]
    assert [w.median_hours for w in weeks] == [24.0, 504.0, None, None]
    # Ratings of the first week's resolved: D2 3, D3 unanswered, D4 4.
    assert [w.csat_score for w in weeks] == [0.5, None, None, None]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_postgresql_computes_the_numbers_the_rows_give(db: Database, tmp_path: Path) -> None:
    """On PostgreSQL the sums, percentiles and groups are the database's: on a random history
    they are the numbers computed here from the rows (the path SQLite takes)."""
    rng = random.Random(7)
    history = History()
    kinds = ["photos", "tracking", "condition_report", "receipt"]
    for number in range(1, 161):
        created = at(1, 0, 10) + timedelta(hours=rng.randrange(0, 24 * 55))
        resolved = created + timedelta(minutes=rng.randrange(30, 60 * 24 * 12))
        history.dispute(
            order=f"O{rng.randrange(60)}",
            reason=rng.choice(["damaged", "wrong_item", "not_received"]),
            owner=rng.choice(["U1", "U2", "U3", None]),
            created=created,
            status="resolved",
            resolved=resolved,
            business_hours=rng.randrange(0, 80) + rng.random(),
            reopened=resolved + timedelta(days=rng.randrange(1, 30))
            if rng.random() < 0.2
            else None,
            closed=resolved,
        )
        for kind in rng.sample(kinds, rng.randrange(0, 4)):
            history.add(_evidence(number, kind, created + timedelta(minutes=rng.randrange(0, 90))))
        for _ in range(rng.randrange(0, 3)):
            made = created + timedelta(hours=rng.randrange(1, 48))
            status = rng.choice(["accepted", "declined", "expired"])
            history.offer(number, status, made, made + timedelta(minutes=rng.randrange(5, 9000)))
        history.add(
            _proposal(
                1000 + number, number, rng.choice(["uphold", "overturn"]), "approved", created
            )
        )
    await history.write(db)
    policy = sla(tmp_path)
    async with db.reading() as session:
        in_database = await insight_resolved.summary_in_postgresql(session, NOVEMBER)
        of_rows = await insight_resolved.summary_of_rows(session, NOVEMBER, policy)
        grouped = await insight_offers.grouped_in_postgresql(session, NOVEMBER)
        listed = await insight_offers.listed(session, NOVEMBER)
    assert in_database is not None and of_rows.resolved > 50
    assert _rounded(asdict(in_database)) == _rounded(asdict(of_rows))
    assert of_rows.first_contact > 0 and len(of_rows.by_owner) == 4
    assert sum(grouped.offers) == sum(listed.offers) > 50
    assert _rounded(insight_offers.effects(grouped)) == _rounded(insight_offers.effects(listed))


def _evidence(dispute: int, kind: str, captured: datetime) -> EvidenceRow:
    return EvidenceRow(
        dispute_id=dispute,
        kind=kind,
        source="t",
        captured_at=captured,
        summary="",
        payload={},
        content_hash=f"h{dispute}{kind}",
        added_by="U1",
    )


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits (a database sums in its own order), models as dicts."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if hasattr(value, "model_dump"):
        return _rounded(value.model_dump())
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value
