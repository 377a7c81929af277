"""insight facts: each dispute's offers made and declined, the next dispute on its order after
its first resolution and the kind of its last approved proposal; each offer's basis (the evidence
kinds on file and the rules cited when it was made); on PostgreSQL, the indexes insights read
carry what they need, so a report reads index ranges alone

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BATCH = 1_000
RESOLVED_FACTS = [
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
OFFER_FACTS = ["status", "created_at", "answered_at", "basis"]
# (index, table, column, what PostgreSQL's copy of it carries)
COVERING = [
    ("ix_disputes_created_at", "disputes", "created_at", ["reason"]),
    ("ix_disputes_resolved_at", "disputes", "resolved_at", RESOLVED_FACTS),
    ("ix_disputes_closed_at", "disputes", "closed_at", ["created_at", "owner_id", "priority"]),
    ("ix_customer_offers_answered", "customer_offers", "answered_at", OFFER_FACTS),
    ("ix_customer_offers_expires", "customer_offers", "expires_at", OFFER_FACTS),
    ("ix_sla_stage_runs_left", "sla_stage_runs", "left_at", ["stage", "breached"]),
]


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("offers_made", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("offers_declined", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("followed_at", WHEN, nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(length=30), nullable=True))
    with op.batch_alter_table("customer_offers") as batch:
        batch.add_column(sa.Column("basis", sa.Text(), nullable=True))
    op.execute(
        "UPDATE disputes SET "
        "offers_made = (SELECT count(*) FROM customer_offers c WHERE c.dispute_id = disputes.id), "
        "offers_declined = (SELECT count(*) FROM customer_offers c "
        "  WHERE c.dispute_id = disputes.id AND c.status = 'declined'), "
        "resolution = (SELECT p.kind FROM proposals p "
        "  WHERE p.dispute_id = disputes.id AND p.status = 'approved' ORDER BY p.id DESC LIMIT 1) "
        "WHERE id IN (SELECT dispute_id FROM customer_offers "
        "  UNION SELECT dispute_id FROM proposals WHERE status = 'approved')"
    )
    op.execute(
        "UPDATE disputes SET followed_at = (SELECT min(later.created_at) FROM disputes later "
        "  WHERE later.order_id = disputes.order_id AND later.id <> disputes.id "
        "  AND later.created_at > disputes.resolved_at) "
        "WHERE resolved_at IS NOT NULL AND order_id IN "
        "  (SELECT order_id FROM disputes GROUP BY order_id HAVING count(*) > 1)"
    )
    _bases()
    op.create_index(
        "ix_dispute_tags_opened",
        "dispute_tags",
        ["opened_at"],
        postgresql_include=["dimension", "value"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, table, column, carried in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column], postgresql_include=carried)


def _bases() -> None:
    """Each offer's basis, from the evidence captured and the rules cited up to its making."""
    bind = op.get_bind()
    kinds: dict[int, set[str]] = defaultdict(set)
    rules: dict[int, set[str]] = defaultdict(set)
    for offer_id, kind in bind.execute(
        sa.text(
            "SELECT DISTINCT c.id, e.kind FROM customer_offers c "
            "JOIN evidence_items e ON e.dispute_id = c.dispute_id "
            "WHERE e.captured_at <= c.created_at"
        )
    ):
        kinds[offer_id].add(kind)
    for offer_id, rule in bind.execute(
        sa.text(
            "SELECT DISTINCT c.id, t.value FROM customer_offers c "
            "JOIN dispute_tags t ON t.dispute_id = c.dispute_id "
            "WHERE t.dimension = 'rule' AND t.added_at <= c.created_at"
        )
    ):
        rules[offer_id].add(rule)
    pending = [
        {
            "offer_id": offer_id,
            "basis": json.dumps(
                {"kinds": sorted(kinds[offer_id]), "rules": sorted(rules[offer_id])}
            ),
        }
        for offer_id in bind.execute(sa.text("SELECT id FROM customer_offers")).scalars()
    ]
    statement = sa.text("UPDATE customer_offers SET basis = :basis WHERE id = :offer_id")
    for start in range(0, len(pending), BATCH):
        bind.execute(statement, pending[start : start + BATCH])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, column, _ in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column])
    op.drop_index("ix_dispute_tags_opened", table_name="dispute_tags")
    with op.batch_alter_table("customer_offers") as batch:
        batch.drop_column("basis")
    with op.batch_alter_table("disputes") as batch:
        for column in ("resolution", "followed_at", "offers_declined", "offers_made"):
            batch.drop_column(column)
