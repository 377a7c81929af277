"""Migrations on databases that hold rows, both ways, on SQLite and PostgreSQL: the refund
outbox and ledger of revision 0004 become fenced requests and a ledger of claims (0005)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from storage.db import Database
from storage.migrate import current_revision, head_revision, migrate

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DISPUTE = (
    "INSERT INTO disputes (id, number, order_id, reason, claim, currency, order_total_minor, "
    "priority, opened_by, status, state_times, required_evidence, created_at, updated_at, "
    "version) VALUES (1, 1, 'ORD-T1', 'DAMAGED', '', 'USD', 12900, 'normal', 'U1', "
    "'executing', '{}', '[]', :now, :now, 1)"
)


async def rows(db: Database, query: str) -> list[tuple[object, ...]]:
    async with db.engine.connect() as connection:
        return [tuple(r) for r in await connection.execute(text(query))]


async def test_an_outbox_with_refunds_in_every_state_upgrades(database_url: str) -> None:
    """0004: the order system refunded 29.00 of 129.00; ours: 50.00 succeeded, 60.00 sent
    without an answer, 10.00 refused (released): committed 29 + 50 + 60."""
    db = Database(database_url)
    try:
        await migrate(db, "0004")
        async with db.engine.begin() as connection:
            await connection.execute(text(DISPUTE), {"now": NOW})
            await connection.execute(
                text(
                    "INSERT INTO refund_ledger (payment_reference, currency, paid_minor, "
                    "committed_minor) VALUES ('pi_X', 'USD', 12900, 13900)"
                )
            )
            for rid, status, uncertain, amount in [
                (1, "succeeded", False, 5000),
                (2, "pending", True, 6000),
                (3, "failed", False, 1000),
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO refund_requests (id, dispute_id, payment_reference, "
                        "amount_minor, currency, gateway, idempotency_key, status, attempts, "
                        "uncertain, requested_by, created_at, updated_at, claimed_at, "
                        "next_attempt_at) VALUES (:id, 1, 'pi_X', :amount, 'USD', 'stripe', "
                        ":key, :status, 1, :uncertain, 'U1', :now, :now, :now, :now)"
                    ),
                    {
                        "id": rid,
                        "amount": amount,
                        "key": f"k{rid}",
                        "status": status,
                        "uncertain": uncertain,
                        "now": NOW,
                    },
                )
        assert await migrate(db) == head_revision()
        assert await rows(db, "SELECT order_claim_minor FROM refund_ledger") == [(2900,)]
        assert await rows(db, "SELECT id, status, sends FROM refund_requests ORDER BY id") == [
            (1, "succeeded", 1),
            (2, "unknown", 1),
            (3, "failed", 1),
        ]
        # Sent as rr_2, the unknown one must be looked up as rr_2.
        assert await rows(db, "SELECT provider_ref FROM refund_requests ORDER BY id") == [
            ("rr_1",),
            ("rr_2",),
            ("rr_3",),
        ]

        # And back: the previous version counts its own live requests in committed_minor.
        await migrate(db, "0004", down=True)
        assert await current_revision(db) == "0004"
        assert await rows(db, "SELECT committed_minor FROM refund_ledger") == [(13900,)]
        assert await rows(db, "SELECT id, status FROM refund_requests ORDER BY id") == [
            (1, "succeeded"),
            (2, "pending"),
            (3, "failed"),
        ]
        assert await migrate(db) == head_revision()
    finally:
        await db.dispose()


async def test_foreign_keys_are_on_again_after_migrating(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'fk.db'}")
    try:
        await migrate(db)
        async with db.engine.connect() as connection:
            on = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
        assert on == 1
    finally:
        await db.dispose()


async def test_earlier_proposals_are_numbered_within_their_dispute(database_url: str) -> None:
    db = Database(database_url)
    second = DISPUTE.replace("(1, 1, 'ORD-T1'", "(2, 2, 'ORD-T2'")
    proposal = (
        "INSERT INTO proposals (id, dispute_id, kind, currency, note, outside_policy, "
        "needs_supervisor, proposed_by, proposed_at, status) VALUES (:id, :dispute, "
        "'store_credit', 'USD', '', false, false, 'U1', :now, 'changes_requested')"
    )
    try:
        await migrate(db, "0005")
        async with db.engine.begin() as connection:
            await connection.execute(text(DISPUTE), {"now": NOW})
            await connection.execute(text(second), {"now": NOW})
            for pid, dispute in [(1, 1), (2, 2), (3, 1), (4, 1), (5, 2)]:
                await connection.execute(
                    text(proposal), {"id": pid, "dispute": dispute, "now": NOW}
                )
        assert await migrate(db) == head_revision()
        assert await rows(db, "SELECT id, number FROM proposals ORDER BY id") == [
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 3),
            (5, 2),
        ]
        await migrate(db, "0005", down=True)
        assert await rows(db, "SELECT count(*) FROM proposals") == [(5,)]
        assert await migrate(db) == head_revision()
    finally:
        await db.dispose()
