"""a dispute found by its thread (channel and thread ts) through an index: every reply, edit
or file in a thread looks it up

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_disputes_thread", "disputes", ["channel_id", "thread_ts"])


def downgrade() -> None:
    op.drop_index("ix_disputes_thread", table_name="disputes")
