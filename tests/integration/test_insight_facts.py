"""The facts insights read, kept by the app's writes as each row is written, on SQLite and
PostgreSQL: after every step they are what a full recomputation from the source rows gives, and
what is worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from disputes import insight_facts
from disputes.insight_facts import Basis
from disputes.insight_groups import raw_tag_counts, tag_counts
from disputes.insight_report import Period
from disputes.tags import Dimension, add_tags
from storage.db import Database
from storage.tables import (
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagDayRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
)

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _dispute(number: int, order: str, created: datetime) -> DisputeRow:
    return DisputeRow(
        number=number,
        order_id=order,
        reason="damaged",
        claim="",
        currency="USD",
        order_total_minor=10_000,
        priority="normal",
        opened_by="U0MAN",
        status="new",
        state_times={},
        required_evidence=[],
        created_at=created,
        updated_at=created,
    )


def _evidence(dispute: int, kind: str, at: datetime) -> EvidenceRow:
    return EvidenceRow(
        dispute_id=dispute,
        kind=kind,
        source="test",
        captured_at=at,
        summary=kind,
        payload={},
        content_hash=kind,
        added_by="U0MAN",
    )


def _proposal(dispute: int, number: int, kind: str, status: str, at: datetime) -> ProposalRow:
    return ProposalRow(
        dispute_id=dispute,
        kind=kind,
        status=status,
        amount_minor=0,
        currency="USD",
        proposed_by="U0MAN",
        proposed_at=at,
        number=number,
    )


def _offer(dispute: int, proposal: int, at: datetime) -> CustomerOfferRow:
    return CustomerOfferRow(
        dispute_id=dispute,
        proposal_id=proposal,
        nonce=f"n{proposal}",
        status="open",
        created_at=at,
        expires_at=at + timedelta(days=14),
    )


async def _facts(db: Database) -> tuple[dict[int, tuple[Any, ...]], dict[int, Basis]]:
    async with db.reading() as session:
        disputes = {
            row.number: (
                row.offers_made,
                row.offers_declined,
                row.followed_at,
                row.resolution,
                row.surveyed,
                row.csat_rating,
            )
            for row in (await session.execute(select(DisputeRow))).scalars()
        }
        bases = {
            row.id: Basis.decode(row.basis)
            for row in (await session.execute(select(CustomerOfferRow))).scalars()
        }
    return disputes, bases


async def _kept_as_recomputed(db: Database) -> tuple[dict[int, tuple[Any, ...]], dict[int, Basis]]:
    """The facts as the hook kept them, checked against a recomputation from the sources."""
    kept = await _facts(db)
    async with db.transaction() as session:
        await session.run_sync(lambda s: insight_facts.refresh_all(s.connection()))
    assert await _facts(db) == kept
    return kept


async def test_the_hook_keeps_each_fact_as_rows_are_written(db: Database) -> None:
    insight_facts.keep(db)
    async with db.transaction() as session:
        first = _dispute(1, "O1", T0)
        session.add(first)
        await session.flush()
        session.add_all(
            [
                _evidence(first.id, "photos", T0 + timedelta(hours=1)),
                _evidence(first.id, "tracking", T0 + timedelta(hours=1)),
                DisputeTagRow(
                    dispute_id=first.id,
                    dimension="rule",
                    value="R-DAMAGE",
                    opened_at=T0,
                    added_at=T0 + timedelta(hours=2),
                ),
            ]
        )
        declined = _proposal(first.id, 1, "partial_refund", "approved", T0 + timedelta(hours=3))
        session.add(declined)
        await session.flush()
        offer = _offer(first.id, declined.id, T0 + timedelta(hours=3))
        session.add(offer)
    disputes, bases = await _kept_as_recomputed(db)
    assert disputes[1] == (1, 0, None, "partial_refund", False, None)
    assert bases[offer.id] == Basis(frozenset({"photos", "tracking"}), frozenset({"R-DAMAGE"}))

    # Evidence after the offer is not in its basis; the customer declines, a second proposal
    # is approved and offered, and the dispute is resolved.
    async with db.transaction() as session:
        session.add(_evidence(first.id, "condition_report", T0 + timedelta(hours=5)))
        stored = await session.get(CustomerOfferRow, offer.id)
        proposal = await session.get(ProposalRow, declined.id)
        assert stored is not None and proposal is not None
        stored.status, proposal.status = "declined", "declined"
    async with db.transaction() as session:
        full = _proposal(first.id, 2, "full_refund", "approved", T0 + timedelta(hours=6))
        session.add(full)
        await session.flush()
        second = _offer(first.id, full.id, T0 + timedelta(hours=6))
        session.add(second)
        row = await session.get(DisputeRow, first.id)
        assert row is not None
        row.status, row.resolved_at = "resolved", T0 + timedelta(days=1)
    disputes, bases = await _kept_as_recomputed(db)
    assert disputes[1] == (2, 1, None, "full_refund", False, None)
    assert bases[offer.id].kinds == {"photos", "tracking"}
    assert bases[second.id].kinds == {"photos", "tracking", "condition_report"}

    # A survey is sent, then answered.
    async with db.transaction() as session:
        survey = CsatRow(
            dispute_id=first.id,
            nonce="s",
            created_at=T0 + timedelta(days=1),
            expires_at=T0 + timedelta(days=8),
        )
        session.add(survey)
    assert (await _kept_as_recomputed(db))[0][1][4:] == (True, None)
    async with db.transaction() as session:
        stored_survey = await session.get(CsatRow, survey.id)
        assert stored_survey is not None
        stored_survey.rating = 4
    assert (await _kept_as_recomputed(db))[0][1][4:] == (True, 4)

    # A new dispute on the same order after the resolution is its follow-up; one on another
    # order is not.
    async with db.transaction() as session:
        session.add(_dispute(2, "O1", T0 + timedelta(days=3)))
        session.add(_dispute(3, "O2", T0 + timedelta(days=4)))
    async with db.transaction() as session:
        session.add(_dispute(4, "O1", T0 + timedelta(days=9)))
    disputes, _ = await _kept_as_recomputed(db)
    assert disputes[1] == (2, 1, T0 + timedelta(days=3), "full_refund", True, 4)
    assert disputes[2][2] is None and disputes[3] == (0, 0, None, None, False, None)


async def _tag_days(db: Database) -> list[tuple[Any, ...]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(
                DisputeTagDayRow.day,
                DisputeTagDayRow.dimension,
                DisputeTagDayRow.value,
                DisputeTagDayRow.disputes,
            ).order_by(DisputeTagDayRow.day, DisputeTagDayRow.dimension, DisputeTagDayRow.value)
        )
        return [tuple(row) for row in rows]


async def test_tag_days_sum_up_to_the_tags_at_any_period(db: Database) -> None:
    """Tags written by the app at intake and cited rules added days later: the day counts are
    what a recount from the tags gives, and whole days from them plus partial days from the tags
    count what the tags alone count, for periods that start and end mid-day or at midnight."""
    rng = random.Random(3)
    rows = []
    async with db.transaction() as session:
        for number in range(1, 121):
            created = T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
            row = _dispute(number, f"O{number}", created)
            session.add(row)
            await session.flush()
            rows.append(row)
            intake = {
                (Dimension.SKU, rng.choice(["LAMP", "CHAIR", "DESK"])),
                (Dimension.CARRIER, "UPS"),
            }
            await add_tags(session, row, (intake, created), new_dispute=True)
    for row in rng.sample(rows, 60):  # a decision cites rules later, in its own transaction
        async with db.transaction() as session:
            cited = {(Dimension.RULE, rng.choice(["R1", "R2"])), (Dimension.CARRIER, "UPS")}
            await add_tags(session, row, (cited, row.created_at + timedelta(days=3)))
    kept = await _tag_days(db)
    async with db.transaction() as session:
        await session.run_sync(lambda s: insight_facts.recount_tag_days(s.connection()))
    assert await _tag_days(db) == kept and sum(n for *_, n in kept) == 120 * 2 + 60

    end = T0 + timedelta(days=41)
    periods = [
        Period.parse(label, end - timedelta(minutes=minutes))
        for label in ("7d", "30d")
        for minutes in (0, 1, 61, 60 * 13 + 7)
    ] + [Period.parse("2026-11-10..2026-11-20"), Period.parse("2026-11-15..2026-11-15")]
    for period in periods:
        async with db.reading() as session:
            summed = sorted(await tag_counts(session, period))
            counted = sorted(await raw_tag_counts(session, period))
        assert summed == counted, period
        assert sum(now for *_, now, _ in counted) > 0
