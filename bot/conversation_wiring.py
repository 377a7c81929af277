"""Telling a dispute's thread of its customer conversation: each message to the customer (one
reply, kept up to date as it is delivered, retried or refused), the customer's answers, and
offers that ran out. The proposer hears by direct message when the customer declines their
offer or lets it expire. Each telling is best effort: what it reports is already recorded."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from blocks.conversation import (
    customer_rated,
    delivery_message,
    offer_accepted,
    offer_declined,
    offer_expired,
    proposer_told_declined,
    proposer_told_expired,
)
from blocks.proposal import ProposalCard
from blocks.text import Message
from disputes.case_files import DisputeService
from disputes.conversation import ConversationService
from disputes.conversation_chores import ChoreDone
from disputes.customer_answers import Answer
from disputes.customer_outbox import Delivery
from disputes.errors import DisputeError
from disputes.models import dispute_ref
from disputes.resolution import ResolutionService
from handlers.errors import slack_error
from handlers.review import card_of
from handlers.threads import ThreadPublisher

log = logging.getLogger(__name__)
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
T = TypeVar("T")


class ConversationReporter:
    """`delivered` is the customer outbox's `notify`, `answered` the customer answers', and
    `chore_done` the conversation chores'."""

    def __init__(
        self,
        conversation: ConversationService,
        disputes: DisputeService,
        threads: ThreadPublisher,
        resolution: ResolutionService,
    ) -> None:
        self.conversation = conversation
        self.disputes = disputes
        self.threads = threads
        self.resolution = resolution

    async def delivered(self, delivery: Delivery) -> None:
        """A message to the customer was sent, not delivered yet, or refused for good: its one
        reply in the thread says so (posted the first time, updated after)."""
        message = delivery.message
        number = message.dispute_number
        if message.mirror_ts is not None and message.mirrored == delivery.news:
            return  # the thread already says this (a second report of the same outcome)
        shown = delivery_message(message, delivery.news)
        ts = await _best_effort(
            self.threads.mirror(number, shown, message.mirror_ts), f"the mirror of {message.id}"
        )
        if ts is not None:
            await self.conversation.record_mirror(message.id, ts, delivery.news)
        await self._refresh(number)

    async def answered(self, answer: Answer) -> None:
        """The customer accepted or declined an offer, or rated how the dispute was handled."""
        number = answer.dispute_number
        ref = dispute_ref(number)
        card = await self._card(number, answer.proposal_id)
        if answer.kind == "accepted":
            label = (
                card.kind_label if card else answer.resolution.label if answer.resolution else None
            )
            message = offer_accepted(ref, label, card.amount if card else None)
        elif answer.kind == "declined":
            message = offer_declined(ref, answer.reason)
        else:
            message = customer_rated(ref, answer.rating or 0, answer.comment)
        await _best_effort(self.threads.post(number, message), f"the answer on {ref}")
        if answer.kind == "declined" and card is not None:
            told = proposer_told_declined(card, answer.reason, await self._permalink(number))
            await self._tell(answer.proposed_by, told)
        await self._refresh(number)

    async def chore_done(self, chore: ChoreDone) -> None:
        """An offer ran out without an answer; reminders and closing messages show in the thread
        once they are delivered, like every message to the customer."""
        if chore.news != "offer_expired":
            return
        number = chore.dispute_number
        ref = dispute_ref(number)
        await _best_effort(self.threads.post(number, offer_expired(ref)), f"expiry on {ref}")
        card = await self._card(number, chore.proposal_id)
        if card is not None:
            told = proposer_told_expired(card, await self._permalink(number))
            await self._tell(chore.proposed_by, told)
        await self._refresh(number)

    async def _card(self, number: int, proposal_id: int | None) -> ProposalCard | None:
        if proposal_id is None:
            return None
        try:
            return card_of(await self.resolution.proposal(number, proposal_id))
        except DisputeError as exc:
            log.warning("proposal %s of %s not read: %s", proposal_id, dispute_ref(number), exc)
            return None

    async def _permalink(self, number: int) -> str | None:
        return await self.threads.permalink(await self.disputes.case(number))

    async def _tell(self, user_id: str | None, message: Message) -> None:
        """A direct message to a person (not to the app or the customer)."""
        if not user_id or not _SLACK_USER.match(user_id):
            return
        try:
            await self.threads.client.chat_postMessage(
                channel=user_id, text=message.text, blocks=message.blocks
            )
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", user_id, slack_error(exc))

    async def _refresh(self, number: int) -> None:
        await _best_effort(self.threads.refresh_status(number), f"the status of D-{number}")


async def _best_effort(work: Awaitable[T], what: str) -> T | None:
    try:
        return await work
    except SlackApiError as exc:
        log.warning("Slack refused %s: %s", what, slack_error(exc))
        return None
