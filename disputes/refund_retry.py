"""Retry after a refusal: ask the provider first, and send a new request only when it holds no
refund for the refused one (a refusal can be wrong: a proxy's 4xx after the provider paid)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.refunds.protocol import RefundOrder
from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.ledger import lock_ledger, store_provider_read
from disputes.lifecycle import Event, Status
from disputes.models import dispute_ref
from disputes.payments import Basis, request_ref
from disputes.refund_lookup import Found, Lookup, classify
from disputes.refund_records import note_duplicate
from disputes.refunds import request_refund
from disputes.repository import load_row
from disputes.transitions import transition
from domain.money import Money
from storage.tables import DisputeRow, ProposalRow, RefundRequestRow

if TYPE_CHECKING:
    from disputes.resolution import ResolutionService

UNSETTLED = ("pending", "in_flight", "unknown")
REFUSED = ("failed", "canceled")


@dataclass(frozen=True, slots=True)
class RetryResult:
    """What a Retry did: settled the refused request with a refund found at the provider, or
    queued a new request."""

    dispute_number: int
    request_id: int
    resent: bool
    amount_minor: int
    currency: str
    found_refund_ids: tuple[str, ...] = ()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class _Refused:
    id: int
    order: RefundOrder
    amount_minor: int
    currency: str
    basis: Basis
    gateway: str
    proposer: str
    needs_supervisor: bool
    proposal_id: int | None
    last_in_flight_at: datetime | None


async def retry_after_refusal(service: ResolutionService, number: int, actor: Actor) -> RetryResult:
    async with service.db.reading() as session:
        row = await load_row(session, number)
        refused = await _refused_request(session, row)
        await _authority(service, session, row, actor, refused)
    _settled_or_refuse(service, refused)
    refunds, error = await service.ledger.read(refused.order.payment_reference)
    if refunds is None:
        raise DisputeError(
            f"The payment provider could not be asked whether {request_ref(refused.id)} was "
            f"paid after all ({error}). Nothing was sent: try Retry again in a minute."
        )
    found = classify(refused.order, refunds)
    if found.kind is Found.MISMATCH:
        ids = ", ".join(found.ids)
        raise DisputeError(
            f"The provider holds {ids} under {request_ref(refused.id)} with another amount or "
            "currency. Nothing was sent: check it with the payments team first."
        )

    async def work(session: AsyncSession) -> RetryResult:
        row = await load_row(session, number)
        current = await _refused_request(session, row)
        if current.id != refused.id:
            raise DisputeError(f"{dispute_ref(number)} was retried already.")
        await _authority(service, session, row, actor, current)
        ledger_row = await lock_ledger(session, refused.order.payment_reference)
        store_provider_read(ledger_row, refunds, None, service.clock())
        if found.kind in (Found.SUCCEEDED, Found.DUPLICATE, Found.PENDING):
            return await _settle_found(session, service, row, current, found, actor)
        return await _resend(session, service, row, current, actor)

    return await service.db.run(work)


def _settled_or_refuse(service: ResolutionService, refused: _Refused) -> None:
    """A refusal heard moments ago may hide a refund the provider is still making (a proxy's
    4xx): Retry asks the provider only once its settling time has passed."""
    if refused.last_in_flight_at is None:
        return
    wait = (refused.last_in_flight_at + service.settle - service.clock()).total_seconds()
    if wait > 0:
        raise DisputeError(
            f"{request_ref(refused.id)} was refused {_ago(service, refused)}, and the provider "
            f"may still be acting on it: nothing was sent. Retry in {math.ceil(wait)} s, once "
            "the provider can be asked whether it paid after all."
        )


def _ago(service: ResolutionService, refused: _Refused) -> str:
    assert refused.last_in_flight_at is not None
    seconds = int((service.clock() - refused.last_in_flight_at).total_seconds())
    return "just now" if seconds < 1 else f"{seconds} s ago"


async def _refused_request(session: AsyncSession, row: DisputeRow) -> _Refused:
    ref = dispute_ref(row.number)
    latest = await session.scalar(
        select(RefundRequestRow)
        .where(RefundRequestRow.dispute_id == row.id)
        .order_by(RefundRequestRow.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if latest is not None and latest.status == "pending" and not latest.sends:
        raise DisputeError(
            f"{ref}'s refund {request_ref(latest.id)} is under way: it is sent within seconds, "
            "and Retry has nothing to add."
        )
    if latest is not None and latest.status in UNSETTLED:
        raise DisputeError(
            f"The outcome of {request_ref(latest.id)} for {ref} is not known yet: the provider "
            "is asked again until it answers. Retry sends nothing while the outcome is unknown."
        )
    if Status(row.status) != Status.EXECUTION_FAILED:
        label = Status(row.status).label.lower()
        raise DisputeError(f"{ref} is {label}: it cannot retry now.")
    if latest is None or latest.status not in REFUSED:
        raise DisputeError(f"{ref} has no refused refund to retry.")
    proposal = await session.get(ProposalRow, latest.proposal_id) if latest.proposal_id else None
    return _Refused(
        id=latest.id,
        order=RefundOrder(
            request_id=latest.provider_ref,
            idempotency_key=latest.idempotency_key,
            payment_reference=latest.payment_reference,
            amount_minor=latest.amount_minor,
            currency=latest.currency,
            dispute_ref=ref,
        ),
        amount_minor=latest.amount_minor,
        currency=latest.currency,
        basis=Basis(latest.basis),
        gateway=latest.gateway,
        proposer=latest.proposed_by or latest.requested_by,
        needs_supervisor=bool(proposal and proposal.needs_supervisor),
        proposal_id=latest.proposal_id,
        last_in_flight_at=latest.last_in_flight_at,
    )


async def _authority(
    service: ResolutionService,
    session: AsyncSession,
    row: DisputeRow,
    actor: Actor,
    refused: _Refused,
) -> None:
    """Whoever clicks Retry needs the authority to approve this amount, as approving did."""
    await service.check_authority(
        session,
        row,
        actor,
        proposer=refused.proposer,
        amount_minor=refused.amount_minor,
        supervisor_required=refused.needs_supervisor,
    )


async def _settle_found(
    session: AsyncSession,
    service: ResolutionService,
    row: DisputeRow,
    refused: _Refused,
    found: Lookup,
    actor: Actor,
) -> RetryResult:
    """The provider holds the refund after all: record it, and send nothing new."""
    request = await session.get(RefundRequestRow, refused.id, populate_existing=True)
    assert request is not None
    now = service.clock()
    ids = found.ids
    request.provider_refund_id, request.provider_refund_ids = ids[0], ids
    request.updated_at = now
    await audit.append(
        session,
        row,
        actor,
        "refund.found",
        after={"refund_request": request.id, "provider_refund_ids": ids},
        at=now,
    )
    if found.kind is Found.PENDING:  # on its way: the worker follows it to the end
        request.status, request.unknown_since, request.next_attempt_at = "unknown", now, now
        request.failure_reason = f"the provider holds refund {ids[0]} as pending"
        await transition(session, row, Event.RETRIED, actor, details={"found": ids}, at=now)
    else:
        request.status, request.failure_reason = "succeeded", None
        if found.kind is Found.DUPLICATE:
            await note_duplicate(session, request, row, actor, now)
        await transition(session, row, Event.EXECUTION_SUCCEEDED, actor, at=now)
    return RetryResult(
        dispute_number=row.number,
        request_id=request.id,
        resent=False,
        amount_minor=request.amount_minor,
        currency=request.currency,
        found_refund_ids=tuple(ids),
    )


async def _resend(
    session: AsyncSession,
    service: ResolutionService,
    row: DisputeRow,
    refused: _Refused,
    actor: Actor,
) -> RetryResult:
    now = service.clock()
    await transition(session, row, Event.RETRIED, actor, details={"after": refused.id}, at=now)
    request = await request_refund(
        session,
        row,
        amount_minor=refused.amount_minor,
        currency=refused.currency,
        gateway=refused.gateway,
        actor=actor,
        basis=refused.basis,
        proposed_by=refused.proposer,
        proposal_id=refused.proposal_id,
        at=now,
    )
    return RetryResult(
        dispute_number=row.number,
        request_id=request.id,
        resent=True,
        amount_minor=request.amount_minor,
        currency=request.currency,
    )
