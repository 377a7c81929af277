"""The conversation's timed work, done from stored times on every outbox pass (so it survives
restarts and runs the same on any replica): offers expire, unanswered offers get their one
reminder, and resolved disputes get their closing message with the satisfaction survey.

Each item is its own transaction: one that fails is logged and the rest go on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.lifecycle import Event, Status
from disputes.links import LinkClaim, new_nonce
from disputes.models import dispute_ref
from disputes.offers import Offers
from disputes.payments import utcnow
from disputes.transitions import transition
from storage.db import Database
from storage.tables import CsatRow, CustomerOfferRow, DisputeRow, ProposalRow

log = logging.getLogger(__name__)

SYSTEM = Actor.system("conversation")
CSAT_DAYS = 30
BATCH = 100

ChoreNews = Literal["offer_expired", "reminder_queued", "closing_queued"]


@dataclass(frozen=True, slots=True)
class ChoreDone:
    news: ChoreNews
    dispute_number: int
    proposal_id: int | None = None
    proposed_by: str | None = None


Notify = Callable[[ChoreDone], Awaitable[None]]


class ConversationChores:
    def __init__(
        self,
        db: Database,
        offers: Offers,
        *,
        notify: Notify | None = None,
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.offers = offers
        self.notify = notify
        self.on_queued = on_queued
        self.clock = clock

    async def __call__(self) -> None:
        await self.run_once()

    async def run_once(self) -> list[ChoreDone]:
        """Everything due now; what was done, in order."""
        await self.offers.prepare()
        done: list[ChoreDone] = []
        now = self.clock()
        async with self.db.reading() as session:
            expiring = list(
                await session.scalars(
                    select(CustomerOfferRow.id)
                    .where(CustomerOfferRow.status == "open", CustomerOfferRow.expires_at <= now)
                    .limit(BATCH)
                )
            )
            reminding = list(
                await session.scalars(
                    select(CustomerOfferRow.id)
                    .where(
                        CustomerOfferRow.status == "open",
                        CustomerOfferRow.reminded_at.is_(None),
                        CustomerOfferRow.reminder_due_at <= now,
                        CustomerOfferRow.expires_at > now,
                    )
                    .limit(BATCH)
                )
            )
            closing = list(
                await session.scalars(
                    select(DisputeRow.id)
                    .where(DisputeRow.closing_due_at.is_not(None))
                    .order_by(DisputeRow.closing_due_at)
                    .limit(BATCH)
                )
            )
        for offer_id in expiring:
            await self._item(done, "expire", offer_id, self._expire)
        for offer_id in reminding:
            await self._item(done, "remind", offer_id, self._remind)
        for dispute_id in closing:
            await self._item(done, "close", dispute_id, self._close)
        if any(item.news != "offer_expired" for item in done):
            self.on_queued()
        for item in done:
            await self._tell(item)
        return done

    async def _item(
        self,
        done: list[ChoreDone],
        what: str,
        key: int,
        work: Callable[[AsyncSession, int], Awaitable[ChoreDone | None]],
    ) -> None:
        try:
            result = await self.db.run(lambda session: work(session, key))
        except Exception:
            log.exception("conversation chore %s %s failed; the rest go on", what, key)
            return
        if result is not None:
            done.append(result)

    async def _expire(self, session: AsyncSession, offer_id: int) -> ChoreDone | None:
        offer = await session.get(CustomerOfferRow, offer_id, populate_existing=True)
        if offer is None or offer.status != "open" or offer.expires_at > self.clock():
            return None
        row = await session.get(DisputeRow, offer.dispute_id, populate_existing=True)
        proposal = await session.get(ProposalRow, offer.proposal_id)
        assert row is not None and proposal is not None
        offer.status = "expired"
        proposal.status = "expired"
        if Status(row.status) != Status.AWAITING_CUSTOMER:
            return None  # withdrawn or escalated since: the dispute is in a person's hands
        await transition(
            session,
            row,
            Event.OFFER_EXPIRED,
            SYSTEM,
            details={"proposal": proposal.id, "offer": offer.id},
            at=self.clock(),
        )
        return ChoreDone("offer_expired", row.number, proposal.id, proposal.proposed_by)

    async def _remind(self, session: AsyncSession, offer_id: int) -> ChoreDone | None:
        offer = await session.get(CustomerOfferRow, offer_id, populate_existing=True)
        if offer is None or offer.status != "open" or offer.reminded_at is not None:
            return None
        row = await session.get(DisputeRow, offer.dispute_id, populate_existing=True)
        proposal = await session.get(ProposalRow, offer.proposal_id)
        assert row is not None and proposal is not None
        if Status(row.status) != Status.AWAITING_CUSTOMER:
            offer.reminded_at = self.clock()  # withdrawn or escalated since: nothing to remind of
            return None
        await self.offers.remind(session, row, proposal, offer)
        return ChoreDone("reminder_queued", row.number, proposal.id, proposal.proposed_by)

    async def _close(self, session: AsyncSession, dispute_id: int) -> ChoreDone | None:
        row = await session.get(DisputeRow, dispute_id, populate_existing=True)
        if row is None or row.closing_due_at is None:
            return None
        due_at = row.closing_due_at
        row.closing_due_at = None
        if Status(row.status) != Status.RESOLVED or not row.customer_email:
            return None  # reopened since, or nobody to write to
        proposal = await session.scalar(
            select(ProposalRow)
            .where(ProposalRow.dispute_id == row.id, ProposalRow.status == "approved")
            .order_by(ProposalRow.id.desc())
            .limit(1)
        )
        now = self.clock()
        survey = await session.scalar(select(CsatRow).where(CsatRow.dispute_id == row.id))
        if survey is None:
            survey = CsatRow(
                dispute_id=row.id,
                nonce=new_nonce(),
                created_at=now,
                expires_at=now + timedelta(days=CSAT_DAYS),
            )
            session.add(survey)
            await session.flush()
        claim = LinkClaim("csat", survey.id, row.number, survey.expires_at, survey.nonce)
        url = self.offers.config.link(await self.offers.signer.token(claim))
        try:
            rendered = await self.offers.render(
                session, row, proposal, "general:closing", extra={"csat_url": url}
            )
        except DisputeError as exc:  # a pack's template that cannot be filled: say so once
            await audit.append(
                session, row, SYSTEM, "customer.message_not_written", after={"reason": str(exc)}
            )
            log.error("%s", exc)
            return None
        await self.offers.queue(
            session,
            row,
            rendered,
            kind="closing",
            purpose=f"closing:{int(due_at.timestamp())}",
            url=url,
            actor=SYSTEM,
            at=now,
            proposal=proposal,
        )
        return ChoreDone("closing_queued", row.number, proposal.id if proposal else None)

    async def _tell(self, item: ChoreDone) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(item)
        except Exception:
            log.exception(
                "the thread of %s was not told: %s", dispute_ref(item.dispute_number), item.news
            )
