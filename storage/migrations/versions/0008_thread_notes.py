"""thread notes: a person's text reply in a dispute's thread, filed as an internal note with
its edits and its deletion

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "thread_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("message_ts", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("posted_at", WHEN, nullable=False),
        sa.Column("edited_at", WHEN, nullable=True),
        sa.Column("deleted_at", WHEN, nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.UniqueConstraint("channel_id", "message_ts", name="uq_thread_notes_message"),
    )
    op.create_index("ix_thread_notes_dispute", "thread_notes", ["dispute_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_thread_notes_dispute", table_name="thread_notes")
    op.drop_table("thread_notes")
