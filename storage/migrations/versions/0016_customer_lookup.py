"""a customer's disputes found through an index: every intake counts the customer's earlier
disputes (a priority fact) while it holds the dispute counter

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_disputes_customer", "disputes", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_disputes_customer", table_name="disputes")
