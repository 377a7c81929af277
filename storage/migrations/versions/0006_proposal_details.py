"""proposals numbered per dispute; the override reason, the decision's reason and the
supervisors' alert kept with the proposal

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("alert_channel", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("alert_ts", sa.String(length=40), nullable=True))
    # Earlier proposals are numbered in the order they were made, within their dispute.
    op.execute(
        """
        UPDATE proposals SET number = (
            SELECT COUNT(*) FROM proposals earlier
            WHERE earlier.dispute_id = proposals.dispute_id AND earlier.id <= proposals.id
        )
        """
    )
    with op.batch_alter_table("proposals") as batch:
        batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_proposals_dispute_number", ["dispute_id", "number"])


def downgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.drop_constraint("uq_proposals_dispute_number", type_="unique")
        batch.drop_column("alert_ts")
        batch.drop_column("alert_channel")
        batch.drop_column("decision_reason")
        batch.drop_column("override_reason")
        batch.drop_column("number")
