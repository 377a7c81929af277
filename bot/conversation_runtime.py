"""Wiring the customer conversation: the channel from CUSTOMER_CHANNEL, the outbox and its
chores, the offers put to the customer, and the service behind the customer's pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.errors import StartupError
from bot.settings import Settings
from connectors.customers.factory import channel_from_setting
from connectors.customers.outbound import CustomerChannel
from disputes.conversation import ConversationService
from disputes.conversation_chores import ConversationChores
from disputes.customer_messages import ConversationConfig
from disputes.customer_outbox import CustomerOutbox
from disputes.links import LinkSigner
from disputes.offers import Offers
from disputes.permissions import Gate
from policies.current import CurrentPack
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Conversation:
    channel: CustomerChannel
    config: ConversationConfig
    signer: LinkSigner
    offers: Offers
    outbox: CustomerOutbox
    chores: ConversationChores
    service: ConversationService

    def start(self) -> None:
        self.outbox.start()

    async def aclose(self) -> None:
        await self.outbox.stop()
        await self.channel.aclose()


def conversation_config(settings: Settings) -> ConversationConfig:
    sender = settings.customer_sender
    return ConversationConfig(
        public_url=settings.base_url,
        sender_domain=sender.rpartition("@")[2] or "localhost",
        offer_days=settings.offer_expires_days,
        reminder_hours=settings.offer_reminder_hours,
    )


def build_conversation(
    settings: Settings, db: Database, pack: CurrentPack, gate: Gate
) -> Conversation:
    """Everything that talks to the customer; a bad CUSTOMER_CHANNEL stops start-up."""
    try:
        channel = channel_from_setting(
            settings.customer_channel,
            sender=settings.customer_sender,
            secret=settings.outbound_secret,
        )
    except ValueError as exc:
        raise StartupError(f"CUSTOMER_CHANNEL is not valid: {exc}") from None
    config = conversation_config(settings)
    if not settings.public_url and channel.name != "log":
        log.warning(
            "PUBLIC_URL is not set: the customer's links will point at %s; set it to the "
            "address customers reach the app at",
            settings.base_url,
        )
    signer = LinkSigner(db)
    offers = Offers(signer, config, pack)
    outbox = CustomerOutbox(db, channel)
    chores = ConversationChores(db, offers, on_queued=outbox.wake)
    outbox.chores = chores
    service = ConversationService(db, offers.templates, config, gate=gate, on_queued=outbox.wake)
    return Conversation(channel, config, signer, offers, outbox, chores, service)
