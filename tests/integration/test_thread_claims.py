"""Claims on a dispute's thread, on SQLite and PostgreSQL: a lost claim records nothing and a
lapsed one is taken over; a new dispute is written with its thread claimed for its opener; the
upgrade that made threads due."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from disputes.payments import utcnow
from disputes.thread_outbox import ThreadClaims, ThreadTimings
from sandbox.slack.server import EmulatorServer
from storage.db import Database
from storage.migrate import migrate
from tests.support.statements import statements_of
from tests.support.threads import CHANNEL, open_claimed, open_dispute, replica, thread_columns


async def test_a_lost_claim_records_nothing_and_a_lapsed_one_is_taken_over(db: Database) -> None:
    number = await open_dispute(db)
    now = [utcnow()]
    claims = ThreadClaims(db, ThreadTimings(lease=timedelta(seconds=30)), clock=lambda: now[0])
    first = await claims.claim(number)
    assert first is not None and await claims.claim(number) is None  # held
    assert await claims.claim_due(5) == []  # not due yet, and held
    now[0] += timedelta(seconds=31)  # its holder died: the lease lapsed
    ((taken, second),) = await claims.claim_due(5)
    assert (taken, second) == (number, first + 1)
    assert not await claims.posted(number, first)  # the first holder's word counts no more
    assert await claims.failed(number, first, "late") is None
    assert await claims.due_count() == 1
    due = await claims.failed(number, second, "ratelimited")
    assert due == now[0] + timedelta(seconds=2)  # the second attempt failed: 2 s
    assert await claims.next_due() == due
    assert await claims.claim(number) is not None  # a command may try before the backoff ends


async def test_a_dispute_is_opened_with_its_thread_claimed_for_the_opener_to_post(
    db: Database, emulator: EmulatorServer
) -> None:
    app = replica(db, emulator)
    try:
        opened = await open_claimed(db, app.threads.claims)
        number = opened.case.dispute.number
        assert opened.thread is not None and opened.thread.fence == 1
        _, due, lease, attempts, _ = await thread_columns(db, number)
        assert lease is not None and lease > due and attempts == 1  # held past its due time
        assert await app.threads.claims.claim(number) is None  # nobody else may post it
        assert await app.threads.claims.claim_due(5) == []
        with statements_of(db) as ran:
            case = await app.threads.publish(opened.case, new=opened.thread)
        statements = [" ".join(s.split()) for s in ran]
        assert case.dispute.thread_ts is not None and case.dispute.policy_card_ts is not None
        assert len(emulator.workspace.thread(CHANNEL, case.dispute.thread_ts)) == 3
        claiming = "thread_fence=(disputes.thread_fence +"  # a claim's new fence
        assert not [s for s in statements if claiming in s], statements
        assert await thread_columns(db, number) == (case.dispute.thread_ts, None, None, 1, None)
    finally:
        await app.aclose()


async def test_a_thread_claimed_at_intake_and_never_posted_is_taken_over_when_the_lease_lapses(
    db: Database,
) -> None:
    now = [utcnow()]
    claims = ThreadClaims(db, ThreadTimings(lease=timedelta(seconds=30)), clock=lambda: now[0])
    opened = await open_claimed(db, claims)
    assert opened.thread is not None
    number, fence = opened.case.dispute.number, opened.thread.fence
    now[0] += timedelta(seconds=20)  # due (10 s after intake), but still held
    assert await claims.claim_due(5) == []
    assert await claims.next_due() == now[0] + timedelta(seconds=10)  # when the lease lapses
    now[0] += timedelta(seconds=11)  # the opener died before posting it
    assert await claims.claim_due(5) == [(number, 2)]
    assert fence == 1 and not await claims.posted(number, fence)  # its word counts no more


async def test_the_upgrade_makes_the_open_disputes_missing_a_thread_due(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate(db, "0010")
        async with db.engine.begin() as connection:
            for number, active, thread, card in [
                (1, "ORD-1", None, None),  # open, never posted: due
                (2, "ORD-2", "1.1", None),  # open, its evidence card missing: due
                (3, "ORD-3", "1.2", "1.3"),  # open, posted: nothing due
                (4, None, None, None),  # closed: history, posted only when asked for
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO disputes (id, number, order_id, active_order_key, reason, "
                        "claim, currency, order_total_minor, priority, opened_by, status, "
                        "state_times, required_evidence, created_at, updated_at, version, "
                        "thread_ts, evidence_card_ts) VALUES (:n, :n, :order, :active, "
                        "'DAMAGED', '', 'USD', 100, 'normal', 'U1', 'new', '{}', '[]', :now, "
                        ":now, 1, :thread, :card)"
                    ),
                    {
                        "n": number,
                        "order": f"ORD-{number}",
                        "active": active,
                        "thread": thread,
                        "card": card,
                        "now": utcnow(),
                    },
                )
        await migrate(db)
        claims = ThreadClaims(db)
        assert await claims.due_count() == 2
        assert [n for n, _ in await claims.claim_due(10)] == [1, 2]
        assert await claims.claim(4) is not None  # `/dispute show` may still post it
        await migrate(db, "0010", down=True)
    finally:
        await db.dispose()
