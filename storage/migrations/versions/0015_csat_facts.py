"""csat facts: whether each dispute was sent a survey and its rating, kept on the dispute so
CSAT is counted with the other numbers of the disputes resolved in a period, from one index

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BEFORE = [
    "id",
    "created_at",
    "reason",
    "owner_id",
    "resolve_business_seconds",
    "reopened_at",
    "offers_made",
    "offers_declined",
    "followed_at",
    "resolution",
]
AFTER = [*BEFORE, "surveyed", "csat_rating"]


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(
            sa.Column("surveyed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("csat_rating", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE disputes SET surveyed = true, csat_rating = "
        "(SELECT s.rating FROM csat_surveys s WHERE s.dispute_id = disputes.id) "
        "WHERE id IN (SELECT dispute_id FROM csat_surveys)"
    )
    _resolved_index(AFTER)


def _resolved_index(carried: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_disputes_resolved_at", table_name="disputes")
        op.create_index(
            "ix_disputes_resolved_at", "disputes", ["resolved_at"], postgresql_include=carried
        )


def downgrade() -> None:
    _resolved_index(BEFORE)
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("csat_rating")
        batch.drop_column("surveyed")
