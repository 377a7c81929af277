"""Disputes whose customer holds a link, made the way the app makes them: a proposal approved
inside the team and put to the customer as an offer, or a resolved dispute's closing message
with its survey. The links are read from the messages in the outbox.

    world = LinkWorld(db, tmp_path, orders=[order()])
    number, link = await world.offer("ORD-T1", kind="store_credit")
    answers = world.answers               # what the customer's pages call
    survey = await world.survey(number)   # once resolved: the closing message's link
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.refunds.fake import FakeGateway
from disputes.links import LinkClaim
from domain.orders import Order
from storage.db import Database
from storage.tables import (
    AuditRow,
    CsatRow,
    CustomerMessageRow,
    CustomerOfferRow,
    DisputeRow,
    PolicyDecisionRow,
)
from tests.support.money import MANAGER, PUBLIC_URL, SUPERVISOR, MoneyWorld
from tests.support.orders import order

PAID = 129_00


class LinkWorld:
    def __init__(self, db: Database, folder: Path, *, orders: Iterable[Order] = ()) -> None:
        orders = list(orders) or [order()]
        gateway = FakeGateway(paid={o.payment.reference: (PAID, o.currency) for o in orders})
        self.gateway = gateway
        # Options the pack says need agreement are put to the customer first, as the app does.
        self.money = MoneyWorld(db, gateway, folder, orders=orders, conversation=True)
        self.db = db
        self.clock = self.money.clock
        self.signer = self.money.signer
        self.config = self.money.conversation_config
        assert self.money.offers is not None and self.money.outbox.chores is not None
        self.offers = self.money.offers
        self.answers = self.money.answers
        self.chores = self.money.outbox.chores

    async def offer(
        self, order_id: str = "ORD-T1", *, kind: str = "store_credit", amount: str | None = None
    ) -> tuple[int, str]:
        """A dispute opened, proposed and approved, awaiting the customer: (number, token)."""
        number = await self.money.open(order_id)
        proposal = await self.money.propose(number, MANAGER, kind=kind, amount=amount)
        await self.money.approve(number, proposal, SUPERVISOR)
        assert await self.status(number) == "awaiting_customer"
        return number, await self.latest_token(number, "offer")

    async def survey(self, number: int) -> str:
        """The token of a resolved dispute's survey, once its closing message is queued."""
        await self.chores.run_once()
        return await self.latest_token(number, "closing")

    async def latest_token(self, number: int, kind: str) -> str:
        async with self.db.reading() as session:
            message = await session.scalar(
                select(CustomerMessageRow)
                .join(DisputeRow, DisputeRow.id == CustomerMessageRow.dispute_id)
                .where(DisputeRow.number == number, CustomerMessageRow.kind == kind)
                .order_by(CustomerMessageRow.id.desc())
                .limit(1)
            )
        assert message is not None, f"no {kind} message for D-{number}"
        (url,) = message.links
        prefix = f"{PUBLIC_URL}/c/"
        assert url.startswith(prefix)
        return url.removeprefix(prefix)

    async def sign(self, claim: LinkClaim) -> str:
        """A token with a good signature for any claim, as only the installation can make."""
        return await self.signer.token(claim)

    async def offer_row(self, number: int) -> CustomerOfferRow:
        async with self.db.reading() as session:
            found = await session.scalar(
                select(CustomerOfferRow)
                .join(DisputeRow, DisputeRow.id == CustomerOfferRow.dispute_id)
                .where(DisputeRow.number == number)
                .order_by(CustomerOfferRow.id.desc())
                .limit(1)
            )
        assert found is not None
        return found

    async def survey_row(self, number: int) -> CsatRow:
        async with self.db.reading() as session:
            found = await session.scalar(
                select(CsatRow)
                .join(DisputeRow, DisputeRow.id == CsatRow.dispute_id)
                .where(DisputeRow.number == number)
            )
        assert found is not None
        return found

    async def status(self, number: int) -> str:
        return await self.money.status(number)

    async def trail(self, number: int) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The audit trail as (actor type, actor id, action, after), oldest first."""
        async with self.db.reading() as session:
            entries = await session.scalars(
                select(AuditRow)
                .join(DisputeRow, DisputeRow.id == AuditRow.dispute_id)
                .where(DisputeRow.number == number)
                .order_by(AuditRow.seq)
            )
            return [(e.actor_type, e.actor_id, e.action, dict(e.after)) for e in entries]

    async def rewrite_cited_rules(self, number: int, **fields: str) -> None:
        """Change what the stored policy decision says of its matched rules (title, text…)."""
        async with self.db.transaction() as session:
            row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
            assert row is not None
            stored = await session.scalar(
                select(PolicyDecisionRow)
                .where(PolicyDecisionRow.dispute_id == row.id)
                .order_by(PolicyDecisionRow.id.desc())
                .limit(1)
            )
            assert stored is not None
            decision = dict(stored.decision)
            decision["matched"] = [{**rule, **fields} for rule in decision["matched"]]
            stored.decision = decision
