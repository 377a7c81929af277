"""the customer conversation: the outbox of customer messages, offers put to the customer,
satisfaction surveys, and the key that signs the customer's links

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Disputes resolved before this revision were never promised a closing message.
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("closing_due_at", WHEN, nullable=True))
        batch.create_index("ix_disputes_closing_due_at", ["closing_due_at"])
    op.create_table(
        "customer_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("template", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False, unique=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("maybe_sent", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("mirror_ts", sa.String(length=40), nullable=True),
        sa.Column("mirrored", sa.String(length=20), nullable=True),
        sa.UniqueConstraint("dispute_id", "purpose", name="uq_customer_messages_purpose"),
    )
    op.create_index("ix_customer_messages_status", "customer_messages", ["status"])
    op.create_index("ix_customer_messages_due", "customer_messages", ["status", "next_attempt_at"])
    op.create_table(
        "customer_offers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "proposal_id",
            sa.Integer(),
            sa.ForeignKey("proposals.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("nonce", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("reminder_due_at", WHEN, nullable=True),
        sa.Column("reminded_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("proposal_id", name="uq_customer_offers_proposal"),
    )
    op.create_index("ix_customer_offers_status", "customer_offers", ["status"])
    op.create_table(
        "csat_surveys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
            unique=True,
        ),
        sa.Column("nonce", sa.String(length=40), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
    )
    op.create_table(
        "link_keys",
        sa.Column("name", sa.String(length=40), primary_key=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("link_keys")
    op.drop_table("csat_surveys")
    op.drop_index("ix_customer_offers_status", table_name="customer_offers")
    op.drop_table("customer_offers")
    op.drop_index("ix_customer_messages_due", table_name="customer_messages")
    op.drop_index("ix_customer_messages_status", table_name="customer_messages")
    op.drop_table("customer_messages")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_index("ix_disputes_closing_due_at")
        batch.drop_column("closing_due_at")
