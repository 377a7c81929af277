"""F6 execution: claim queued refunds and settle each exactly once through the gateway.

A request is `pending` (never sent), `in_flight` (a worker holds its claim), `unknown` (sent,
outcome not known), or final: `succeeded`, `failed` (the provider's definite refusal) or
`canceled`. Every claim takes a new fence; every write after a call to the provider is made only
while the row still carries that fence (`disputes.refund_records`), and a worker renews its
claim while it waits on the provider.

Nothing is sent again while the outcome is unknown, unless the provider, asked for refunds
carrying our request id, holds none *and* the settling time since the last send has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)
from disputes.background import WakeableLoop
from disputes.lifecycle import Event, Status
from disputes.payments import Clock, utcnow
from disputes.refund_lookup import Found, classify
from disputes.refund_records import (
    SYSTEM,
    Claimed,
    RefundOutcome,
    Timings,
    claimed_from,
    prepare_send,
    record_error,
    record_failed,
    record_lookup,
    record_not_sent,
    record_succeeded,
    record_unknown,
)
from disputes.transitions import transition
from storage.db import Database
from storage.tables import DisputeRow, RefundRequestRow

__all__ = ["Notify", "RefundOutcome", "RefundWorker", "Timings"]

log = logging.getLogger(__name__)

Notify = Callable[[RefundOutcome], Awaitable[None]]


class RefundWorker(WakeableLoop):
    def __init__(
        self,
        db: Database,
        gateway: RefundGateway,
        *,
        notify: Notify | None = None,
        timings: Timings | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.notify = notify
        self.timings = timings or Timings()
        self.clock = clock
        super().__init__()  # woken when an approval commits, not only at the next poll

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except Exception:
                log.exception("refund worker pass failed; retrying at the next poll")
            try:
                wait = await self._until_next_due()
            except Exception:
                log.exception("refund worker could not read the outbox; polling again")
                wait = self.timings.poll_seconds
            await self.pause(wait)

    async def _until_next_due(self) -> float:
        """Seconds until the earliest request is due, at most one poll interval."""
        async with self.db.reading() as session:
            due = await session.scalar(
                select(func.min(RefundRequestRow.next_attempt_at)).where(
                    RefundRequestRow.status.in_(("pending", "unknown"))
                )
            )
            lease = await session.scalar(
                select(func.min(RefundRequestRow.lease_until)).where(
                    RefundRequestRow.status == "in_flight"
                )
            )
        poll = self.timings.poll_seconds
        soonest = min((t for t in (due, lease) if t is not None), default=None)
        if soonest is None:
            return poll
        wait = (soonest - self.clock()).total_seconds()
        return min(max(wait, 0.05), poll)

    def _due(self, now: datetime) -> Any:
        return or_(
            and_(
                RefundRequestRow.status.in_(("pending", "unknown")),
                RefundRequestRow.next_attempt_at <= now,
            ),
            # A claim nobody renewed: its worker died or hangs; its outcome is not known.
            and_(RefundRequestRow.status == "in_flight", RefundRequestRow.lease_until < now),
        )

    async def _anything_due(self) -> bool:
        """A read-only look first, so idle polls never take SQLite's write lock."""
        async with self.db.reading() as session:
            query = select(RefundRequestRow.id).where(self._due(self.clock())).limit(1)
            return await session.scalar(query) is not None

    async def run_once(self) -> bool:
        """Claim one due request and take it as far as the provider allows; False when none."""
        if not await self._anything_due():
            return False
        claimed = await self.db.run(self._claim)
        if claimed is None:
            return False
        async with self._renewing(claimed):
            try:
                outcome = await self._execute(claimed)
            except Exception as exc:
                log.exception("refund request rr_%s: unexpected error", claimed.id)
                outcome = await self._record(record_error, claimed, f"unexpected error: {exc!r}")
        if outcome is not None and self.notify is not None:
            try:
                await self.notify(outcome)
            except Exception:
                log.exception("could not report refund request %s", claimed.order.request_id)
        return True

    # -- claiming --------------------------------------------------------------------------

    async def _claim(self, session: AsyncSession) -> Claimed | None:
        now = self.clock()
        query = (
            select(RefundRequestRow)
            .where(self._due(now))
            .order_by(RefundRequestRow.next_attempt_at, RefundRequestRow.id)
            .limit(1)
        )
        if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises claimers
            query = query.with_for_update(skip_locked=True)
        request = await session.scalar(query.execution_options(populate_existing=True))
        if request is None:
            return None
        taken_over = request.status == "in_flight"
        if taken_over:
            log.warning(
                "refund request rr_%s: the claim of fence %s expired; taking it over",
                request.id,
                request.fence,
            )
            # Its send may have been on its way until that claim ran out (a worker never starts
            # a send on a claim it cannot vouch for): the settling time counts from then.
            expired, last = request.lease_until, request.last_in_flight_at
            if request.sends and expired is not None and (last is None or expired > last):
                request.last_in_flight_at = expired
        was = "unknown" if request.sends else "pending"
        request.status = "in_flight"
        request.fence += 1
        request.attempts += 1
        request.claimed_at = now
        request.lease_until = now + self.timings.lease
        request.updated_at = now
        dispute = await session.get(DisputeRow, request.dispute_id, populate_existing=True)
        assert dispute is not None
        if Status(dispute.status) == Status.APPROVED:
            await transition(session, dispute, Event.EXECUTION_STARTED, SYSTEM, at=now)
        return claimed_from(request, dispute, was=was)

    @contextlib.asynccontextmanager
    async def _renewing(self, claimed: Claimed) -> AsyncIterator[None]:
        """Renew the claim while the work goes on, so a slow provider keeps it ours."""
        task = asyncio.create_task(self._renew(claimed))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _renew(self, claimed: Claimed) -> None:
        every = max(self.timings.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                async with self.db.transaction() as session:
                    renewed = await session.execute(
                        update(RefundRequestRow)
                        .where(
                            RefundRequestRow.id == claimed.id,
                            RefundRequestRow.fence == claimed.fence,
                            RefundRequestRow.status == "in_flight",
                        )
                        .values(lease_until=self.clock() + self.timings.lease)
                    )
            except Exception:
                log.exception("refund request rr_%s: could not renew the claim", claimed.id)
                continue
            if not cast(CursorResult[Any], renewed).rowcount:
                log.warning("refund request rr_%s: claim %s lost", claimed.id, claimed.fence)
                return

    # -- one pass ------------------------------------------------------------------------

    async def _execute(self, claimed: Claimed) -> RefundOutcome | None:
        try:
            refunds = await self.gateway.refunds_on(claimed.order.payment_reference)
        except RefundUncertain as exc:
            if claimed.was == "pending":
                return await self._record(record_not_sent, claimed, f"provider not read: {exc}")
            return await self._record(record_unknown, claimed, f"look-up failed: {exc}")
        found = classify(claimed.order, refunds)
        mismatch = claimed.attention == "mismatch"  # never sent again: a person looks first
        if found.kind is not Found.NONE or not self._settled(claimed) or mismatch:
            return await self._record(record_lookup, claimed, found)
        return await self._send(claimed, refunds)

    def _settled(self, claimed: Claimed) -> bool:
        """The provider has had its settling time, since a send of ours was last in flight, to
        act on it."""
        last = claimed.last_in_flight_at
        return last is None or self.clock() >= last + self.timings.settle

    async def _send(self, claimed: Claimed, refunds: list[RefundResult]) -> RefundOutcome | None:
        started = time.monotonic()
        ready = await self.db.run(
            lambda s: prepare_send(s, claimed, refunds, self.clock, self.timings)
        )
        if ready is None or isinstance(ready, RefundOutcome):
            return ready  # the claim was lost (None) or the ledger refused it (an outcome)
        if time.monotonic() - started > self.timings.lease.total_seconds() / 2:
            # The database was so slow that this claim may already be another worker's: the
            # send stays marked and unmade; whoever holds the claim next looks up first.
            log.warning("refund request rr_%s: not sent, the claim went stale", claimed.id)
            return None
        try:
            answer = await self.gateway.refund(claimed.order)
        except RefundError as refused:
            return await self._after_refusal(claimed, refused.message)
        except RefundUncertain as exc:
            return await self._after_unknown(claimed, f"no answer: {exc}")
        if not answer.matches(claimed.order):
            return await self._record(record_lookup, claimed, classify(claimed.order, [answer]))
        if answer.status == RefundStatus.SUCCEEDED:
            return await self._record(record_succeeded, claimed, [answer])
        if answer.status.holds_money:  # pending at the provider: money is on its way
            return await self._record(record_lookup, claimed, classify(claimed.order, [answer]))
        reason = answer.failure_reason or f"the provider answered {answer.status.value}"
        return await self._record(record_failed, claimed, reason)

    async def _after_unknown(self, claimed: Claimed, detail: str) -> RefundOutcome | None:
        """An unknown outcome: ask the provider at once; a refund found is recorded now."""
        try:
            refunds = await self.gateway.refunds_on(claimed.order.payment_reference)
        except RefundUncertain as exc:
            detail = f"{detail}; look-up failed: {exc}"
            return await self._record(record_unknown, claimed, detail, sent=True)
        found = classify(claimed.order, refunds)
        if found.kind is Found.NONE:
            return await self._record(record_unknown, claimed, detail, sent=True)
        return await self._record(record_lookup, claimed, found, sent=True)

    async def _after_refusal(self, claimed: Claimed, reason: str) -> RefundOutcome | None:
        """A refusal is checked against the provider's refunds: a proxy's 4xx after the
        provider paid must not leave a refunded customer's dispute marked as refused."""
        try:
            refunds = await self.gateway.refunds_on(claimed.order.payment_reference)
        except RefundUncertain:
            refunds = []  # the refusal stands; Retry asks the provider again first
        found = classify(claimed.order, refunds)
        if found.kind in (Found.NONE, Found.REFUSED):
            return await self._record(record_failed, claimed, reason, sent=True)
        return await self._record(record_lookup, claimed, found, sent=True)

    async def _record(
        self,
        step: Callable[..., Awaitable[RefundOutcome | None]],
        claimed: Claimed,
        what: Any,
        **options: Any,
    ) -> RefundOutcome | None:
        timings = self.timings
        return await self.db.run(
            lambda session: step(
                session, claimed, what, now=self.clock(), timings=timings, **options
            )
        )
