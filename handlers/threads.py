"""Keeping a dispute's Slack thread in step with the dispute: parent message and cards."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.disputes import customer_reply, evidence_card, parent_message
from blocks.policy import policy_card
from blocks.text import Message
from disputes.case_files import DisputeService, Recorded
from disputes.intake import NewThread
from disputes.models import CaseFile, Dispute, PolicyDecision
from disputes.policy_decisions import PolicyService
from disputes.thread_locks import ThreadLocks
from disputes.thread_outbox import ThreadClaims
from handlers.coalesce import Coalescer
from handlers.errors import slack_error
from handlers.slack_limits import patience as slack_patience
from handlers.thread_links import ThreadLinks
from handlers.thread_marks import PARENT as PARENT_PART
from handlers.thread_marks import mark, posted_cards, posted_parent

log = logging.getLogger(__name__)
# What chat.update answers for a reply that was deleted (or can no longer be edited).
GONE = frozenset({"message_not_found", "cant_update_message"})
# What a coalesced update of a thread shows afresh: the cards (re-decided), the parent message.
CARDS, PARENT = "cards", "parent"


class ThreadPublisher(ThreadLinks):
    """Each change to a dispute's thread reads the dispute afresh under that dispute's lock
    (`ThreadLocks`: across replicas on PostgreSQL), so two jobs finishing together (two files
    dropped at once, a review and new evidence) never leave a card or the parent message
    showing the older state; a new dispute's thread is posted from the case file intake wrote,
    checked against the dispute's audit chain when the thread is recorded. Updates of one
    dispute's cards and parent message coalesce: at most one round of `chat.update` per dispute
    and `coalesce` seconds, showing the state when it runs. A thread is posted under a claim of
    the thread outbox (`ThreadClaims`), so it is posted once; one that could not be posted stays
    due and the outbox posts it later. Links to the threads come with it (`ThreadLinks`)."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel_id: str,
        disputes: DisputeService,
        policy: PolicyService,
        *,
        locks: ThreadLocks | None = None,
        claims: ThreadClaims | None = None,
        coalesce: float = 1.0,
    ) -> None:
        super().__init__(client)
        self.channel_id = channel_id
        self.disputes = disputes
        self.policy = policy
        self.locks = locks or ThreadLocks()
        self._claims = claims
        self.updates: Coalescer[int, CaseFile] = Coalescer(self._update_thread, interval=coalesce)
        # Whether the cards offer "Message customer" (set by `Deps` from its `conversation`).
        self.messaging = False
        # Told of every dispute whose parent message is refreshed: its status or owner moved.
        self.watchers: list[Callable[[Dispute], None]] = []
        # Called when a thread could not be posted (it is due again): wakes the thread outbox.
        self.on_late: Callable[[], None] = lambda: None

    @property
    def claims(self) -> ThreadClaims:
        if self._claims is None:
            self._claims = ThreadClaims(self.disputes.db)
        return self._claims

    async def publish(
        self, case: CaseFile, *, patience: float | None = None, new: NewThread | None = None
    ) -> CaseFile:
        """Post whatever of the thread is missing, then let the status move on; Slack's rate
        limits are waited out for at most `patience` seconds. `new`: the hand-over of a
        dispute the caller just opened, its thread already claimed (it is posted from `case`
        as intake wrote it); without it, the thread is claimed first. When someone else is
        posting it right now, the case as it is."""
        number = case.dispute.number
        fence = None if new is None else new.fence
        if fence is None:
            fence = await self.claims.claim(number)
        if fence is None:
            return await self.disputes.case(number)
        with slack_patience(patience):
            return await self.post_claimed(number, fence, opened=(case, new) if new else None)

    async def post_claimed(
        self, number: int, fence: int, *, opened: tuple[CaseFile, NewThread] | None = None
    ) -> CaseFile:
        """Post the missing parts of a thread this process has claimed, and record the
        outcome under the claim: nothing due any more, or due again after a backoff.
        `opened`: the case file and hand-over of a dispute just opened, shown as they are
        (it cannot have changed unseen: a change since is a later audit entry, found when
        the thread is recorded, and the thread is then shown afresh)."""
        ended = False
        try:
            async with self.locks.hold(number):
                if opened is None:
                    case, decision = await self.policy.case_with_latest(number)
                    seen = None
                else:
                    case, decision, seen = opened[0], opened[1].decision, opened[1].audit_seq
                recorded = await self._publish(case, decision, fence, seen)
                ended = True  # all of the thread is in Slack: nothing is due any more
                case = recorded.case
                if recorded.moved:
                    await self._refresh_parent(case)
        except Exception as exc:
            if not ended:
                await self.claims.failed(number, fence, describe(exc))
                self.on_late()
            raise
        if recorded.changed:  # only ever with `opened`: never inside a coalesced update
            return await self.refresh(number)
        return case

    async def refresh(self, number: int) -> CaseFile:
        """After new evidence or a new pack: re-decide and update the cards in place."""
        return await self.updates.request(number, CARDS)

    async def refresh_parent(self, case: CaseFile) -> None:
        """Show the dispute's current status on the parent message."""
        await self.updates.request(case.dispute.number, PARENT)

    async def refresh_status(self, number: int) -> None:
        """Show the dispute's current status on the parent message (and, once it is closed,
        its outcome on the policy card)."""
        await self.updates.request(number, PARENT)

    async def customer_replied(self, number: int, sender: str, body: str) -> None:
        """Show a customer's reply in the thread, then update the cards."""
        case = await self.refresh(number)
        if case.dispute.thread_ts is None:
            return  # filed; its thread, once posted, shows it on the evidence card
        message = customer_reply(sender, body)
        await self._reply(case, message)

    async def _update_thread(self, number: int, parts: frozenset[str]) -> CaseFile:
        """One coalesced round: the cards (re-decided) and/or the parent message, as they
        are now. A dispute without its thread yet gets it posted, cards as they are now."""
        async with self.locks.hold(number):
            if CARDS in parts:
                case, decision = await self.policy.refresh(number)
            else:
                case, decision = await self.disputes.case(number), None
            threaded = case.dispute.thread_ts is not None
            moved = False
            if CARDS in parts:
                if threaded:
                    await self._update(case, case.dispute.evidence_card_ts, evidence_card(case))
                    if decision is not None:
                        card = policy_card(case, decision, messaging=self.messaging)
                        await self._update(case, case.dispute.policy_card_ts, card)
                case, moved = await self._advance(case)
            if PARENT in parts and not moved:
                await self._refresh_parent(case)  # without a thread, its watchers still hear
        if threaded or CARDS not in parts:
            return case
        return await self.publish(case)

    async def post(self, number: int, message: Message) -> str | None:
        """A new reply in the dispute's thread; its ts, or None when it has no thread yet."""
        case = await self.disputes.case(number)
        if case.dispute.thread_ts is None or case.dispute.channel_id is None:
            return None
        return await self._reply(case, message)

    async def mirror(self, number: int, message: Message, ts: str | None) -> str | None:
        """Show `message` in the dispute's thread in place of the reply at `ts` (one reply per
        thing it follows, whatever becomes of it), or as a new reply when there is none or it
        is gone; the reply's ts, or None when the dispute has no thread yet."""
        case = await self.disputes.case(number)
        if case.dispute.thread_ts is None or case.dispute.channel_id is None:
            return None
        if ts is not None:
            try:
                await self._update(case, ts, message)
                return ts
            except SlackApiError as exc:
                if slack_error(exc) not in GONE:
                    raise
                log.warning("reply %s of %s is gone: posting it again", ts, case.dispute.ref)
        return await self._reply(case, message)

    async def tell(
        self, user_id: str, text: str, thread_ts: str | None = None, **_: object
    ) -> None:
        """An ephemeral answer to one person in the disputes channel (a `respond` stand-in for
        events and modals, which carry no response_url)."""
        await self.client.chat_postEphemeral(
            channel=self.channel_id, user=user_id, text=text, thread_ts=thread_ts
        )

    async def _publish(
        self, case: CaseFile, decision: PolicyDecision | None, fence: int, seen: int | None
    ) -> Recorded:
        """Post what the thread lacks, rendered from `case` and `decision` (read under the
        thread's lock, or as intake wrote them, the audit chain then at `seen`), then record
        it all in one transaction: where the thread and its new cards are, the move to
        evidence-ready and the end of the claim `fence`. A part posted and not recorded (the
        process stopped) is found in Slack by the next claim (`thread_marks`)."""
        number = case.dispute.number
        # An earlier claim may have posted parts it never recorded: look for them in Slack.
        earlier = fence > 1
        found: dict[str, str] = {}
        thread: tuple[str, str] | None = None
        if case.dispute.thread_ts is None:
            channel, ts, earlier = await self._post_parent(case.dispute, look=earlier)
            thread = (channel, ts)
            case = replace(case, dispute=replace(case.dispute, channel_id=channel, thread_ts=ts))
        missing = case.dispute.evidence_card_ts is None or (
            decision is not None and case.dispute.policy_card_ts is None
        )
        if earlier and missing:
            found = await posted_cards(
                self.client, channel_of(case), str(case.dispute.thread_ts), number
            )
        cards: dict[str, str] = {}
        if case.dispute.evidence_card_ts is None:
            cards["evidence"] = await self._card(case, "evidence", evidence_card(case), found)
        if decision is not None and case.dispute.policy_card_ts is None:
            card = policy_card(case, decision, messaging=self.messaging)
            cards["policy"] = await self._card(case, "policy", card, found)
        recorded = await self.disputes.cards_posted(
            case, cards, thread=thread, claim=(self.claims, fence), seen=seen
        )
        if recorded is None:  # a thread was linked meanwhile: its own parts go there
            case, decision = await self.policy.case_with_latest(number)
            return await self._publish(case, decision, fence, None)
        return recorded

    async def _post_parent(self, dispute: Dispute, *, look: bool) -> tuple[str, str, bool]:
        """Post the dispute's parent message or, when `look`, use the one an earlier claim
        posted if it is there: its channel and ts, and whether it was found."""
        parent = parent_message(dispute)
        if look:
            number, opened = dispute.number, dispute.created_at
            ts = await posted_parent(self.client, self.channel_id, number, opened)
            if ts is not None and await self._shown(self.channel_id, ts, parent):
                return self.channel_id, ts, True
        posted = await self.client.chat_postMessage(
            channel=self.channel_id,
            text=parent.text,
            blocks=parent.blocks,
            unfurl_links=False,
            metadata=mark(dispute.number, PARENT_PART),
        )
        return str(posted["channel"]), str(posted["ts"]), False

    async def _card(
        self, case: CaseFile, part: str, message: Message, found: dict[str, str]
    ) -> str:
        """Post a card of the thread; one found in Slack already is updated instead."""
        ts = found.get(part)
        if ts is not None and await self._shown(channel_of(case), ts, message):
            return ts
        return await self._reply(case, message, metadata=mark(case.dispute.number, part))

    async def _shown(self, channel: str, ts: str, message: Message) -> bool:
        """Show `message` in place of a part found in Slack, posted before with its answer
        lost; False when it cannot be updated (deleted since, or not the app's own)."""
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except SlackApiError as exc:
            if slack_error(exc) not in GONE:
                raise
            log.warning("a thread part found at %s cannot be updated: posting it again", ts)
            return False
        return True

    async def _advance(self, case: CaseFile) -> tuple[CaseFile, bool]:
        """Let a new dispute become evidence-ready; whether its status moved (and the parent
        message was refreshed)."""
        before = case.dispute.status
        case = await self.disputes.mark_evidence_ready(case.dispute.number)
        if case.dispute.status == before:
            return case, False
        await self._refresh_parent(case)
        return case, True

    async def _reply(
        self, case: CaseFile, message: Message, *, metadata: dict[str, Any] | None = None
    ) -> str:
        posted = await self.client.chat_postMessage(
            channel=channel_of(case),
            thread_ts=case.dispute.thread_ts,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
            metadata=metadata,
        )
        return str(posted["ts"])

    async def _update(self, case: CaseFile, ts: str | None, message: Message) -> None:
        if ts is None:
            return
        await self.client.chat_update(
            channel=channel_of(case), ts=ts, text=message.text, blocks=message.blocks
        )

    async def _refresh_parent(self, case: CaseFile) -> None:
        dispute = case.dispute
        for watcher in self.watchers:
            try:
                watcher(dispute)
            except Exception:
                log.exception("a watcher of %s failed", dispute.ref)
        if dispute.thread_ts is None or dispute.channel_id is None:
            return
        parent = parent_message(dispute)
        await self.client.chat_update(
            channel=dispute.channel_id, ts=dispute.thread_ts, text=parent.text, blocks=parent.blocks
        )
        if not dispute.status.is_open:  # the policy card's buttons give way to the outcome
            decision = await self.policy.latest(dispute.number)
            if decision is not None:
                await self._update(
                    case,
                    dispute.policy_card_ts,
                    policy_card(case, decision, messaging=self.messaging),
                )


def channel_of(case: CaseFile) -> str:
    """The channel of the dispute's thread; a dispute gets one before anything is posted in it."""
    if case.dispute.channel_id is None:
        raise RuntimeError(f"D-{case.dispute.number} has no thread yet")
    return case.dispute.channel_id


def describe(error: Exception) -> str:
    """What went wrong, in a few words, for the thread outbox's record."""
    if isinstance(error, SlackApiError):
        return slack_error(error)
    return f"{type(error).__name__}: {error}"
