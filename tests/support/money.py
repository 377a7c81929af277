"""The money path as the tests drive it: one small facade over intake, proposals, approvals,
retries, the refund worker and the ledger, so money tests keep working when modules move.

    world = MoneyWorld(db, gateway, tmp_path, orders=[order(...)])
    number = await world.open("ORD-T1", by=MANAGER)
    proposal = await world.propose(number, MANAGER, kind="partial_refund", amount="50.00")
    await world.approve(number, proposal, SUPERVISOR)
    await world.worker_pass()
    assert await world.status(number) == "resolved"
    await world.check_books()          # provider, our requests and the audit trail agree

Times are the world's own clock (`world.clock`), which only moves when a test moves it
(`world.later(seconds)`), so leases, settling times and attention thresholds are tested without
waiting. Users are Slack ids; roles come from `ROLES` unless a test passes its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.refunds.protocol import (
    RefundError,
    RefundGateway,
    RefundOrder,
    RefundResult,
    RefundUncertain,
)
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.conversation_chores import ConversationChores
from disputes.customer_answers import CustomerAnswers
from disputes.customer_messages import ConversationConfig
from disputes.customer_outbox import CustomerOutbox
from disputes.intake import IntakeService, OpenRequest
from disputes.ledger import LedgerReader, load_ledger
from disputes.links import LinkSigner
from disputes.offers import Offers
from disputes.payments import PaymentLedger, request_ref, utcnow
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.proposals import ProposalInput
from disputes.refund_records import RefundOutcome, Timings
from disputes.refund_retry import RetryResult
from disputes.refund_worker import RefundWorker
from disputes.resolution import ResolutionService
from disputes.roles import CurrentRoles
from domain.orders import Order
from domain.reasons import reason_from_word
from policies.current import CurrentPack
from storage.db import Database
from storage.tables import AuditRow, CustomerMessageRow, DisputeRow, RefundRequestRow
from tests.support.customer_channels import RecordingChannel
from tests.support.orders import StaticOrders

PUBLIC_URL = "https://disputes.example.com"  # where the customer's links lead
AGENT, MANAGER, MANAGER2, SUPERVISOR = "U0AGENT", "U0MANAGER1", "U0MANAGER2", "U0SUPER"
ROLES = """
roles:
  supervisor: {users: [U0SUPER], groups: [S0SUPERS], approval_limit: null}
  manager: {users: [U0MANAGER1, U0MANAGER2], groups: [S0MANAGERS], approval_limit: "200.00"}
  agent: {users: [U0AGENT], groups: [], approval_limit: "0"}
two_person_rule_above: "100.00"
"""
FAST = Timings(
    lease=timedelta(seconds=120),
    settle=timedelta(seconds=30),
    attention_after=timedelta(seconds=900),
    poll_seconds=0.05,
)


class WorldClock:
    """UTC time that moves only when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Request:
    """One of our refund requests, as stored."""

    id: int
    dispute_number: int
    status: str
    amount_minor: int
    currency: str
    sends: int
    attempts: int
    fence: int
    provider_refund_ids: tuple[str, ...]
    attention: str | None
    failure_reason: str | None
    idempotency_key: str
    provider_id: str  # as the provider's metadata carries it

    @property
    def ref(self) -> str:
        return request_ref(self.id)


class _Killed(BaseException):
    """The process is gone: nothing after this point runs."""


class WrappedGateway:
    """A gateway in front of another: subclasses change what `refund` does (a proxy, a stall,
    a process that dies), look-ups go through unchanged."""

    def __init__(self, inner: RefundGateway) -> None:
        self.inner = inner
        self.name = inner.name

    async def refund(self, order: RefundOrder) -> RefundResult:
        return await self.inner.refund(order)

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        return await self.inner.refunds_on(payment_reference)

    async def aclose(self) -> None:
        return None


class _DiesAfterSending(WrappedGateway):
    async def refund(self, order: RefundOrder) -> RefundResult:
        with contextlib.suppress(RefundError, RefundUncertain):
            await self.inner.refund(order)
        raise _Killed


class MoneyWorld:
    def __init__(
        self,
        db: Database,
        gateway: RefundGateway,
        folder: Path,
        *,
        orders: Iterable[Order] = (),
        roles: str = ROLES,
        timings: Timings = FAST,
        clock: WorldClock | None = None,
        real_time: bool = False,
        conversation: bool = False,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.real_time = real_time
        self.clock: Any = utcnow if real_time else (clock or WorldClock())
        self.timings = timings
        self.orders = StaticOrders(*orders)
        self.roles_file = folder / "roles.yml"
        self.roles_file.write_text(roles)
        self.roles = CurrentRoles(self.roles_file)
        self.gate = Gate(db, self.roles)
        self.ledger_reader = LedgerReader(db, gateway, clock=self.clock)
        pack = CurrentPack(default_policy_pack())
        self.policy = PolicyService(db, pack)
        # With the conversation, options the pack puts to the customer wait for their answer.
        self.channel = RecordingChannel()
        self.signer = LinkSigner(db)
        self.conversation_config = ConversationConfig(PUBLIC_URL, "example.com")
        self.offers = (
            Offers(self.signer, self.conversation_config, pack, clock=self.clock)
            if conversation
            else None
        )
        self.intake = IntakeService(
            db,
            self.orders,
            default_evidence_sources(),
            policy=pack,
            ledger=self.ledger_reader,
            gate=self.gate,
        )
        self.resolution = ResolutionService(
            db,
            self.policy,
            self.roles,
            gateway_name=gateway.name,
            ledger=self.ledger_reader,
            orders=self.orders,
            clock=self.clock,
            settle=timings.settle,
            gate=self.gate,
            offers=self.offers,
        )
        self.answers = CustomerAnswers(db, self.signer, self.resolution, clock=self.clock)
        self.outcomes: list[RefundOutcome] = []
        self.worker = self.new_worker()
        self.outbox = CustomerOutbox(db, self.channel, clock=self.clock)
        if self.offers is not None:
            self.outbox.chores = ConversationChores(db, self.offers, clock=self.clock)

    def new_worker(self) -> RefundWorker:
        """Another worker on the same database: a second replica, or a restarted process."""

        async def notify(outcome: RefundOutcome) -> None:
            self.outcomes.append(outcome)

        return RefundWorker(
            self.db, self.gateway, notify=notify, timings=self.timings, clock=self.clock
        )

    def later(self, seconds: float) -> None:
        assert not self.real_time, "a world on real time moves with `sleep`"
        self.clock.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        """Let real time pass (a world on real time: leases renewed by real timers)."""
        await asyncio.sleep(seconds)

    def add_order(self, order: Order) -> None:
        self.orders.orders[order.order_id] = order

    # -- the steps people take ------------------------------------------------------------

    async def open(self, order_id: str, by: str = MANAGER, reason: str | None = None) -> int:
        word = reason_from_word(reason) if reason else None
        opened = await self.intake.open(OpenRequest(order_id, word, "", Actor.slack_user(by)))
        return opened.case.dispute.number

    async def review(self, number: int) -> Any:
        """What the resolution modal shows (the provider and the order system read afresh)."""
        return await self.resolution.review_context(number, Actor.slack_user(MANAGER))

    async def propose(
        self,
        number: int,
        by: str = MANAGER,
        *,
        kind: str = "partial_refund",
        amount: str | None = None,
        percent: str | None = None,
        note: str = "",
        justification: str | None = None,
        override: str | None = "checked by phone",
    ) -> int:
        entry = ProposalInput(kind, amount, percent, note, justification, override)
        return (await self.resolution.propose(number, entry, Actor.slack_user(by))).id

    async def request_changes(
        self, number: int, proposal: int, by: str = SUPERVISOR, reason: str = "smaller amount"
    ) -> None:
        await self.resolution.request_changes(number, proposal, Actor.slack_user(by), reason)

    async def approve(
        self, number: int, proposal: int, by: str = SUPERVISOR, groups: Iterable[str] = ()
    ) -> None:
        await self.resolution.approve(number, proposal, Actor.slack_user(by, groups))

    async def retry(
        self, number: int, by: str = SUPERVISOR, groups: Iterable[str] = ()
    ) -> RetryResult:
        return await self.resolution.retry(number, Actor.slack_user(by, groups))

    # -- the customer's side --------------------------------------------------------------

    async def offer_link(self, number: int) -> str:
        """The token of the latest offer put to the dispute's customer."""
        async with self.db.reading() as session:
            found = await session.scalar(
                select(CustomerMessageRow)
                .join(DisputeRow, DisputeRow.id == CustomerMessageRow.dispute_id)
                .where(DisputeRow.number == number, CustomerMessageRow.kind == "offer")
                .order_by(CustomerMessageRow.id.desc())
                .limit(1)
            )
        assert found is not None, f"D-{number} has no offer"
        return found.links[0].rsplit("/c/", 1)[1]

    async def accept_offer(self, number: int) -> None:
        """The customer accepts the offer on its page."""
        await self.answers.accept(await self.offer_link(number))

    async def decline_offer(self, number: int, reason: str = "") -> None:
        await self.answers.decline(await self.offer_link(number), reason)

    async def deliver(self) -> int:
        """One outbox pass (chores included): how many customer messages were tried."""
        return await self.outbox.run_once()

    async def worker_pass(self, worker: RefundWorker | None = None) -> bool:
        """One claim taken as far as the provider allows; False when nothing was due."""
        return await (worker or self.worker).run_once()

    def start_pass(self, worker: RefundWorker | None = None) -> asyncio.Task[bool]:
        """A worker pass running in the background (to be awaited later)."""
        return asyncio.create_task(self.worker_pass(worker))

    async def crash_mid_send(self) -> bool:
        """A worker that takes the next due request exactly as a worker does, sends its POST,
        and dies before it hears or records anything (kill -9 with the request on the wire).
        False when it found nothing to send."""
        worker = self.new_worker()
        worker.gateway = _DiesAfterSending(self.gateway)
        try:
            await worker.run_once()
        except _Killed:
            return True
        return False

    async def drain(self, worker: RefundWorker | None = None, limit: int = 50) -> int:
        """Worker passes until nothing is due now; how many ran."""
        for done in range(limit):
            if not await self.worker_pass(worker):
                return done
        raise AssertionError(f"still busy after {limit} passes")

    # -- what there is to read --------------------------------------------------------------

    async def status(self, number: int) -> str:
        return (await DisputeService(self.db, self.gate).case(number)).dispute.status.value

    async def case(self, number: int) -> Any:
        return await DisputeService(self.db).case(number)

    async def requests(self, number: int | None = None) -> list[Request]:
        async with self.db.reading() as session:
            query = (
                select(RefundRequestRow, DisputeRow.number)
                .join(DisputeRow, DisputeRow.id == RefundRequestRow.dispute_id)
                .order_by(RefundRequestRow.id)
            )
            if number is not None:
                query = query.where(DisputeRow.number == number)
            rows = (await session.execute(query)).all()
        return [
            Request(
                id=r.id,
                dispute_number=n,
                status=r.status,
                amount_minor=r.amount_minor,
                currency=r.currency,
                sends=r.sends,
                attempts=r.attempts,
                fence=r.fence,
                provider_refund_ids=tuple(r.provider_refund_ids or ()),
                attention=r.attention,
                failure_reason=r.failure_reason,
                idempotency_key=r.idempotency_key,
                provider_id=r.provider_ref,
            )
            for r, n in rows
        ]

    async def ledger(self, payment_reference: str) -> PaymentLedger | None:
        async with self.db.reading() as session:
            return await load_ledger(session, payment_reference)

    async def audit(self, number: int) -> list[tuple[str, dict[str, Any]]]:
        """The dispute's audit trail as (action, after) pairs, oldest first."""
        async with self.db.reading() as session:
            row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
            assert row is not None
            entries = await session.scalars(
                select(AuditRow).where(AuditRow.dispute_id == row.id).order_by(AuditRow.seq)
            )
            return [(e.action, dict(e.after)) for e in entries]

    async def provider_refunds(self, payment_reference: str) -> list[RefundResult]:
        return await self.gateway.refunds_on(payment_reference)

    async def check_books(self, *payments: str, paid: dict[str, int] | None = None) -> None:
        """The three ledgers agree and the audit chains hold.

        At the provider: at most one refund holding money per request of ours, and never more
        than was paid per payment. Our requests: every one the provider holds is recorded as
        succeeded with that refund's id, unless it is still unknown or flagged. The audit
        trail: one `refund.requested` per request, one `refund.succeeded` per succeeded one.
        """
        requests = {r.provider_id: r for r in await self.requests()}
        paid = paid or {}
        for payment in payments:
            held = [r for r in await self.provider_refunds(payment) if r.status.holds_money]
            per_request = Counter(r.request_id for r in held if r.request_id)
            duplicated = {ref for ref, n in per_request.items() if n > 1}
            flagged = {ref for ref in duplicated if requests[ref].attention == "duplicate"}
            assert duplicated == flagged, (
                f"unflagged duplicate refunds at the provider: {duplicated}"
            )
            if payment in paid:
                total = sum(r.amount_minor for r in held)
                assert total <= paid[payment], f"{payment}: {total} refunded of {paid[payment]}"
            for refund in held:
                ours = requests.get(refund.request_id or "")
                if ours is None:
                    continue
                assert ours.status in ("succeeded", "unknown", "in_flight"), (refund, ours)
                if ours.status == "succeeded":
                    assert refund.provider_refund_id in ours.provider_refund_ids, (refund, ours)
        for request in requests.values():
            trail = await self.audit(request.dispute_number)
            asked = [a for a, after in trail if after.get("refund_request") == request.id]
            assert asked.count("refund.requested") == 1, (request, asked)
            settled = asked.count("refund.succeeded")
            assert settled <= 1, (request, asked)
            if request.status == "succeeded":
                assert settled + asked.count("refund.found") >= 1, (request, asked)
            else:
                assert settled == 0, (request, asked)
            assert asked.count("refund.failed") <= 1, (request, asked)
        assert await DisputeService(self.db).verify_audit() == []
