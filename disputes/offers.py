"""Putting an approved option to the customer: the offer row, its signed link and the message
that carries it, all in the transaction that approves the proposal.

The pack says, per option, whether the customer must agree (`customer_agreement: required`) or
is only told (`notify`). An option that needs agreement moves no money and ships nothing until
the customer accepts on the offer's page (`disputes.customer_answers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from disputes.audit import Actor
from disputes.customer_messages import ConversationConfig, MessageKind, queue_message
from disputes.errors import DisputeError
from disputes.lifecycle import Event
from disputes.links import LinkClaim, LinkSigner, new_nonce
from disputes.message_facts import day_text, dispute_facts
from disputes.models import dispute_ref
from disputes.payments import utcnow
from disputes.policy_decisions import latest_decision
from disputes.transitions import transition
from domain.resolutions import Resolution
from policies.current import CurrentPack
from policies.messages import MessageError, MessageTemplates, MissingFact, Rendered
from storage.tables import CustomerOfferRow, DisputeRow, ProposalRow


class Offers:
    """Decides which approvals wait for the customer, and writes the offer when one does."""

    def __init__(
        self,
        signer: LinkSigner,
        config: ConversationConfig,
        pack: CurrentPack,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.signer = signer
        self.config = config
        self.pack = pack
        self.clock = clock

    def needs_agreement(self, kind: Resolution) -> bool:
        return self.pack.refresh().needs_agreement(kind)

    def templates(self) -> MessageTemplates:
        return MessageTemplates(self.pack.refresh())

    async def prepare(self) -> None:
        """Read the link key before a write transaction needs it."""
        await self.signer.key()

    async def put(
        self,
        session: AsyncSession,
        row: DisputeRow,
        proposal: ProposalRow,
        actor: Actor,
        at: datetime,
    ) -> CustomerOfferRow:
        """The offer, its message in the outbox and the dispute awaiting the customer."""
        expires = at + timedelta(days=self.config.offer_days)
        reminder = at + timedelta(hours=self.config.reminder_hours)
        offer = CustomerOfferRow(
            dispute_id=row.id,
            proposal_id=proposal.id,
            nonce=new_nonce(),
            status="open",
            created_at=at,
            expires_at=expires,
            reminder_due_at=reminder if reminder < expires else None,
        )
        session.add(offer)
        await session.flush()
        url = self.config.link(await self.signer.token(offer_claim(offer, row.number)))
        rendered = await self.render(session, row, proposal, "general:offer", offer, url)
        await self.queue(
            session,
            row,
            rendered,
            kind="offer",
            purpose=f"offer:{offer.id}",
            url=url,
            actor=actor,
            at=at,
            proposal=proposal,
            offer_id=offer.id,
        )
        await transition(
            session,
            row,
            Event.OFFER_SENT,
            actor,
            details={"proposal": proposal.id, "offer": offer.id, "expires_at": expires.isoformat()},
            at=at,
        )
        return offer

    async def remind(
        self, session: AsyncSession, row: DisputeRow, proposal: ProposalRow, offer: CustomerOfferRow
    ) -> None:
        """The one reminder of an unanswered offer, with the same link."""
        at = self.clock()
        url = self.config.link(await self.signer.token(offer_claim(offer, row.number)))
        rendered = await self.render(session, row, proposal, "general:reminder", offer, url)
        await self.queue(
            session,
            row,
            rendered,
            kind="reminder",
            purpose=f"reminder:{offer.id}",
            url=url,
            actor=Actor.system("conversation"),
            at=at,
            proposal=proposal,
            offer_id=offer.id,
        )
        offer.reminded_at = at

    async def render(
        self,
        session: AsyncSession,
        row: DisputeRow,
        proposal: ProposalRow | None,
        key: str,
        offer: CustomerOfferRow | None = None,
        url: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Rendered:
        """A template rendered with the dispute's facts; a fact it lacks is a DisputeError
        naming it (nothing is queued with a blank)."""
        facts = dispute_facts(
            row,
            decision=await latest_decision(session, row),
            proposal=proposal,
            team=self.config.team,
        )
        if offer is not None and url is not None:
            facts["offer_url"] = url
            facts["offer_expires"] = day_text(offer.expires_at)
        facts.update(extra or {})
        try:
            return self.templates().render(key, facts)
        except MissingFact as missing:
            raise DisputeError(
                f"The message to the customer of {dispute_ref(row.number)} could not be "
                f"written: its template ({key}) needs {missing.fact}, which this dispute lacks."
            ) from None
        except MessageError as broken:
            raise DisputeError(
                f"The message to the customer of {dispute_ref(row.number)} could not be "
                f"written: {broken}. Check the policy pack's templates."
            ) from None

    async def queue(
        self,
        session: AsyncSession,
        row: DisputeRow,
        rendered: Rendered,
        *,
        kind: MessageKind,
        purpose: str,
        url: str,
        actor: Actor,
        at: datetime,
        proposal: ProposalRow | None,
        offer_id: int | None = None,
    ) -> None:
        """A message the app writes from its general template `kind`, with its one link."""
        await queue_message(
            session,
            row,
            config=self.config,
            kind=kind,
            template=f"general:{kind}",
            purpose=purpose,
            subject=rendered.subject,
            body=rendered.text,
            actor=actor,
            at=at,
            links=(url,),
            proposal_id=proposal.id if proposal is not None else None,
            offer_id=offer_id,
        )


def offer_claim(offer: CustomerOfferRow, number: int) -> LinkClaim:
    return LinkClaim("offer", offer.id, number, offer.expires_at, offer.nonce)
