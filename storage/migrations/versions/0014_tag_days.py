"""tag days: how many disputes opened on each UTC day carry each tag (SKU, category, carrier,
cited rule), so recurring groups count whole days from this table and read only the partial
days at a period's ends from dispute_tags

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispute_tag_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("disputes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "dimension", "value"),
    )
    if op.get_bind().dialect.name == "postgresql":
        day = "(opened_at AT TIME ZONE 'UTC')::date"
    else:  # stored as UTC text
        day = "date(opened_at)"
    op.execute(
        "INSERT INTO dispute_tag_days (day, dimension, value, disputes) "
        f"SELECT {day}, dimension, value, count(*) FROM dispute_tags GROUP BY 1, 2, 3"
    )


def downgrade() -> None:
    op.drop_table("dispute_tag_days")
