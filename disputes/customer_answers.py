"""The customer's answers on their pages (`PUBLIC_URL/c/<token>`): accept or decline an offer,
rate how the dispute was handled. Each is answered once, in one transaction, audited as the
customer; reading a page changes nothing.

Accepting carries the approved option out exactly as an approval without agreement would (the
refund queued against the ledger, or the dispute resolved); declining sends the dispute back to
review with the customer's reason. An expired, answered or withdrawn offer moves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.lifecycle import Event, Status
from disputes.links import BadLink, LinkClaim, LinkSigner
from disputes.message_facts import amount_text, cited_rule, day_text
from disputes.models import dispute_ref
from disputes.payments import utcnow
from disputes.policy_decisions import latest_decision
from disputes.resolution import Proposal, ResolutionService, to_proposal
from disputes.transitions import transition
from domain.money import Money
from domain.resolutions import MONEY_KINDS, Resolution
from domain.text import clean_text
from storage.db import Database
from storage.tables import CsatRow, CustomerOfferRow, DisputeRow, ProposalRow

log = logging.getLogger(__name__)

MAX_REASON = 2_000
MAX_COMMENT = 2_000

AnswerKind = Literal["accepted", "declined", "rated"]


@dataclass(frozen=True, slots=True)
class LinkPage:
    """What a customer's page shows."""

    kind: str  # offer | csat
    dispute_ref: str
    customer_name: str | None
    # offer: open, accepted, declined, expired, withdrawn; csat: open, rated, expired
    status: str
    resolution_label: str | None = None
    amount: str | None = None
    rule_citation: str | None = None
    rule_title: str | None = None
    rule_text: str | None = None
    expires: str | None = None
    rating: int | None = None
    comment: str | None = None
    answered: str | None = None  # the day the customer answered

    @property
    def answerable(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer the customer gave, for the thread to show."""

    kind: AnswerKind
    dispute_number: int
    proposal_id: int | None = None
    proposed_by: str | None = None
    resolution: Resolution | None = None
    reason: str | None = None  # why they declined
    rating: int | None = None
    comment: str | None = None


class AnswerRefused(DisputeError):
    """The answer cannot be taken (answered already, expired): `page` says where it stands."""

    def __init__(self, page: LinkPage) -> None:
        super().__init__(f"{page.dispute_ref}: this {page.kind} is {page.status}")
        self.page = page


Notify = Callable[[Answer], Awaitable[None]]


class CustomerAnswers:
    def __init__(
        self,
        db: Database,
        signer: LinkSigner,
        resolution: ResolutionService,
        *,
        notify: Notify | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.signer = signer
        self.resolution = resolution
        self.notify = notify
        self.clock = clock

    async def page(self, token: str) -> LinkPage:
        """The page a link shows; BadLink for anything but a link of ours."""
        claim = await self.signer.read(token)
        async with self.db.reading() as session:
            return await self._page(session, claim)

    async def accept(self, token: str) -> LinkPage:
        claim = await self._claim(token, "offer")
        answer: Answer | None = None
        approved: Proposal | None = None

        async def work(session: AsyncSession) -> LinkPage:
            nonlocal answer, approved
            row, offer, proposal = await self._open_offer(session, claim)
            now = self.clock()
            offer.status, offer.answered_at = "accepted", now
            actor = _customer(row)
            await transition(
                session,
                row,
                Event.CUSTOMER_ACCEPTED,
                actor,
                details={"proposal": proposal.id, "offer": offer.id},
                at=now,
            )
            await self.resolution.carry_out(session, row, proposal, actor, now)
            approved = to_proposal(proposal, row.number)
            answer = Answer(
                "accepted", row.number, proposal.id, proposal.proposed_by, Resolution(proposal.kind)
            )
            return await self._page(session, claim)

        page = await self.db.run(work)
        assert answer is not None and approved is not None
        await self.resolution.after_carried_out(approved)
        await self._tell(answer)
        return page

    async def decline(self, token: str, reason: str) -> LinkPage:
        claim = await self._claim(token, "offer")
        reason = clean_text(reason).strip()[:MAX_REASON]
        answer: Answer | None = None

        async def work(session: AsyncSession) -> LinkPage:
            nonlocal answer
            row, offer, proposal = await self._open_offer(session, claim)
            now = self.clock()
            offer.status, offer.answered_at = "declined", now
            offer.decline_reason = reason or None
            proposal.status = "declined"
            await transition(
                session,
                row,
                Event.CUSTOMER_DECLINED,
                _customer(row),
                details={"proposal": proposal.id, "offer": offer.id, "reason": reason},
                at=now,
            )
            answer = Answer(
                "declined",
                row.number,
                proposal.id,
                proposal.proposed_by,
                Resolution(proposal.kind),
                reason=reason or None,
            )
            return await self._page(session, claim)

        page = await self.db.run(work)
        assert answer is not None
        await self._tell(answer)
        return page

    async def rate(self, token: str, rating: int, comment: str) -> LinkPage:
        claim = await self._claim(token, "csat")
        if not 1 <= rating <= 5:
            raise DisputeError("A rating is a whole number from 1 to 5.")
        comment = clean_text(comment).strip()[:MAX_COMMENT]
        answer: Answer | None = None

        async def work(session: AsyncSession) -> LinkPage:
            nonlocal answer
            row = await _dispute(session, claim)
            survey = await session.get(CsatRow, claim.row_id, populate_existing=True)
            if survey is None or survey.nonce != claim.nonce or survey.dispute_id != row.id:
                raise BadLink("not a link of ours")
            now = self.clock()
            if survey.rating is not None or now >= survey.expires_at:
                raise AnswerRefused(await self._page(session, claim))
            survey.rating, survey.comment, survey.answered_at = rating, comment or None, now
            await audit.append(
                session,
                row,
                _customer(row),
                "customer.rated",
                after={"survey": survey.id, "rating": rating, "comment": comment},
                at=now,
            )
            answer = Answer("rated", row.number, rating=rating, comment=comment or None)
            return await self._page(session, claim)

        page = await self.db.run(work)
        assert answer is not None
        await self._tell(answer)
        return page

    async def _claim(self, token: str, kind: str) -> LinkClaim:
        claim = await self.signer.read(token)
        if claim.kind != kind:
            raise BadLink("not a link of ours")
        return claim

    async def _open_offer(
        self, session: AsyncSession, claim: LinkClaim
    ) -> tuple[DisputeRow, CustomerOfferRow, ProposalRow]:
        """The offer, locked with its dispute, if it may still be answered; else AnswerRefused
        with the page as it stands."""
        row = await _dispute(session, claim)
        offer = await _offer(session, claim, row)
        proposal = await session.get(ProposalRow, offer.proposal_id, populate_existing=True)
        assert proposal is not None
        if (
            offer.status != "open"
            or self.clock() >= offer.expires_at
            or Status(row.status) != Status.AWAITING_CUSTOMER
        ):
            raise AnswerRefused(await self._page(session, claim))
        return row, offer, proposal

    async def _page(self, session: AsyncSession, claim: LinkClaim) -> LinkPage:
        row = await _dispute(session, claim)
        if claim.kind == "csat":
            survey = await session.get(CsatRow, claim.row_id, populate_existing=True)
            if survey is None or survey.nonce != claim.nonce or survey.dispute_id != row.id:
                raise BadLink("not a link of ours")
            status = "rated" if survey.rating is not None else "open"
            if status == "open" and self.clock() >= survey.expires_at:
                status = "expired"
            return LinkPage(
                "csat",
                dispute_ref(row.number),
                row.customer_name,
                status,
                rating=survey.rating,
                comment=survey.comment,
                answered=day_text(survey.answered_at) if survey.answered_at else None,
            )
        offer = await _offer(session, claim, row)
        proposal = await session.get(ProposalRow, offer.proposal_id)
        assert proposal is not None
        kind = Resolution(proposal.kind)
        status = offer.status
        if status == "open" and (
            self.clock() >= offer.expires_at or Status(row.status) != Status.AWAITING_CUSTOMER
        ):
            status = "expired" if self.clock() >= offer.expires_at else "withdrawn"
        rule = cited_rule(await latest_decision(session, row), kind)
        amount = None
        if proposal.amount_minor is not None and kind in MONEY_KINDS | {Resolution.STORE_CREDIT}:
            amount = amount_text(Money(proposal.amount_minor, proposal.currency))
        return LinkPage(
            "offer",
            dispute_ref(row.number),
            row.customer_name,
            status,
            resolution_label=kind.label,
            amount=amount,
            rule_citation=rule.citation if rule else None,
            rule_title=rule.title if rule else None,
            rule_text=rule.text if rule else None,
            expires=day_text(offer.expires_at),
            answered=day_text(offer.answered_at) if offer.answered_at else None,
        )

    async def _tell(self, answer: Answer) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(answer)
        except Exception:
            log.exception(
                "the thread of %s was not told of the customer's answer",
                dispute_ref(answer.dispute_number),
            )


def _customer(row: DisputeRow) -> Actor:
    return Actor.customer(row.customer_email or row.customer_id or "customer")


async def _dispute(session: AsyncSession, claim: LinkClaim) -> DisputeRow:
    row = await session.scalar(select(DisputeRow).where(DisputeRow.number == claim.dispute_number))
    if row is None:
        raise BadLink("not a link of ours")
    return row


async def _offer(session: AsyncSession, claim: LinkClaim, row: DisputeRow) -> CustomerOfferRow:
    offer = await session.get(CustomerOfferRow, claim.row_id, populate_existing=True)
    if offer is None or offer.nonce != claim.nonce or offer.dispute_id != row.id:
        raise BadLink("not a link of ours")
    return offer
