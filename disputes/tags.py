"""What a dispute is about, stored for recurring reasons and for the effect of citations: the
SKUs and categories returned, the carriers that shipped them, and the rules a decision cited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import Order
from storage.db import on_postgresql
from storage.tables import DisputeRow, DisputeTagDayRow, DisputeTagRow, core

MAX_VALUE = 200


class Dimension(StrEnum):
    SKU = "sku"
    CATEGORY = "category"
    CARRIER = "carrier"
    RULE = "rule"


Tag = tuple[Dimension, str]


def order_tags(order: Order) -> set[Tag]:
    """The SKUs and categories returned (every item when the return names none), and the
    carriers that shipped the order."""
    returned = (
        {entry.sku for entry in order.return_request.items} if order.return_request else set()
    )
    chosen = [item for item in order.items if item.sku in returned] or order.items
    tags: set[Tag] = {(Dimension.SKU, item.sku) for item in chosen if item.sku}
    tags |= {(Dimension.CATEGORY, item.category) for item in chosen if item.category}
    tags |= {(Dimension.CARRIER, s.carrier) for s in order.shipments if s.carrier}
    return tags


def rule_tags(rule_ids: Iterable[str]) -> set[Tag]:
    return {(Dimension.RULE, rule_id) for rule_id in rule_ids}


_HAVE = select(DisputeTagRow.dimension, DisputeTagRow.value).where(
    DisputeTagRow.dispute_id == bindparam("dispute_id")
)
_INSERT = insert(core(DisputeTagRow))
TAG_DAYS = core(DisputeTagDayRow)


async def add_tags(
    session: AsyncSession,
    row: DisputeRow,
    *groups: tuple[set[Tag], datetime],
    new_dispute: bool = False,
) -> None:
    """Store the tags the dispute does not have yet (a tag is never removed or moved), each
    group of tags added at its time. `new_dispute`: created in this transaction, it has none."""
    have: set[Tag] = set()
    if not new_dispute and any(tags for tags, _at in groups):
        found = await session.execute(_HAVE, {"dispute_id": row.id})
        have = {(Dimension(dimension), value) for dimension, value in found}
    values: list[dict[str, Any]] = []
    for tags, at in groups:
        for dimension, value in sorted(tags - have):
            values.append(
                {
                    "dispute_id": row.id,
                    "dimension": dimension.value,
                    "value": value[:MAX_VALUE],
                    "opened_at": row.created_at,
                    "added_at": at,
                }
            )
        have |= tags
    if values:
        await session.execute(_INSERT, values)
        await _count_days(session, row.created_at, values)


def _day_upsert(insert_new: Any) -> Any:
    upsert = insert_new(TAG_DAYS)
    return upsert.on_conflict_do_update(
        index_elements=["day", "dimension", "value"],
        set_={"disputes": TAG_DAYS.c.disputes + upsert.excluded.disputes},
    )


# Built once, its rows given as parameters: a VALUES list built per call is compiled per call.
_DAY_UPSERT = {True: _day_upsert(pg_insert), False: _day_upsert(sqlite_insert)}


async def _count_days(
    session: AsyncSession, opened_at: datetime, values: list[dict[str, Any]]
) -> None:
    """Add the new tags to their opening day's counts (`dispute_tag_days`), the rows in key
    order, so two writers lock the rows they share in the same order. An intake already holds
    the dispute counter until it commits, so the day's rows make none wait."""
    day = opened_at.astimezone(UTC).date()
    keys = sorted({(v["dimension"], v["value"]) for v in values})
    rows = [{"day": day, "dimension": d, "value": v, "disputes": 1} for d, v in keys]
    await session.execute(_DAY_UPSERT[on_postgresql(session)], rows)
