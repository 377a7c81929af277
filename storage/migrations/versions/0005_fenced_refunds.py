"""fenced refund requests, the unknown outcome, and a ledger that reads the provider

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refund_ledger") as batch:
        batch.add_column(
            sa.Column("order_claim_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("provider_refunds", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("provider_read_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("provider_error", sa.Text(), nullable=True))
    # What the order system had refunded is what was committed beyond our own live requests.
    op.execute(
        """
        UPDATE refund_ledger SET order_claim_minor = CASE
            WHEN committed_minor > COALESCE((SELECT SUM(r.amount_minor) FROM refund_requests r
                WHERE r.payment_reference = refund_ledger.payment_reference
                AND r.status NOT IN ('failed', 'canceled')), 0)
            THEN committed_minor - COALESCE((SELECT SUM(r.amount_minor) FROM refund_requests r
                WHERE r.payment_reference = refund_ledger.payment_reference
                AND r.status NOT IN ('failed', 'canceled')), 0)
            ELSE 0 END
        """
    )
    with op.batch_alter_table("refund_ledger") as batch:
        batch.drop_column("committed_minor")

    with op.batch_alter_table("refund_requests") as batch:
        batch.add_column(
            sa.Column("basis", sa.String(length=20), nullable=False, server_default="ledger")
        )
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sends", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_in_flight_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unknown_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attention", sa.String(length=40), nullable=True))
        batch.add_column(
            sa.Column("provider_refund_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("proposed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("proposal_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("provider_ref", sa.String(length=80), nullable=True))
        batch.create_index("ix_refund_requests_payment", ["payment_reference"])
    # Requests made before carry the id they were sent with: a look-up must find them by it.
    op.execute("UPDATE refund_requests SET provider_ref = 'rr_' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("refund_requests") as batch:
        batch.alter_column("provider_ref", existing_type=sa.String(length=80), nullable=False)
        batch.create_index("ix_refund_requests_provider_ref", ["provider_ref"])
    # A request that was sent and never confirmed is unknown; one claimed mid-call too.
    op.execute(
        """
        UPDATE refund_requests
        SET status = 'unknown', sends = attempts, unknown_since = updated_at,
            last_in_flight_at = updated_at
        WHERE (status = 'pending' AND uncertain) OR status = 'in_flight'
        """
    )
    op.execute("UPDATE refund_requests SET sends = attempts WHERE status <> 'pending'")
    op.execute("UPDATE refund_requests SET lease_until = claimed_at WHERE claimed_at IS NOT NULL")
    with op.batch_alter_table("refund_requests") as batch:
        batch.drop_column("uncertain")


def downgrade() -> None:
    with op.batch_alter_table("refund_requests") as batch:
        batch.add_column(
            sa.Column("uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE refund_requests SET status = 'pending', uncertain = true "
        "WHERE status IN ('unknown', 'in_flight')"
    )
    with op.batch_alter_table("refund_requests") as batch:
        batch.drop_index("ix_refund_requests_payment")
        batch.drop_index("ix_refund_requests_provider_ref")
        for column in (
            "provider_ref",
            "proposal_id",
            "proposed_by",
            "provider_refund_ids",
            "attention",
            "unknown_since",
            "last_in_flight_at",
            "sends",
            "lease_until",
            "fence",
            "basis",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("refund_ledger") as batch:
        batch.add_column(
            sa.Column("committed_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
    # The previous version counts the app's own live requests only through committed_minor.
    op.execute(
        """
        UPDATE refund_ledger SET committed_minor = order_claim_minor + COALESCE(
            (SELECT SUM(r.amount_minor) FROM refund_requests r
             WHERE r.payment_reference = refund_ledger.payment_reference
             AND r.status NOT IN ('failed', 'canceled')), 0)
        """
    )
    with op.batch_alter_table("refund_ledger") as batch:
        for column in ("provider_error", "provider_read_at", "provider_refunds"):
            batch.drop_column(column)
        batch.drop_column("order_claim_minor")
