"""insights: each dispute's milestones (first resolved, its business time, first reopened after
that, last closed), what a dispute is about (tags: reason, SKU, category, carrier, cited rule),
the service-level stage runs that ended, and the offers read by dispute

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BATCH = 1_000


def upgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.add_column(sa.Column("resolved_at", WHEN, nullable=True))
        batch.add_column(sa.Column("resolve_business_seconds", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("reopened_at", WHEN, nullable=True))
        batch.add_column(sa.Column("closed_at", WHEN, nullable=True))
    op.create_index("ix_disputes_created_at", "disputes", ["created_at"])
    op.create_index("ix_disputes_resolved_at", "disputes", ["resolved_at"])
    op.create_index("ix_disputes_closed_at", "disputes", ["closed_at"])
    op.create_index("ix_customer_offers_dispute", "customer_offers", ["dispute_id"])
    op.create_index("ix_customer_offers_answered", "customer_offers", ["answered_at"])
    op.create_index("ix_customer_offers_expires", "customer_offers", ["expires_at"])
    op.create_table(
        "dispute_tags",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("added_at", WHEN, nullable=False),
        sa.UniqueConstraint("dispute_id", "dimension", "value", name="uq_dispute_tags_value"),
    )
    op.create_index("ix_dispute_tags_dimension_opened", "dispute_tags", ["dimension", "opened_at"])
    op.create_table(
        "sla_stage_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dispute_id",
            sa.Integer(),
            sa.ForeignKey("disputes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("entered_at", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("left_at", WHEN, nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sla_stage_runs_left", "sla_stage_runs", ["left_at"])
    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    """Milestones from the stored state times, tags from the stored orders and decisions.
    Business time to resolve is filled by the first scans after the upgrade (it needs the SLA
    file's calendar); stage runs begin with the upgrade."""
    meta = sa.MetaData()
    disputes = sa.Table("disputes", meta, autoload_with=bind)
    tags = sa.Table("dispute_tags", meta, autoload_with=bind)
    decisions = sa.Table("policy_decisions", meta, autoload_with=bind)
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                disputes.c.id,
                disputes.c.status,
                disputes.c.state_times,
                disputes.c.reason,
                disputes.c.order_snapshot,
                disputes.c.created_at,
            )
            .where(disputes.c.id > last)
            .order_by(disputes.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        cited = _cited(bind, decisions, [row.id for row in rows])
        new_tags: list[dict[str, Any]] = []
        for row in rows:
            times = _json(row.state_times) or {}
            resolved = _when(times.get("resolved"))
            reopened = _when(times.get("reopened"))
            values = {
                "resolved_at": resolved,
                "reopened_at": reopened if resolved and reopened and reopened > resolved else None,
                "closed_at": _when(times.get(row.status))
                if row.status in ("resolved", "withdrawn")
                else None,
            }
            bind.execute(sa.update(disputes).where(disputes.c.id == row.id).values(**values))
            opened = row.created_at
            pairs = _order_tags(_json(row.order_snapshot) or {})
            pairs |= {("rule", rule) for rule in cited.get(row.id, ())}
            new_tags += [
                {
                    "dispute_id": row.id,
                    "dimension": dimension,
                    "value": value[:200],
                    "opened_at": opened,
                    "added_at": opened,
                }
                for dimension, value in sorted(pairs)
            ]
        if new_tags:
            bind.execute(sa.insert(tags), new_tags)


def _cited(bind: sa.Connection, decisions: sa.Table, ids: list[int]) -> dict[int, set[str]]:
    cited: dict[int, set[str]] = {}
    for dispute_id, decision in bind.execute(
        sa.select(decisions.c.dispute_id, decisions.c.decision).where(
            decisions.c.dispute_id.in_(ids)
        )
    ):
        for rule in (_json(decision) or {}).get("matched") or []:
            if isinstance(rule, dict) and rule.get("id"):
                cited.setdefault(dispute_id, set()).add(str(rule["id"]))
    return cited


def _order_tags(order: dict[str, Any]) -> set[tuple[str, str]]:
    """The SKUs and categories returned (every item when the return names none) and the
    carriers that shipped the order."""
    items = [item for item in order.get("items") or [] if isinstance(item, dict)]
    returned = {
        entry.get("sku")
        for entry in ((order.get("return_request") or {}).get("items") or [])
        if isinstance(entry, dict)
    }
    chosen = [item for item in items if item.get("sku") in returned] or items
    pairs = {("sku", str(item["sku"])) for item in chosen if item.get("sku")}
    pairs |= {("category", str(item["category"])) for item in chosen if item.get("category")}
    pairs |= {
        ("carrier", str(shipment["carrier"]))
        for shipment in order.get("shipments") or []
        if isinstance(shipment, dict) and shipment.get("carrier")
    }
    return pairs


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def downgrade() -> None:
    op.drop_index("ix_sla_stage_runs_left", table_name="sla_stage_runs")
    op.drop_table("sla_stage_runs")
    op.drop_index("ix_dispute_tags_dimension_opened", table_name="dispute_tags")
    op.drop_table("dispute_tags")
    op.drop_index("ix_customer_offers_expires", table_name="customer_offers")
    op.drop_index("ix_customer_offers_answered", table_name="customer_offers")
    op.drop_index("ix_customer_offers_dispute", table_name="customer_offers")
    op.drop_index("ix_disputes_closed_at", table_name="disputes")
    op.drop_index("ix_disputes_resolved_at", table_name="disputes")
    op.drop_index("ix_disputes_created_at", table_name="disputes")
    with op.batch_alter_table("disputes") as batch:
        for column in ("closed_at", "reopened_at", "resolve_business_seconds", "resolved_at"):
            batch.drop_column(column)
