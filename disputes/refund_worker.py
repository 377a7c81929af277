"""F6 execution: claim queued refunds and send each exactly once through the gateway.

A refund whose outcome is unknown (timeout, 5xx, a worker that died mid-call) is never simply
sent again: the next attempt first asks the provider for a refund carrying our request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)
from disputes import audit
from disputes.audit import Actor
from disputes.lifecycle import Event, Status
from disputes.models import dispute_ref
from disputes.refunds import release
from disputes.transitions import transition
from storage.db import Database
from storage.tables import DisputeRow, RefundRequestRow

log = logging.getLogger(__name__)
SYSTEM = Actor.system("refunds")
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """What happened to one refund request, for the thread and the alerts."""

    dispute_number: int
    request_id: int
    status: str  # succeeded | failed | retrying
    amount_minor: int
    currency: str
    provider_refund_id: str | None
    detail: str | None


Notify = Callable[[RefundOutcome], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    order: RefundOrder
    uncertain: bool
    attempts: int
    dispute_number: int


class RefundWorker:
    def __init__(
        self,
        db: Database,
        gateway: RefundGateway,
        *,
        notify: Notify | None = None,
        lease: timedelta = timedelta(minutes=2),
        poll_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.notify = notify
        self.lease = lease
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called when an approval commits: look at the outbox now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except Exception:
                log.exception("refund worker pass failed; retrying at the next poll")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), await self._until_next_due())
            self._wake.clear()

    async def _until_next_due(self) -> float:
        """Seconds until the earliest retry is due, at most one poll interval."""
        async with self.db.reading() as session:
            due = await session.scalar(
                select(func.min(RefundRequestRow.next_attempt_at)).where(
                    RefundRequestRow.status == "pending"
                )
            )
        if due is None:
            return self.poll_seconds
        wait = (due - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.05), self.poll_seconds)

    async def _anything_due(self) -> bool:
        """A read-only look first, so idle polls never take SQLite's write lock."""
        now = datetime.now(UTC)
        async with self.db.reading() as session:
            found = await session.scalar(select(RefundRequestRow.id).where(self._due(now)).limit(1))
        return found is not None

    def _due(self, now: datetime) -> Any:
        return or_(
            and_(RefundRequestRow.status == "pending", RefundRequestRow.next_attempt_at <= now),
            # A worker that claimed this and went silent: its attempt's outcome is unknown.
            and_(
                RefundRequestRow.status == "in_flight",
                RefundRequestRow.claimed_at < now - self.lease,
            ),
        )

    async def run_once(self) -> bool:
        """Claim and execute one due refund; False when none is due."""
        if not await self._anything_due():
            return False
        claimed = await self.db.run(self._claim)
        if claimed is None:
            return False
        outcome = await self._execute(claimed)
        if self.notify is not None:
            try:
                await self.notify(outcome)
            except Exception:
                log.exception("could not report refund %s", claimed.id)
        return True

    async def _claim(self, session: AsyncSession) -> _Claimed | None:
        now = datetime.now(UTC)
        query = (
            select(RefundRequestRow).where(self._due(now)).order_by(RefundRequestRow.id).limit(1)
        )
        if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises claimers
            query = query.with_for_update(skip_locked=True)
        request = await session.scalar(query)
        if request is None:
            return None
        if request.status == "in_flight":
            request.uncertain = True
        request.status, request.claimed_at = "in_flight", now
        request.attempts += 1
        request.updated_at = now
        dispute = await session.get(DisputeRow, request.dispute_id)
        assert dispute is not None
        if Status(dispute.status) == Status.APPROVED:
            await transition(session, dispute, Event.EXECUTION_STARTED, SYSTEM)
        return _Claimed(
            id=request.id,
            order=RefundOrder(
                request_id=f"rr_{request.id}",
                idempotency_key=request.idempotency_key,
                payment_reference=request.payment_reference,
                amount_minor=request.amount_minor,
                currency=request.currency,
                dispute_ref=dispute_ref(dispute.number),
            ),
            uncertain=request.uncertain,
            attempts=request.attempts,
            dispute_number=dispute.number,
        )

    async def _execute(self, claimed: _Claimed) -> RefundOutcome:
        try:
            result = await self.gateway.find(claimed.order) if claimed.uncertain else None
            if result is None:
                result = await self.gateway.refund(claimed.order)
        except RefundUncertain as exc:
            unknown = str(exc)
            return await self.db.run(lambda s: self._record_uncertain(s, claimed, unknown))
        except RefundError as exc:
            refused, existing = str(exc), exc.provider_refund_id
            return await self.db.run(
                lambda s: self._record_failed(s, claimed, refused, existing_refund=existing)
            )
        if result.status == RefundStatus.SUCCEEDED:
            return await self.db.run(lambda s: self._record_succeeded(s, claimed, result))
        if result.status == RefundStatus.PENDING:
            detail = f"the provider holds refund {result.provider_refund_id} as pending"
            return await self.db.run(lambda s: self._record_uncertain(s, claimed, detail))
        reason = result.failure_reason or f"the provider answered {result.status.value}"
        return await self.db.run(lambda s: self._record_failed(s, claimed, reason))

    async def _load(
        self, session: AsyncSession, claimed: _Claimed
    ) -> tuple[RefundRequestRow, DisputeRow]:
        request = await session.get(RefundRequestRow, claimed.id, populate_existing=True)
        assert request is not None
        dispute = await session.get(DisputeRow, request.dispute_id, populate_existing=True)
        assert dispute is not None
        return request, dispute

    async def _record_succeeded(
        self, session: AsyncSession, claimed: _Claimed, result: RefundResult
    ) -> RefundOutcome:
        request, dispute = await self._load(session, claimed)
        request.status, request.uncertain = "succeeded", False
        request.provider_refund_id = result.provider_refund_id
        request.failure_reason = None
        request.updated_at = datetime.now(UTC)
        await audit.append(
            session,
            dispute,
            SYSTEM,
            "refund.succeeded",
            after={
                "refund_request": request.id,
                "provider_refund_id": result.provider_refund_id,
                "amount_minor": result.amount_minor,
                "currency": result.currency,
                "attempts": request.attempts,
            },
        )
        if Status(dispute.status) == Status.EXECUTING:
            await transition(session, dispute, Event.EXECUTION_SUCCEEDED, SYSTEM)
        return _outcome(request, dispute, "succeeded", None)

    async def _record_failed(
        self,
        session: AsyncSession,
        claimed: _Claimed,
        reason: str,
        *,
        existing_refund: str | None = None,
    ) -> RefundOutcome:
        request, dispute = await self._load(session, claimed)
        request.status, request.uncertain = "failed", False
        request.updated_at = datetime.now(UTC)
        if existing_refund is None:
            request.failure_reason = reason[:1000]
            await release(session, request)
        else:
            # The provider made a refund that does not match what we asked: money may have
            # moved, so the ledger keeps the amount and a person must look before any retry.
            request.provider_refund_id = existing_refund
            request.failure_reason = f"{reason} (refund {existing_refund} needs a manual check)"[
                :1000
            ]
        await audit.append(
            session,
            dispute,
            SYSTEM,
            "refund.failed",
            after={"refund_request": request.id, "reason": request.failure_reason},
        )
        if Status(dispute.status) == Status.EXECUTING:
            await transition(session, dispute, Event.EXECUTION_FAILED, SYSTEM)
        return _outcome(request, dispute, "failed", request.failure_reason)

    async def _record_uncertain(
        self, session: AsyncSession, claimed: _Claimed, detail: str
    ) -> RefundOutcome:
        request, dispute = await self._load(session, claimed)
        now = datetime.now(UTC)
        request.status, request.uncertain = "pending", True
        request.failure_reason = detail[:1000]
        request.next_attempt_at = now + min(timedelta(seconds=2**request.attempts), MAX_BACKOFF)
        request.updated_at = now
        await audit.append(
            session,
            dispute,
            SYSTEM,
            "refund.uncertain",
            after={
                "refund_request": request.id,
                "detail": request.failure_reason,
                "attempts": request.attempts,
            },
        )
        return _outcome(request, dispute, "retrying", request.failure_reason)


def _outcome(
    request: RefundRequestRow, dispute: DisputeRow, status: str, detail: str | None
) -> RefundOutcome:
    return RefundOutcome(
        dispute_number=dispute.number,
        request_id=request.id,
        status=status,
        amount_minor=request.amount_minor,
        currency=request.currency,
        provider_refund_id=request.provider_refund_id,
        detail=detail,
    )
