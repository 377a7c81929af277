"""Recording what happened to a claimed refund request, each step fenced by the claim.

Every function here runs in one transaction, first checks that the request still carries the
fence its worker claimed it with (`_fenced`), and otherwise writes nothing and says so in the
log: a worker that lost its claim (a lease that expired under a slow provider, a process thought
dead) can never overwrite the outcome another worker recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.refunds.protocol import RefundOrder, RefundResult
from disputes import audit
from disputes.audit import Actor
from disputes.ledger import ledger_of, lock_ledger, note_provider_refunds, store_provider_read
from disputes.lifecycle import Event, Status
from disputes.models import dispute_ref
from disputes.payments import Basis, request_ref
from disputes.refund_lookup import Found, Lookup
from disputes.transitions import transition
from domain.money import Money
from storage.db import on_postgresql
from storage.tables import DisputeRow, RefundRequestRow

log = logging.getLogger(__name__)
SYSTEM = Actor.system("refunds")
SETTLED_STATES = (Status.EXECUTING, Status.NEEDS_ATTENTION)
# A refund the provider holds as pending is on its way; past a week, a person checks it.
PENDING_ATTENTION_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Timings:
    lease: timedelta = timedelta(seconds=120)
    settle: timedelta = timedelta(seconds=30)
    attention_after: timedelta = timedelta(seconds=900)
    max_backoff: timedelta = timedelta(minutes=5)
    poll_seconds: float = 5.0

    def backoff(self, attempts: int) -> timedelta:
        return min(timedelta(seconds=2 ** min(attempts, 16)), self.max_backoff)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A request as its worker claimed it: the fence it holds, and what to do first."""

    id: int
    fence: int
    was: str  # "pending": never sent; "unknown": may have been sent, ask before sending
    order: RefundOrder
    last_in_flight_at: datetime | None
    basis: Basis
    dispute_number: int
    attention: str | None = None


def claimed_from(request: RefundRequestRow, dispute: DisputeRow, *, was: str) -> Claimed:
    return Claimed(
        id=request.id,
        fence=request.fence,
        was=was,
        order=RefundOrder(
            request_id=request.provider_ref,
            idempotency_key=request.idempotency_key,
            payment_reference=request.payment_reference,
            amount_minor=request.amount_minor,
            currency=request.currency,
            dispute_ref=dispute_ref(dispute.number),
        ),
        last_in_flight_at=request.last_in_flight_at,
        basis=Basis(request.basis),
        dispute_number=dispute.number,
        attention=request.attention,
    )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """A change in a refund request's state, for the thread and the supervisors."""

    dispute_number: int
    request_id: int
    status: str  # succeeded | duplicate | failed | unknown | needs_attention
    amount_minor: int
    currency: str
    provider_refund_ids: tuple[str, ...]
    detail: str | None

    @property
    def provider_refund_id(self) -> str | None:
        return self.provider_refund_ids[0] if self.provider_refund_ids else None


async def _fenced(
    session: AsyncSession, claimed: Claimed, step: str
) -> tuple[RefundRequestRow, DisputeRow] | None:
    query = select(RefundRequestRow).where(RefundRequestRow.id == claimed.id)
    if on_postgresql(session):
        query = query.with_for_update()
    request = await session.scalar(query.execution_options(populate_existing=True))
    assert request is not None
    if request.fence != claimed.fence or request.status != "in_flight":
        log.warning(
            "refund request rr_%s: claim %s was lost (now claim %s, %s); %s not recorded",
            claimed.id,
            claimed.fence,
            request.fence,
            request.status,
            step,
        )
        return None
    dispute = await session.get(DisputeRow, request.dispute_id, populate_existing=True)
    assert dispute is not None
    return request, dispute


def _outcome(request: RefundRequestRow, dispute: DisputeRow, status: str) -> RefundOutcome:
    return RefundOutcome(
        dispute_number=dispute.number,
        request_id=request.id,
        status=status,
        amount_minor=request.amount_minor,
        currency=request.currency,
        provider_refund_ids=tuple(request.provider_refund_ids or ()),
        detail=request.failure_reason,
    )


def _release_claim(request: RefundRequestRow, status: str, now: datetime) -> None:
    request.status = status
    request.lease_until = None
    request.updated_at = now


async def _move(session: AsyncSession, dispute: DisputeRow, event: Event, now: datetime) -> None:
    if Status(dispute.status) in SETTLED_STATES:
        await transition(session, dispute, event, SYSTEM, at=now)


# -- before sending --------------------------------------------------------------------------


async def prepare_send(
    session: AsyncSession,
    claimed: Claimed,
    refunds: list[RefundResult],
    clock: Callable[[], datetime],
    timings: Timings,
) -> Literal[True] | RefundOutcome | None:
    """Check the ledger as the provider shows it, then mark the send before it happens (the
    stamp is read once the rows are locked, so waiting for them never makes it early).

    True: send now. An outcome: the ledger refused it (nothing sent). None: the claim was lost.
    """
    found = await _fenced(session, claimed, "a send")
    if found is None:
        return None
    request, dispute = found
    row = await lock_ledger(session, request.payment_reference)
    now = clock()
    store_provider_read(row, refunds, None, now)
    ledger = await ledger_of(session, row)
    room = ledger.cap_minor(claimed.basis, excluding=request.id)
    if request.amount_minor > room:
        money = lambda minor: str(Money(minor, request.currency))  # noqa: E731
        reason = (
            f"Not sent: {money(request.amount_minor)} would take refunds past what was paid "
            f"({money(ledger.paid_minor)}): the provider holds {money(ledger.provider_minor)} "
            f"as refunded, the order system claims {money(ledger.order_claim_minor)}; at most "
            f"{money(room)} can still be refunded."
        )
        return await record_failed(session, claimed, reason, now=now, timings=timings, held=found)
    request.sends += 1
    request.last_in_flight_at = now
    request.lease_until = now + timings.lease
    request.updated_at = now
    await audit.append(
        session,
        dispute,
        SYSTEM,
        "refund.sent",
        after={
            "refund_request": request.id,
            "send": request.sends,
            "idempotency_key": request.idempotency_key,
        },
        at=now,
    )
    return True


# -- outcomes ----------------------------------------------------------------------------------


async def record_succeeded(
    session: AsyncSession,
    claimed: Claimed,
    results: list[RefundResult],
    *,
    now: datetime,
    timings: Timings,
    sent: bool = False,
) -> RefundOutcome | None:
    found = await _fenced(session, claimed, "a refund that succeeded")
    if found is None:
        return await _late_refund(session, claimed, results, now)
    request, dispute = found
    note_provider_refunds(await lock_ledger(session, request.payment_reference), results)
    ids = [r.provider_refund_id for r in results]
    duplicate = len(ids) > 1
    _release_claim(request, "succeeded", now)
    request.provider_refund_id, request.provider_refund_ids = ids[0], ids
    request.failure_reason, request.attention = None, None
    await audit.append(
        session,
        dispute,
        SYSTEM,
        "refund.succeeded",
        after={
            "refund_request": request.id,
            "provider_refund_id": ids[0],
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "attempts": request.attempts,
            "sends": request.sends,
        },
        at=now,
    )
    if duplicate:
        await note_duplicate(session, request, dispute, SYSTEM, now)
    await _move(session, dispute, Event.EXECUTION_SUCCEEDED, now)
    return _outcome(request, dispute, "duplicate" if duplicate else "succeeded")


async def _late_refund(
    session: AsyncSession, claimed: Claimed, results: list[RefundResult], now: datetime
) -> RefundOutcome | None:
    """A worker that lost its claim still heard of a refund: if the request was settled
    without it, the money moved all the same, and that is written down (not left to chance)."""
    request = await session.get(RefundRequestRow, claimed.id, populate_existing=True)
    assert request is not None
    known = list(request.provider_refund_ids or ())
    new = [r.provider_refund_id for r in results if r.provider_refund_id not in known]
    if not new or request.status not in ("succeeded", "failed", "canceled"):
        return None  # not settled yet: whoever holds the claim sees it at the provider
    dispute = await session.get(DisputeRow, request.dispute_id, populate_existing=True)
    assert dispute is not None
    note_provider_refunds(await lock_ledger(session, request.payment_reference), results)
    request.provider_refund_ids = [*known, *new]
    request.provider_refund_id = request.provider_refund_id or new[0]
    request.updated_at = now
    await audit.append(
        session,
        dispute,
        SYSTEM,
        "refund.found",
        after={"refund_request": request.id, "provider_refund_ids": new, "late": True},
        at=now,
    )
    if request.status == "succeeded":
        await note_duplicate(session, request, dispute, SYSTEM, now)
        return _outcome(request, dispute, "duplicate")
    request.status, request.failure_reason = "succeeded", None  # taken as refused, yet paid
    if Status(dispute.status) in (*SETTLED_STATES, Status.EXECUTION_FAILED):
        await transition(session, dispute, Event.EXECUTION_SUCCEEDED, SYSTEM, at=now)
    return _outcome(request, dispute, "succeeded")


async def record_error(
    session: AsyncSession, claimed: Claimed, detail: str, *, now: datetime, timings: Timings
) -> RefundOutcome | None:
    """Something unforeseen broke the pass: unknown if it was ever sent, else not sent."""
    found = await _fenced(session, claimed, "an error")
    if found is None:
        return None
    request, _dispute = found
    if request.sends:
        return await record_unknown(session, claimed, detail, now=now, timings=timings, sent=True)
    return await record_not_sent(session, claimed, detail, now=now, timings=timings)


async def note_duplicate(
    session: AsyncSession,
    request: RefundRequestRow,
    dispute: DisputeRow,
    actor: Actor,
    now: datetime,
) -> None:
    """More than one refund at the provider for one request: flagged, both ids audited."""
    ids = list(request.provider_refund_ids)
    request.attention = "duplicate"
    request.failure_reason = (
        f"The provider holds {len(ids)} refunds for this one request ({', '.join(ids)}): "
        "the customer was refunded more than once."
    )
    await audit.append(
        session,
        dispute,
        actor,
        "refund.duplicate",
        after={"refund_request": request.id, "provider_refund_ids": ids},
        at=now,
    )


async def record_failed(
    session: AsyncSession,
    claimed: Claimed,
    reason: str,
    *,
    now: datetime,
    timings: Timings,
    held: tuple[RefundRequestRow, DisputeRow] | None = None,
    sent: bool = False,
) -> RefundOutcome | None:
    """The provider's definite refusal (or the ledger's, before sending): no money moved.

    After a POST (`sent`), the refusal's time is kept: a Retry sends nothing new before the
    provider has had its settling time (a proxy's 4xx may hide a refund still being made)."""
    found = held or await _fenced(session, claimed, "a refusal")
    if found is None:
        return None
    request, dispute = found
    _release_claim(request, "failed", now)
    if sent:
        request.last_in_flight_at = now
    request.failure_reason = reason[:1000]
    await audit.append(
        session,
        dispute,
        SYSTEM,
        "refund.failed",
        after={"refund_request": request.id, "reason": request.failure_reason},
        at=now,
    )
    await _move(session, dispute, Event.EXECUTION_FAILED, now)
    return _outcome(request, dispute, "failed")


async def record_not_sent(
    session: AsyncSession, claimed: Claimed, reason: str, *, now: datetime, timings: Timings
) -> RefundOutcome | None:
    """Never sent, and it could not be sent now (the provider could not be read): try later."""
    found = await _fenced(session, claimed, "a send put off")
    if found is None:
        return None
    request, dispute = found
    _release_claim(request, "pending", now)
    request.failure_reason = reason[:1000]
    request.next_attempt_at = now + timings.backoff(request.attempts)
    return await _attention_if_stuck(
        session, request, dispute, request.created_at, now, timings.attention_after
    )


async def record_unknown(
    session: AsyncSession,
    claimed: Claimed,
    detail: str,
    *,
    now: datetime,
    timings: Timings,
    sent: bool = False,
    provider_ids: Iterable[str] = (),
) -> RefundOutcome | None:
    """The outcome is not known: ask again at the settling time, then with backoff."""
    found = await _fenced(session, claimed, "an unknown outcome")
    if found is None:
        return None
    request, dispute = found
    first = request.unknown_since is None
    _release_claim(request, "unknown", now)
    request.unknown_since = request.unknown_since or now
    request.failure_reason = detail[:1000]
    ids = list(provider_ids)
    if ids:
        request.provider_refund_id, request.provider_refund_ids = ids[0], ids
    if sent:  # this pass sent it and stopped waiting for the answer only now
        request.last_in_flight_at = now
    settle_at = (request.last_in_flight_at or now) + timings.settle
    request.next_attempt_at = (
        settle_at if settle_at > now else now + timings.backoff(request.attempts)
    )
    outcome = None
    if first:
        await audit.append(
            session,
            dispute,
            SYSTEM,
            "refund.unknown",
            after={"refund_request": request.id, "detail": request.failure_reason},
            at=now,
        )
        outcome = _outcome(request, dispute, "unknown")
    after = PENDING_ATTENTION_AFTER if ids else timings.attention_after
    since = request.unknown_since
    stuck = await _attention_if_stuck(session, request, dispute, since, now, after)
    return stuck or outcome


async def record_lookup(
    session: AsyncSession,
    claimed: Claimed,
    found: Lookup,
    *,
    now: datetime,
    timings: Timings,
    sent: bool = False,
) -> RefundOutcome | None:
    """What a look-up at the provider found for the request."""
    refunds = list(found.refunds)
    if found.kind in (Found.SUCCEEDED, Found.DUPLICATE):
        return await record_succeeded(session, claimed, refunds, now=now, timings=timings)
    if found.kind is Found.REFUSED:
        reason = found.failure_reason or "the provider's refund for it failed"
        return await record_failed(session, claimed, reason, now=now, timings=timings)
    if found.kind is Found.PENDING:
        detail = f"the provider holds refund {found.ids[0]} as pending"
        return await record_unknown(
            session, claimed, detail, provider_ids=found.ids, sent=sent, now=now, timings=timings
        )
    if found.kind is Found.MISMATCH:
        return await _record_mismatch(session, claimed, found, now=now)
    detail = f"the provider holds no refund for {request_ref(claimed.id)} yet"
    return await record_unknown(session, claimed, detail, sent=sent, now=now, timings=timings)


async def _record_mismatch(
    session: AsyncSession, claimed: Claimed, found: Lookup, *, now: datetime
) -> RefundOutcome | None:
    held = await _fenced(session, claimed, "a mismatched refund")
    if held is None:
        return None
    request, dispute = held
    _release_claim(request, "unknown", now)
    request.unknown_since = request.unknown_since or now
    described = ", ".join(
        f"{r.provider_refund_id} ({Money(r.amount_minor, r.currency)})" for r in found.refunds
    )
    request.failure_reason = (
        f"The provider holds {described} under this request's id, which is not the "
        f"{Money(request.amount_minor, request.currency)} asked for: nothing is sent until a "
        "person has checked it."
    )
    request.provider_refund_ids = found.ids
    request.next_attempt_at = now + timedelta(minutes=5)
    if request.attention == "mismatch":
        return None
    return await _raise_attention(session, request, dispute, "mismatch", now)


async def _attention_if_stuck(
    session: AsyncSession,
    request: RefundRequestRow,
    dispute: DisputeRow,
    since: datetime | None,
    now: datetime,
    after: timedelta,
) -> RefundOutcome | None:
    if request.attention is not None or since is None or now - since < after:
        return None
    return await _raise_attention(session, request, dispute, "unknown_too_long", now)


async def _raise_attention(
    session: AsyncSession,
    request: RefundRequestRow,
    dispute: DisputeRow,
    why: str,
    now: datetime,
) -> RefundOutcome:
    """Once per reason: the dispute needs a person; the worker keeps asking the provider."""
    request.attention = why
    await audit.append(
        session,
        dispute,
        SYSTEM,
        "refund.attention",
        after={
            "refund_request": request.id,
            "why": why,
            "detail": request.failure_reason,
            "provider_refund_ids": list(request.provider_refund_ids or ()),
        },
        at=now,
    )
    if Status(dispute.status) == Status.EXECUTING:
        await transition(session, dispute, Event.ATTENTION_NEEDED, SYSTEM, at=now)
    return _outcome(request, dispute, "needs_attention")
