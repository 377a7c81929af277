"""Delivering the customer outbox exactly as often as it must be: once, or again with the same
message id when a send may have gone through.

A message is `pending` (due at `next_attempt_at`), `sending` (a worker holds its claim until
`lease_until`), `sent`, or `failed` (the channel refused it for good: a person looks). Every
claim takes a new fence and only the claim holding it records the outcome, so two replicas
never both record a send. A worker killed between the send and the record leaves the message
`sending`; once the lease runs out it is sent again under the same `message_id`, which the
mail's Message-ID and the webhook's Idempotency-Key carry, so the receiving side keeps one.

Each pass also does the conversation's chores (`disputes.conversation_chores`): closing
messages for resolved disputes, reminders and expiry of offers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update

from connectors.customers.outbound import CustomerChannel, DeliveryError, OutgoingMessage
from disputes import audit
from disputes.audit import Actor
from disputes.background import WakeableLoop
from disputes.customer_messages import CustomerMessage, to_message
from disputes.models import dispute_ref
from disputes.payments import utcnow
from storage.db import Database
from storage.tables import CustomerMessageRow, DisputeRow

log = logging.getLogger(__name__)

SYSTEM = Actor.system("customer-outbox")
MessageNews = Literal["sent", "retrying", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one message, for the thread to show."""

    news: MessageNews
    message: CustomerMessage


@dataclass(frozen=True, slots=True)
class OutboxTimings:
    lease: timedelta = timedelta(seconds=60)
    send_timeout: float = 30.0
    poll_seconds: float = 2.0
    first_retry: timedelta = timedelta(seconds=5)
    longest_retry: timedelta = timedelta(minutes=15)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.first_retry * (2 ** max(attempts - 1, 0)), self.longest_retry)


Notify = Callable[[Delivery], Awaitable[None]]
LOST = (0, 0)  # a claim another worker won
Chores = Callable[[], Awaitable[None]]


class CustomerOutbox(WakeableLoop):
    def __init__(
        self,
        db: Database,
        channel: CustomerChannel,
        *,
        notify: Notify | None = None,
        chores: Chores | None = None,
        timings: OutboxTimings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.channel = channel
        self.notify = notify
        self.chores = chores
        self.timings = timings or OutboxTimings()
        self.clock = clock
        self._telling = 0  # reports to the thread under way
        super().__init__()  # woken when a message is queued, not only at the next poll

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await self.pause(self.timings.poll_seconds)

    async def run_once(self) -> int:
        """The chores, then every message due; how many messages were tried."""
        if self.chores is not None:
            try:
                await self.chores()
            except Exception:
                log.exception("customer conversation chores failed; trying again next pass")
        tried = 0
        while True:
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("customer outbox could not be read; polling again")
                return tried
            if claimed is None:
                return tried
            tried += 1
            await self._deliver(*claimed)

    async def _claim(self) -> tuple[int, int] | None:
        """The id and new fence of one message due, claimed by a conditional update; another
        worker taking the same one first just means trying the next."""
        for _ in range(10):
            claimed = await self._try_claim()
            if claimed != LOST:
                return claimed
        return None

    async def _try_claim(self) -> tuple[int, int] | None:
        now = self.clock()
        due = or_(
            and_(
                CustomerMessageRow.status == "pending",
                CustomerMessageRow.next_attempt_at <= now,
            ),
            and_(
                CustomerMessageRow.status == "sending",
                CustomerMessageRow.lease_until <= now,
            ),
        )
        async with self.db.transaction() as session:
            found = await session.execute(
                select(CustomerMessageRow.id, CustomerMessageRow.fence)
                .where(due)
                .order_by(CustomerMessageRow.next_attempt_at, CustomerMessageRow.id)
                .limit(1)
            )
            first = found.first()
            if first is None:
                return None
            message_id, fence = first
            claimed = cast(
                CursorResult[Any],
                await session.execute(
                    update(CustomerMessageRow)
                    .where(CustomerMessageRow.id == message_id, CustomerMessageRow.fence == fence)
                    .where(due)
                    .values(
                        status="sending",
                        fence=fence + 1,
                        attempts=CustomerMessageRow.attempts + 1,
                        lease_until=now + self.timings.lease,
                        updated_at=now,
                    )
                ),
            )
            if claimed.rowcount != 1:
                return LOST
            return message_id, fence + 1

    async def _deliver(self, message_id: int, fence: int) -> None:
        async with self.db.reading() as session:
            row = await session.get(CustomerMessageRow, message_id)
            assert row is not None
            dispute = await session.get(DisputeRow, row.dispute_id)
            assert dispute is not None
            outgoing = outgoing_of(row, dispute.number)
            resend = row.maybe_sent or row.attempts > 1
        if resend:
            log.info("sending %s again under its message id %s", outgoing.dispute, row.message_id)
        try:
            async with asyncio.timeout(self.timings.send_timeout):
                await self.channel.send(outgoing)
        except DeliveryError as exc:
            await self._record_error(message_id, fence, exc)
        except TimeoutError:
            await self._record_error(
                message_id,
                fence,
                DeliveryError("no answer in time", retryable=True, maybe_sent=True),
            )
        except Exception as exc:  # a bug in a channel must not stop the outbox
            log.exception("customer channel %s failed", self.channel.name)
            await self._record_error(
                message_id, fence, DeliveryError(type(exc).__name__, maybe_sent=True)
            )
        else:
            await self._record_sent(message_id, fence)

    async def _record_sent(self, message_id: int, fence: int) -> None:
        now = self.clock()

        async def work(session: Any) -> CustomerMessage | None:
            row = await _fenced(session, message_id, fence)
            if row is None:
                return None
            row.status, row.sent_at, row.updated_at = "sent", now, now
            row.lease_until, row.last_error = None, None
            dispute = await session.get(DisputeRow, row.dispute_id)
            await audit.append(
                session,
                dispute,
                SYSTEM,
                "customer.message_sent",
                after={
                    "message": row.id,
                    "channel": self.channel.name,
                    "attempts": row.attempts,
                    "message_id": row.message_id,
                },
                at=now,
            )
            return to_message(row, dispute.number)

        sent = await self.db.run(work)
        if sent is not None:
            await self._tell(Delivery("sent", sent))

    async def _record_error(self, message_id: int, fence: int, exc: DeliveryError) -> None:
        now = self.clock()
        reason = str(exc)[:500]

        async def work(session: Any) -> Delivery | None:
            row = await _fenced(session, message_id, fence)
            if row is None:
                return None
            row.last_error, row.updated_at, row.lease_until = reason, now, None
            row.maybe_sent = row.maybe_sent or exc.maybe_sent
            dispute = await session.get(DisputeRow, row.dispute_id)
            if exc.retryable:
                row.status = "pending"
                row.next_attempt_at = now + self.timings.backoff(row.attempts)
                news: MessageNews = "retrying"
            else:
                row.status, news = "failed", "failed"
                await audit.append(
                    session,
                    dispute,
                    SYSTEM,
                    "customer.message_failed",
                    after={"message": row.id, "channel": self.channel.name, "reason": reason},
                    at=now,
                )
            return Delivery(news, to_message(row, dispute.number))

        delivery = await self.db.run(work)
        if delivery is None:
            return
        log.warning(
            "customer message %s of %s not delivered (attempt %d): %s",
            delivery.message.id,
            dispute_ref(delivery.message.dispute_number),
            delivery.message.attempts,
            reason,
        )
        # The thread hears of the first failure and of a refusal, not of every retry.
        if delivery.news == "failed" or delivery.message.attempts == 1:
            await self._tell(delivery)

    async def _tell(self, delivery: Delivery) -> None:
        if self.notify is None:
            return
        self._telling += 1
        try:
            await self.notify(delivery)
        except Exception:
            log.exception("the thread was not told of customer message %s", delivery.message.id)
        finally:
            self._telling -= 1

    async def idle(self, within: float = 30.0) -> None:
        """Wait until no message is waiting to be sent (and the thread was told of the last);
        gives up quietly after `within` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while await self.pending_count() or self._telling:
            if asyncio.get_running_loop().time() > deadline:
                return
            self.wake()
            await asyncio.sleep(0.05)

    async def pending_count(self) -> int:
        async with self.db.reading() as session:
            count = await session.scalar(
                select(func.count()).where(CustomerMessageRow.status.in_(("pending", "sending")))
            )
            return int(count or 0)


async def _fenced(session: Any, message_id: int, fence: int) -> CustomerMessageRow | None:
    """The message if this claim still holds it; None (and nothing written) once it is lost."""
    row = await session.get(CustomerMessageRow, message_id, populate_existing=True)
    if row is None or row.fence != fence or row.status != "sending":
        log.info("customer message %s: claim %d lost, outcome not recorded", message_id, fence)
        return None
    return row


def outgoing_of(row: CustomerMessageRow, number: int) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=row.message_id,
        dispute=dispute_ref(number),
        kind=row.kind,
        to=row.to_address,
        to_name=row.to_name,
        subject=row.subject,
        text=row.body,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references or ()),
        links=tuple(row.links or ()),
    )
