"""service levels and alerts: each dispute's running clock (stage, since when, due, level, when
to look again), the customer's earlier disputes, the alerts sent once each, the digests that
carried them, and the lease that lets one replica scan at a time

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(
            sa.Column("prior_disputes", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("sla_stage", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("sla_entered_at", WHEN, nullable=True))
        batch.add_column(sa.Column("sla_due_at", WHEN, nullable=True))
        batch.add_column(
            sa.Column("sla_level", sa.String(length=10), nullable=False, server_default="ok")
        )
        batch.add_column(sa.Column("sla_check_at", WHEN, nullable=True))
    # The scan reads only the disputes whose clock needs a look; queues read by owner, due first.
    op.create_index("ix_disputes_sla_check", "disputes", ["sla_check_at"])
    op.create_index("ix_disputes_owner_due", "disputes", ["owner_id", "sla_due_at"])
    op.create_index("ix_disputes_level_due", "disputes", ["sla_level", "sla_due_at"])
    # Earlier disputes of the same customer, counted once for the disputes already stored.
    op.execute(
        "UPDATE disputes SET prior_disputes = (SELECT count(*) FROM disputes AS earlier "
        "WHERE earlier.customer_id = disputes.customer_id AND earlier.id < disputes.id) "
        "WHERE customer_id IS NOT NULL"
    )
    # Open disputes are clocked by the first scan after the upgrade.
    op.execute("UPDATE disputes SET sla_check_at = updated_at WHERE active_order_key IS NOT NULL")
    op.create_table(
        "alert_digests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.UniqueConstraint("key", name="uq_alert_digests_key"),
    )
    op.create_table(
        "alert_posts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "digest_id",
            sa.Integer(),
            sa.ForeignKey("alert_digests.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("destination", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=True),
        sa.Column("message_ts", sa.String(length=40), nullable=True),
        sa.Column("posted_at", WHEN, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("digest_id", "destination", name="uq_alert_posts_destination"),
    )
    op.create_index("ix_alert_posts_pending", "alert_posts", ["posted_at", "id"])
    op.create_table(
        "sla_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("raised_at", WHEN, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column(
            "digest_id",
            sa.Integer(),
            sa.ForeignKey("alert_digests.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("snoozed_until", WHEN, nullable=True),
        sa.Column("snoozed_by", sa.String(length=40), nullable=True),
        sa.Column("snoozes", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("subject", "kind", "stage", name="uq_sla_alerts_once"),
    )
    op.create_index("ix_sla_alerts_state", "sla_alerts", ["state", "id"])
    op.create_index("ix_sla_alerts_snoozed_until", "sla_alerts", ["snoozed_until"])
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=40), primary_key=True),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("expires_at", WHEN, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leases")
    op.drop_index("ix_sla_alerts_snoozed_until", table_name="sla_alerts")
    op.drop_index("ix_sla_alerts_state", table_name="sla_alerts")
    op.drop_table("sla_alerts")
    op.drop_index("ix_alert_posts_pending", table_name="alert_posts")
    op.drop_table("alert_posts")
    op.drop_table("alert_digests")
    op.drop_index("ix_disputes_level_due", table_name="disputes")
    op.drop_index("ix_disputes_owner_due", table_name="disputes")
    op.drop_index("ix_disputes_sla_check", table_name="disputes")
    with op.batch_alter_table("disputes") as batch:
        for column in (
            "sla_check_at",
            "sla_level",
            "sla_due_at",
            "sla_entered_at",
            "sla_stage",
            "prior_disputes",
        ):
            batch.drop_column(column)
