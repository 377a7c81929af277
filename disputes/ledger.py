"""The payment ledger in the database: one row per payment, locked by whoever commits money
against it, holding the provider's refunds as last read (`disputes.payments` does the sums)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.refunds.protocol import RefundGateway, RefundResult, RefundUncertain
from disputes.models import dispute_ref
from disputes.payments import (
    LIVE_STATUSES,
    Clock,
    OurRequest,
    PaymentLedger,
    ProviderRefund,
    order_claim_minor,
    utcnow,
)
from domain.orders import Order
from storage.db import Database, on_postgresql
from storage.tables import DisputeRow, RefundLedgerRow, RefundRequestRow

log = logging.getLogger(__name__)

# -- the ledger row -----------------------------------------------------------------------


async def ensure_ledger(session: AsyncSession, order: Order) -> None:
    """The payment's row, created if new; the order system's claim only ever grows."""
    reference = order.payment.reference
    claim = order_claim_minor(order)
    insert = pg_insert if on_postgresql(session) else sqlite_insert
    await session.execute(
        insert(RefundLedgerRow)
        .values(
            payment_reference=reference,
            currency=order.currency,
            paid_minor=order.total_minor,
            order_claim_minor=claim,
        )
        .on_conflict_do_nothing(index_elements=["payment_reference"])
    )
    await session.execute(
        update(RefundLedgerRow)
        .where(
            RefundLedgerRow.payment_reference == reference,
            RefundLedgerRow.order_claim_minor < claim,
        )
        .values(order_claim_minor=claim)
    )


def _lock(on_postgresql: bool) -> Executable:
    query = select(RefundLedgerRow).where(
        RefundLedgerRow.payment_reference == bindparam("reference")
    )
    if on_postgresql:  # SQLite's BEGIN IMMEDIATE already serialises
        query = query.with_for_update()
    return query.execution_options(populate_existing=True)


def _upsert(insert: Callable[..., Any]) -> Executable:
    upsert = insert(RefundLedgerRow).values(
        payment_reference=bindparam("reference"),
        currency=bindparam("currency"),
        paid_minor=bindparam("paid"),
        order_claim_minor=bindparam("claim"),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["payment_reference"],
        set_={"order_claim_minor": upsert.excluded.order_claim_minor},
        where=RefundLedgerRow.order_claim_minor < upsert.excluded.order_claim_minor,
    )
    return upsert.returning(RefundLedgerRow).execution_options(populate_existing=True)


# Built once per database kind: these run with every intake and every money move.
_LOCKS = {True: _lock(True), False: _lock(False)}
_UPSERTS = {True: _upsert(pg_insert), False: _upsert(sqlite_insert)}


async def lock_ledger(session: AsyncSession, reference: str) -> RefundLedgerRow:
    """The payment's row, held until the transaction ends: money is committed one at a time."""
    row = await session.scalar(_LOCKS[on_postgresql(session)], {"reference": reference})
    if row is None:
        raise LookupError(f"no ledger for payment {reference}")
    return row


async def hold_ledger(session: AsyncSession, order: Order) -> RefundLedgerRow:
    """`ensure_ledger` then `lock_ledger`: one statement when the row is new or the order's
    claim grows (the upsert returns the row it wrote, and holds it), two otherwise."""
    row = await session.scalar(
        _UPSERTS[on_postgresql(session)],
        {
            "reference": order.payment.reference,
            "currency": order.currency,
            "paid": order.total_minor,
            "claim": order_claim_minor(order),
        },
    )
    # Unchanged: PostgreSQL has locked the row all the same; read it as `lock_ledger` does.
    return row if row is not None else await lock_ledger(session, order.payment.reference)


def store_provider_read(
    row: RefundLedgerRow, refunds: Iterable[RefundResult] | None, error: str | None, at: datetime
) -> None:
    """Keep what the provider said (or why it could not be read) on the payment's row."""
    if refunds is not None:
        row.provider_refunds = [ProviderRefund.of(r).to_json() for r in refunds]
        row.provider_read_at = at
        row.provider_error = None
    else:
        row.provider_error = (error or "unknown error")[:500]


def note_provider_refunds(row: RefundLedgerRow, refunds: Iterable[RefundResult]) -> None:
    """Add refunds the provider just showed us to the row's last read of the provider."""
    if row.provider_refunds is None:
        return  # never read: a partial list would pass for the whole
    known = {r["id"] for r in row.provider_refunds}
    added = [ProviderRefund.of(r).to_json() for r in refunds if r.provider_refund_id not in known]
    if added:
        row.provider_refunds = [*row.provider_refunds, *added]


# The payment's row with its live requests, in one read (one row with no request when none).
_LEDGER_WITH_REQUESTS = (
    select(RefundLedgerRow, RefundRequestRow, DisputeRow.number)
    .outerjoin(
        RefundRequestRow,
        and_(
            RefundRequestRow.payment_reference == RefundLedgerRow.payment_reference,
            RefundRequestRow.status.in_(LIVE_STATUSES),
        ),
    )
    .outerjoin(DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id)
    .where(RefundLedgerRow.payment_reference == bindparam("reference"))
    .order_by(RefundRequestRow.id)
    .execution_options(populate_existing=True)
)


async def load_ledger(session: AsyncSession, reference: str) -> PaymentLedger | None:
    found = (await session.execute(_LEDGER_WITH_REQUESTS, {"reference": reference})).all()
    if not found:
        return None
    live = [(request, number) for _row, request, number in found if request is not None]
    return await _ledger(session, found[0][0], live)


_LIVE_REQUESTS = (
    select(RefundRequestRow, DisputeRow.number)
    .join(DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id)
    .where(
        RefundRequestRow.payment_reference == bindparam("reference"),
        RefundRequestRow.status.in_(LIVE_STATUSES),
    )
    .order_by(RefundRequestRow.id)
    .execution_options(populate_existing=True)
)


async def ledger_of(session: AsyncSession, row: RefundLedgerRow) -> PaymentLedger:
    found = await session.execute(_LIVE_REQUESTS, {"reference": row.payment_reference})
    return await _ledger(session, row, [(request, number) for request, number in found.all()])


async def _ledger(
    session: AsyncSession, row: RefundLedgerRow, live: list[tuple[RefundRequestRow, int]]
) -> PaymentLedger:
    requests = tuple(
        OurRequest(
            id=request.id,
            dispute_number=number,
            amount_minor=request.amount_minor,
            status=request.status,
            provider_refund_ids=tuple(request.provider_refund_ids or ()),
            provider_id=request.provider_ref,
        )
        for request, number in live
    )
    ours = await _ours_by_request(session, row.provider_refunds or [])
    refunds = None
    if row.provider_refunds is not None:
        refunds = tuple(
            _marked(ProviderRefund.from_json(data), ours) for data in row.provider_refunds
        )
    return PaymentLedger(
        payment_reference=row.payment_reference,
        currency=row.currency,
        paid_minor=row.paid_minor,
        order_claim_minor=row.order_claim_minor,
        provider_refunds=refunds,
        provider_read_at=row.provider_read_at,
        provider_error=row.provider_error,
        requests=requests,
    )


async def _ours_by_request(session: AsyncSession, refunds: list[dict[str, Any]]) -> dict[str, int]:
    """Our request id at the provider -> dispute number, for the refunds that carry one."""
    wanted = {r["request_id"] for r in refunds if r.get("request_id")}
    if not wanted:
        return {}
    found = await session.execute(
        select(RefundRequestRow.provider_ref, DisputeRow.number)
        .join(DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id)
        .where(RefundRequestRow.provider_ref.in_(wanted))
    )
    return {ref: number for ref, number in found.all()}


def _marked(refund: ProviderRefund, ours: dict[str, int]) -> ProviderRefund:
    number = ours.get(refund.request_id or "")
    return refund if number is None else replace(refund, ours=dispute_ref(number))


# -- reading the provider ----------------------------------------------------------------------


class LedgerReader:
    """Reads the provider's refunds on a payment and keeps them on the payment's row."""

    def __init__(
        self,
        db: Database,
        gateway: RefundGateway | None,
        *,
        timeout: float = 5.0,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.timeout = timeout
        self.clock = clock

    async def read(self, reference: str) -> tuple[list[RefundResult] | None, str | None]:
        """The provider's refunds on the payment, or None and why it could not say."""
        if self.gateway is None:
            return None, "no refund gateway is configured (REFUND_GATEWAY)"
        try:
            async with asyncio.timeout(self.timeout):
                return await self.gateway.refunds_on(reference), None
        except RefundUncertain as exc:
            return None, str(exc)
        except TimeoutError:
            return None, f"the provider did not answer within {self.timeout:g}s"

    async def refresh(self, order: Order) -> PaymentLedger:
        """Read the provider, then keep the answer (and the order's claim) on the ledger row."""
        refunds, error = await self.read(order.payment.reference)
        if error:
            log.warning("payment %s: provider not read: %s", order.payment.reference, error)

        async def work(session: AsyncSession) -> PaymentLedger:
            row = await hold_ledger(session, order)
            store_provider_read(row, refunds, error, self.clock())
            return await ledger_of(session, row)

        return await self.db.run(work)
