"""a dispute's refund requests found through an index: every case file sums what the
dispute's succeeded refunds returned (its outcome, and each earlier dispute on the order)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_refund_requests_dispute", "refund_requests", ["dispute_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_refund_requests_dispute", table_name="refund_requests")
