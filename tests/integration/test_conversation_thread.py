"""The dispute's thread follows its customer conversation, against the Slack emulator: an approval
that put the option to the customer says until when they may accept; each message to the
customer is one reply (address masked) that follows its delivery; the customer's answers and
an offer that ran out are told in the thread, the parent's status follows, and the proposer
hears of a declined or expired offer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation_wiring import ConversationReporter
from bot.settings import default_policy_pack
from connectors.customers.outbound import DeliveryError, OutgoingMessage
from connectors.refunds.fake import FakeGateway
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.conversation import ConversationService
from disputes.conversation_chores import ConversationChores
from disputes.customer_answers import CustomerAnswers
from disputes.customer_messages import ConversationConfig
from disputes.customer_outbox import CustomerOutbox
from disputes.links import LinkSigner
from disputes.offers import Offers
from handlers.deps import Deps
from handlers.review import mark_decided, post_proposal
from handlers.threads import ThreadPublisher
from policies.current import CurrentPack
from sandbox.slack.records import Message
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from storage.db import Database
from tests.support.money import MANAGER, SUPERVISOR, MoneyWorld
from tests.support.orders import order

CUSTOMER = "jane@example.com"  # the test order's customer
MASKED = "j•••@example.com"
CHANNEL = "C0DISPUTES"
DAY = 24 * 3600.0


class RecordingChannel:
    """A customer channel that keeps what it sends; it refuses the first `busy` tries."""

    name = "recording"

    def __init__(self, busy: int = 0) -> None:
        self.busy = busy
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> None:
        if self.busy:
            self.busy -= 1
            raise DeliveryError("421 try again later", retryable=True)
        self.sent.append(message)

    async def aclose(self) -> None:
        return None

    def token(self, kind: str) -> str:
        """The token of the last link sent in a message of `kind`."""
        found = [m for m in self.sent if m.kind == kind]
        return found[-1].links[0].rsplit("/c/", 1)[1]


@dataclass
class Conversation:
    world: MoneyWorld
    workspace: Workspace
    client: AsyncWebClient
    deps: Deps
    channel: RecordingChannel
    outbox: CustomerOutbox
    answers: CustomerAnswers
    chores: ConversationChores

    async def offered(self, order_id: str = "ORD-T1") -> int:
        """A dispute whose store credit a supervisor approved: put to the customer."""
        world = self.world
        number = await world.open(order_id)
        await self.deps.threads.publish(await self.deps.disputes.case(number))
        proposal_id = await world.propose(number, kind="store_credit")
        await post_proposal(
            self.deps, self.client, await world.resolution.proposal(number, proposal_id)
        )
        approved = await world.resolution.approve(number, proposal_id, Actor.slack_user(SUPERVISOR))
        assert approved.awaits_customer
        await mark_decided(self.deps, self.client, approved, "approved", SUPERVISOR)
        return number

    async def deliver(self) -> None:
        """Outbox passes, the clock moving past each retry, until nothing is due."""
        for _ in range(5):
            await self.outbox.run_once()
            if not await self.outbox.pending_count():
                return
            self.world.later(60)
        raise AssertionError("the outbox did not empty")

    def thread(self, number: int) -> list[Message]:
        (parent,) = [m for m in self.workspace.history(CHANNEL) if f"D-{number} ·" in m.text]
        return list(self.workspace.thread(CHANNEL, parent.ts))

    def replies(self, number: int, needle: str) -> list[Message]:
        return [m for m in self.thread(number) if needle in shown(m)]

    def told(self, user: str, needle: str) -> list[Message]:
        return [m for m in self.workspace.history(self.workspace.dm_id(user)) if needle in shown(m)]


def shown(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


@pytest.fixture
async def talk(db: Database, tmp_path: Path) -> AsyncIterator[Conversation]:
    world = MoneyWorld(
        db, FakeGateway(paid={"pi_3QtestTEST": (129_00, "USD")}), tmp_path, orders=[order()]
    )
    config = ConversationConfig("https://desk.example", "desk.example")
    signer = LinkSigner(db)
    offers = Offers(signer, config, CurrentPack(default_policy_pack()), clock=world.clock)
    world.resolution.offers = offers
    workspace = Workspace.default()
    async with EmulatorServer(workspace) as emulator:
        client = AsyncWebClient(token=workspace.bot_token, base_url=emulator.api_url)
        await client.conversations_join(channel=CHANNEL)
        disputes = DisputeService(db, world.gate)
        threads = ThreadPublisher(client, CHANNEL, disputes, world.policy)
        service = ConversationService(
            db, offers.templates, config, gate=world.gate, clock=world.clock
        )

        async def no_groups(_client: Any, _user: str) -> set[str]:
            return set()

        deps = Deps(
            disputes,
            world.intake,
            world.policy,
            world.resolution,
            threads,
            submit=lambda job, key: None,
            groups_of=no_groups,
            conversation=service,
        )
        reporter = ConversationReporter(service, disputes, threads, world.resolution)
        channel = RecordingChannel(busy=1)
        outbox = CustomerOutbox(db, channel, notify=reporter.delivered, clock=world.clock)
        answers = CustomerAnswers(
            db, signer, world.resolution, notify=reporter.answered, clock=world.clock
        )
        chores = ConversationChores(db, offers, notify=reporter.chore_done, clock=world.clock)
        yield Conversation(world, workspace, client, deps, channel, outbox, answers, chores)


async def test_an_approved_offer_is_told_delivered_once_and_declined_back_to_review(
    talk: Conversation,
) -> None:
    number = await talk.offered()
    assert talk.deps.threads.messaging  # Deps with a conversation: the cards offer the button
    (card,) = talk.replies(number, "Approved by")
    assert "Approved by <@U0SUPER>. The offer went to the customer, who has until <!date^" in shown(
        card
    )
    assert "nothing moves until they do." in shown(card)
    assert talk.told(MANAGER, "The offer went to the customer")

    # The first try fails: one reply says so; the send that follows turns it into "Sent".
    await talk.outbox.run_once()
    (waiting,) = talk.replies(number, "Not delivered to the customer yet")
    assert "421 try again later. Retrying." in shown(waiting)
    await talk.deliver()
    assert not talk.replies(number, "Not delivered to the customer yet")
    (sent,) = talk.replies(number, "Sent to the customer")
    assert sent.ts == waiting.ts and sent.edited is not None
    assert MASKED in shown(sent) and CUSTOMER not in shown(sent) and "· offer ·" in shown(sent)
    assert "Awaiting customer" in talk.thread(number)[0].text

    await talk.answers.decline(talk.channel.token("offer"), "Twenty is <!channel> too little")
    (declined,) = talk.replies(number, "declined the offer")
    assert "“Twenty is &lt;!channel&gt; too little”. Back to review." in shown(declined)
    assert talk.thread(number)[0].text.endswith("In review")
    (dm,) = talk.told(MANAGER, "declined the offer of your Proposal 1")
    assert f"D-{number} is back in review" in shown(dm)


async def test_an_accepted_offer_is_carried_out_and_the_rating_is_told(
    talk: Conversation,
) -> None:
    number = await talk.offered()
    await talk.deliver()
    await talk.answers.accept(talk.channel.token("offer"))
    (accepted,) = talk.replies(number, "accepted the offer")
    assert "accepted the offer:* Store credit. Carrying it out." in shown(accepted)
    assert talk.thread(number)[0].text.endswith("Resolved")

    await talk.chores.run_once()  # the closing message with the survey is queued: told once sent
    assert not talk.replies(number, "closing message")
    await talk.deliver()
    (closing,) = talk.replies(number, "closing message with the survey")
    assert "Sent to the customer" in shown(closing)

    await talk.answers.rate(talk.channel.token("closing"), 4, "Quick & kind")
    (rated,) = talk.replies(number, "rated the handling")
    assert "★★★★☆ 4/5: “Quick &amp; kind”" in shown(rated)


async def test_a_reminder_shows_once_sent_and_an_expired_offer_waits_for_a_person(
    talk: Conversation,
) -> None:
    number = await talk.offered()
    await talk.deliver()
    talk.world.later(4 * DAY)
    await talk.chores.run_once()
    await talk.deliver()
    (reminder,) = talk.replies(number, "reminder of the offer")
    assert "Sent to the customer" in shown(reminder)

    talk.world.later(11 * DAY)
    await talk.chores.run_once()
    (expired,) = talk.replies(number, "expired without an answer")
    assert "waits for a person (*Start review* to make a new proposal)" in shown(expired)
    assert "Offer expired" in talk.thread(number)[0].text
    assert talk.told(MANAGER, "did not answer the offer of your Proposal 1")


async def test_a_reply_deleted_meanwhile_is_posted_again_once(talk: Conversation) -> None:
    number = await talk.offered()
    await talk.outbox.run_once()
    (waiting,) = talk.replies(number, "Not delivered to the customer yet")
    talk.workspace.delete_message(CHANNEL, waiting.ts)
    await talk.deliver()
    (sent,) = talk.replies(number, "Sent to the customer")
    assert sent.ts != waiting.ts
    await talk.outbox.run_once()  # nothing new to tell
    assert len(talk.replies(number, "Sent to the customer")) == 1
