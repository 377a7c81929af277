"""The facts insights read, kept on the rows they describe as the app writes, so a report over
a million disputes reads one index range instead of joining four tables for each dispute:

- on each dispute: how many offers it made and how many the customer declined, the first
  dispute opened on the same order after its first resolution (`followed_at`), the kind of
  its last approved proposal (`resolution`), and whether it was sent a survey and its rating;
- on each offer: its `basis`, the evidence kinds on file and the rules cited when it was made;
- per UTC day, tag and value: how many disputes opened that day carry it (`dispute_tag_days`,
  counted by `disputes.tags.add_tags` with the tags it writes; recounted here).

Each is recomputed from its source rows by one statement after a flush that wrote them
(`keep`), and for every row at once by `refresh_all` (the rows written without the app's
hook: a test's history, the benchmark's dataset). Evidence and tags are never deleted, so a
basis made when the offer was made is the same as one made later from what was on file then.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Update,
    bindparam,
    delete,
    exists,
    func,
    inspect,
    select,
    union,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy import insert as insert_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from disputes.tags import Dimension
from storage.db import Database
from storage.tables import (
    CsatRow,
    CustomerOfferRow,
    DisputeRow,
    DisputeTagDayRow,
    DisputeTagRow,
    EvidenceRow,
    ProposalRow,
    core,
)

BATCH = 1_000
DISPUTES = core(DisputeRow)
TAG_DAYS = core(DisputeTagDayRow)
OFFERS = core(CustomerOfferRow)


@dataclass(frozen=True, slots=True)
class Basis:
    """What an offer was made on: the evidence kinds on file and the rules cited."""

    kinds: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()

    def encode(self) -> str:
        return json.dumps({"kinds": sorted(self.kinds), "rules": sorted(self.rules)})

    @classmethod
    def decode(cls, text: str | None) -> Basis:
        if not text:
            return cls()
        stored = json.loads(text)
        return cls(frozenset(stored.get("kinds", ())), frozenset(stored.get("rules", ())))


@dataclass
class Written:
    """What a flush wrote that the facts depend on."""

    disputes: set[int] = field(default_factory=set)  # offers, proposals or surveys changed
    orders: set[str] = field(default_factory=set)  # a dispute opened, or first resolved
    offers: set[int] = field(default_factory=set)  # offers made

    def __bool__(self) -> bool:
        return bool(self.disputes or self.orders or self.offers)


def keep(db: Database) -> None:
    """Keep the facts of every row written through `db`, in the flush's own transaction."""
    db.after_flush(lambda session: refresh(session.connection(), written(session)))


# Orders a dispute is opened on in a session, known to have no other dispute.
_FIRST_ON_ORDER = "first_on_order"


def first_on_order(session: AsyncSession, order_id: str) -> None:
    """The dispute about to be written in this session is the order's first: opening it
    follows up on no earlier one, so there is no `followed_at` to set."""
    session.info.setdefault(_FIRST_ON_ORDER, set()).add(order_id)


def written(session: Session) -> Written:
    """Read from a flush that has just run (its new and dirty objects still listed)."""
    found = Written()
    first = session.info.get(_FIRST_ON_ORDER, ())
    for row in session.new:
        if isinstance(row, CustomerOfferRow):
            found.disputes.add(row.dispute_id)
            found.offers.add(row.id)
        elif isinstance(row, ProposalRow | CsatRow):
            found.disputes.add(row.dispute_id)
        elif isinstance(row, DisputeRow) and row.order_id not in first:
            found.orders.add(row.order_id)
    for row in session.dirty:
        if isinstance(row, CustomerOfferRow | ProposalRow | CsatRow) and _changed(
            row, "rating" if isinstance(row, CsatRow) else "status"
        ):
            found.disputes.add(row.dispute_id)
        elif isinstance(row, DisputeRow) and _changed(row, "resolved_at"):
            found.orders.add(row.order_id)
    return found


def _changed(row: Any, name: str) -> bool:
    return bool(inspect(row).attrs[name].history.has_changes())


def refresh(connection: Connection, touched: Written) -> None:
    if not touched:
        return
    if touched.disputes:
        connection.execute(_DISPUTE_FACTS.where(DISPUTES.c.id.in_(sorted(touched.disputes))))
    if touched.orders:
        connection.execute(
            _FOLLOWED.where(
                DISPUTES.c.order_id.in_(sorted(touched.orders)),
                DISPUTES.c.resolved_at.is_not(None),
            )
        )
    if touched.offers:
        _write_bases(connection, bases_of(connection, sorted(touched.offers)))


def recount_tag_days(connection: Connection) -> None:
    """Every day's tag counts, from `dispute_tags`."""
    t = core(DisputeTagRow)
    if connection.dialect.name == "postgresql":
        day: Any = cast_(func.timezone("UTC", t.c.opened_at), Date)
    else:  # stored as UTC text
        day = func.date(t.c.opened_at)
    connection.execute(delete(TAG_DAYS))
    connection.execute(
        insert_(TAG_DAYS).from_select(
            ["day", "dimension", "value", "disputes"],
            select(day, t.c.dimension, t.c.value, func.count()).group_by(
                day, t.c.dimension, t.c.value
            ),
        )
    )


def refresh_all(connection: Connection) -> None:
    """Every dispute's and offer's facts, and the tag days, recomputed from their source
    rows."""
    p = core(ProposalRow)
    concerned = union(
        select(OFFERS.c.dispute_id),
        select(p.c.dispute_id).where(p.c.status == "approved"),
        select(CsatRow.dispute_id),
    )
    connection.execute(_DISPUTE_FACTS.where(DISPUTES.c.id.in_(concerned)))
    connection.execute(_FOLLOWED.where(DISPUTES.c.resolved_at.is_not(None)))
    _write_bases(connection, bases_of(connection, None))
    recount_tag_days(connection)


def dispute_facts() -> Update:
    c, p, survey = OFFERS, core(ProposalRow), core(CsatRow)
    mine = c.c.dispute_id == DISPUTES.c.id
    surveyed = survey.c.dispute_id == DISPUTES.c.id
    return update(DISPUTES).values(
        surveyed=exists().where(surveyed),
        csat_rating=select(survey.c.rating).where(surveyed).scalar_subquery(),
        offers_made=select(func.count()).where(mine).scalar_subquery(),
        offers_declined=select(func.count())
        .where(mine, c.c.status == "declined")
        .scalar_subquery(),
        resolution=select(p.c.kind)
        .where(p.c.dispute_id == DISPUTES.c.id, p.c.status == "approved")
        .order_by(p.c.id.desc())
        .limit(1)
        .scalar_subquery(),
    )


def followed() -> Update:
    later = DISPUTES.alias("later")
    return update(DISPUTES).values(
        followed_at=select(func.min(later.c.created_at))
        .where(
            later.c.order_id == DISPUTES.c.order_id,
            later.c.id != DISPUTES.c.id,
            later.c.created_at > DISPUTES.c.resolved_at,
        )
        .scalar_subquery()
    )


def bases_of(connection: Connection, offer_ids: Iterable[int] | None) -> dict[int, Basis]:
    """Each offer's basis: the evidence captured and the rules cited up to its making."""
    ids = None if offer_ids is None else list(offer_ids)
    kinds: dict[int, set[str]] = defaultdict(set)
    rules: dict[int, set[str]] = defaultdict(set)
    e, t = EvidenceRow.__table__, DisputeTagRow.__table__
    on_file = (
        select(OFFERS.c.id, e.c.kind)
        .join(e, e.c.dispute_id == OFFERS.c.dispute_id)
        .where(e.c.captured_at <= OFFERS.c.created_at)
        .distinct()
    )
    cited = (
        select(OFFERS.c.id, t.c.value)
        .join(t, t.c.dispute_id == OFFERS.c.dispute_id)
        .where(t.c.dimension == Dimension.RULE.value, t.c.added_at <= OFFERS.c.created_at)
        .distinct()
    )
    everyone = select(OFFERS.c.id)
    if ids is not None:
        on_file = on_file.where(OFFERS.c.id.in_(ids))
        cited = cited.where(OFFERS.c.id.in_(ids))
        everyone = everyone.where(OFFERS.c.id.in_(ids))
    for offer_id, kind in connection.execute(on_file):
        kinds[offer_id].add(kind)
    for offer_id, rule in connection.execute(cited):
        rules[offer_id].add(rule)
    return {
        offer_id: Basis(frozenset(kinds[offer_id]), frozenset(rules[offer_id]))
        for offer_id in connection.execute(everyone).scalars()
    }


def _write_bases(connection: Connection, bases: dict[int, Basis]) -> None:
    statement = (
        update(OFFERS).where(OFFERS.c.id == bindparam("offer_id")).values(basis=bindparam("text"))
    )
    pending = [{"offer_id": i, "text": basis.encode()} for i, basis in bases.items()]
    for start in range(0, len(pending), BATCH):
        connection.execute(statement, pending[start : start + BATCH])


# Built once: they run after every flush that writes offers, proposals, surveys or disputes.
_DISPUTE_FACTS = dispute_facts()
_FOLLOWED = followed()
