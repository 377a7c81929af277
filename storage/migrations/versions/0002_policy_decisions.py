"""policy decisions, the order snapshot and the policy card of each dispute

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("policy_card_ts", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("order_snapshot", sa.JSON(), nullable=True))
    op.create_table(
        "policy_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("pack_name", sa.String(length=100), nullable=False),
        sa.Column("pack_version", sa.String(length=60), nullable=False),
        sa.Column("pack_hash", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("decision_hash", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_decisions_dispute", "policy_decisions", ["dispute_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_policy_decisions_dispute", table_name="policy_decisions")
    op.drop_table("policy_decisions")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("order_snapshot")
        batch.drop_column("policy_card_ts")
