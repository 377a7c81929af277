"""the thread outbox: whether a dispute's thread (its parent message and cards) is still due in
Slack, when to try again, and the claim (lease and fence) of whoever is posting it

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("thread_due_at", WHEN, nullable=True))
        batch.add_column(sa.Column("thread_lease_until", WHEN, nullable=True))
        batch.add_column(
            sa.Column("thread_fence", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("thread_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("thread_error", sa.String(length=200), nullable=True))
    op.create_index("ix_disputes_thread_due", "disputes", ["thread_due_at"])
    # An open dispute whose thread, or a card of it, never made it to Slack is posted by the
    # outbox at once (a closed one's thread is history: `/dispute show` still posts it).
    op.execute(
        "UPDATE disputes SET thread_due_at = updated_at "
        "WHERE active_order_key IS NOT NULL AND (thread_ts IS NULL OR evidence_card_ts IS NULL)"
    )


def downgrade() -> None:
    op.drop_index("ix_disputes_thread_due", table_name="disputes")
    with op.batch_alter_table("disputes") as batch:
        for column in (
            "thread_error",
            "thread_attempts",
            "thread_fence",
            "thread_lease_until",
            "thread_due_at",
        ):
            batch.drop_column(column)
