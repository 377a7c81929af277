"""An in-memory gateway with Stripe's rules, and faults a test can plan call by call.

By default a repeated Idempotency-Key with the same parameters replays the first answer, the
same key with other parameters is refused (`idempotency_error`), and refunds are capped at what
was paid. `honour_keys=False` makes every call a new refund (localstripe, some in-house back
ends); `cap=False` lets refunds exceed the payment (localstripe).

A held call (`hold_next`) has not reached the provider's books yet: another call with the same key
goes through meanwhile, and the held one, once released, meets the provider as it is then.

Faults are planned with a count and taken first in, first out: each `refund` call takes the next
refund fault, each `refunds_on` call the next look-up fault. A planned fault answers its call
whatever the key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum, auto

from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)

# Refund n is made at EPOCH + n seconds: order by `created_at` is the order they were made in.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FakeRefund:
    """One refund the fake provider holds; `order` is None for one put there by `add_refund`."""

    payment_reference: str
    result: RefundResult
    order: RefundOrder | None = None

    @property
    def id(self) -> str:
        return self.result.provider_refund_id


class _Fault(Enum):
    DECLINE = auto()
    PENDING = auto()
    TIMEOUT = auto()
    SERVER_ERROR = auto()
    REFUSE_AFTER_REFUND = auto()
    DELAY = auto()
    HOLD = auto()


@dataclass(frozen=True)
class _Planned:
    fault: _Fault | None
    reason: str = ""
    after_refund: bool = False
    status_code: int = 0


_NO_FAULT = _Planned(None)


def _parameters(order: RefundOrder) -> tuple[object, ...]:
    return (
        order.payment_reference,
        order.amount_minor,
        order.currency.upper(),
        order.request_id,
        order.dispute_ref,
    )


class FakeGateway:
    """The refund port in memory; see the module docstring for its rules and faults."""

    name = "fake"

    def __init__(
        self,
        *,
        paid: Mapping[str, tuple[int, str]],
        honour_keys: bool = True,
        cap: bool = True,
    ) -> None:
        self.paid = {ref: (amount, currency.upper()) for ref, (amount, currency) in paid.items()}
        self.honour_keys = honour_keys
        self.cap = cap
        self.refunds: list[FakeRefund] = []
        self.calls = 0  # refund calls
        self.lookups = 0  # refunds_on calls
        self.posts_made = 0  # refunds made by refund calls (add_refund not counted)
        self.held = asyncio.Event()  # set while at least one call is being held
        self._by_key: dict[str, tuple[tuple[object, ...], RefundResult]] = {}
        self._plan: deque[_Planned] = deque()
        self._lookup_plan: deque[int | None] = deque()  # None: answer this one
        self._delayed: list[RefundOrder] = []
        self._gates: list[asyncio.Event] = []

    # -- planning -------------------------------------------------------------------------

    def fail_next(self, n: int = 1, reason: str = "refund declined") -> None:
        """The provider refuses: `RefundError` (code `declined`), nothing is made."""
        self._plan_refund(n, _Planned(_Fault.DECLINE, reason=reason))

    def pending_next(self, n: int = 1) -> None:
        """A new refund is made with status pending."""
        self._plan_refund(n, _Planned(_Fault.PENDING))

    def timeout_next(self, n: int = 1, after_refund: bool = False) -> None:
        """`RefundUncertain`; with `after_refund` the call went through first (the answer lost)."""
        self._plan_refund(n, _Planned(_Fault.TIMEOUT, after_refund=after_refund))

    def error_5xx_next(self, n: int = 1, after_refund: bool = False) -> None:
        """`RefundUncertain` naming HTTP 500; with `after_refund` the call went through first."""
        self._plan_refund(n, _Planned(_Fault.SERVER_ERROR, after_refund=after_refund))

    def refuse_after_refund_next(self, n: int = 1, status_code: int = 400) -> None:
        """The call goes through (the refund is made) and yet `RefundError` is raised."""
        self._plan_refund(n, _Planned(_Fault.REFUSE_AFTER_REFUND, status_code=status_code))

    def delay_next(self, n: int = 1) -> None:
        """`RefundUncertain` now; the call goes through only at `release_delayed()`."""
        self._plan_refund(n, _Planned(_Fault.DELAY))

    def hold_next(self, n: int = 1) -> None:
        """The call waits (`held` is set, `holding` counts it) until `release_held()`."""
        self._plan_refund(n, _Planned(_Fault.HOLD))

    def lookup_fails_next(self, n: int = 1, status_code: int = 404, *, after: int = 0) -> None:
        """`refunds_on` raises `RefundUncertain` naming `status_code`, `n` times, once the next
        `after` look-ups have been answered."""
        self._lookup_plan.extend([None] * after + [status_code] * n)

    def clear_faults(self) -> None:
        """Forget every fault still planned: the provider behaves from now on."""
        self._plan.clear()
        self._lookup_plan.clear()

    def _plan_refund(self, n: int, planned: _Planned) -> None:
        if n < 0:
            raise ValueError("n must not be negative")
        self._plan.extend([planned] * n)

    # -- the provider acting later ----------------------------------------------------------

    @property
    def holding(self) -> int:
        """Calls waiting for `release_held()`."""
        return len(self._gates)

    @property
    def delayed(self) -> int:
        """Calls waiting for `release_delayed()`."""
        return len(self._delayed)

    def release_held(self) -> int:
        """Let every held call go on, as if the provider had not been slow; how many there were."""
        gates, self._gates = self._gates, []
        for gate in gates:
            gate.set()
        self.held.clear()
        return len(gates)

    def release_delayed(self) -> list[RefundResult | RefundError]:
        """The provider acts on the delayed calls now, keys and cap checked as of now; what each
        came to, in the order they were made (nobody hears these answers)."""
        delayed, self._delayed = self._delayed, []
        outcomes: list[RefundResult | RefundError] = []
        for order in delayed:
            try:
                outcomes.append(self._go_through(order))
            except RefundError as exc:
                outcomes.append(exc)
        return outcomes

    def settle(
        self, provider_refund_id: str, status: RefundStatus, reason: str | None = None
    ) -> None:
        """Move a refund to its final status, as the provider would later on."""
        for index, refund in enumerate(self.refunds):
            if refund.id == provider_refund_id:
                result = replace(refund.result, status=status, failure_reason=reason)
                self.refunds[index] = replace(refund, result=result)
                return
        raise KeyError(provider_refund_id)

    def add_refund(
        self,
        payment_reference: str,
        amount_minor: int,
        currency: str,
        *,
        request_id: str | None = None,
        dispute_ref: str | None = None,
        status: RefundStatus = RefundStatus.SUCCEEDED,
    ) -> RefundResult:
        """A refund somebody else made (or a duplicate), unchecked: no key, no cap."""
        if payment_reference not in self.paid:
            raise KeyError(payment_reference)
        result = self._new_result(
            amount_minor, currency, status, request_id=request_id, dispute_ref=dispute_ref
        )
        self.refunds.append(FakeRefund(payment_reference=payment_reference, result=result))
        return result

    # -- the port ---------------------------------------------------------------------------

    async def refund(self, order: RefundOrder) -> RefundResult:
        self.calls += 1
        planned = self._plan.popleft() if self._plan else _NO_FAULT
        fault = planned.fault
        if fault is _Fault.DECLINE:
            raise RefundError(planned.reason, code="declined", status_code=402)
        if fault is _Fault.DELAY:
            self._delayed.append(order)
            raise RefundUncertain("fake provider: timed out; the request is still on its way")
        if fault in (_Fault.TIMEOUT, _Fault.SERVER_ERROR):
            lost = "timed out" if fault is _Fault.TIMEOUT else "HTTP 500"
            if planned.after_refund:
                with contextlib.suppress(RefundError):  # a refusal is lost with the answer
                    self._go_through(order)
                raise RefundUncertain(f"fake provider: {lost} after the request went through")
            raise RefundUncertain(f"fake provider: {lost} before the request went through")
        if fault is _Fault.HOLD:
            return await self._held(order)
        result = self._go_through(order, pending=fault is _Fault.PENDING)
        if fault is _Fault.REFUSE_AFTER_REFUND:
            raise RefundError(
                f"fake provider: HTTP {planned.status_code} (the refund {result.provider_refund_id}"
                " was made all the same)",
                code="proxy_error",
                status_code=planned.status_code,
            )
        return result

    async def refunds_on(self, payment_reference: str) -> list[RefundResult]:
        self.lookups += 1
        status_code = self._lookup_plan.popleft() if self._lookup_plan else None
        if status_code is not None:
            raise RefundUncertain(f"fake provider could not list refunds: HTTP {status_code}")
        if payment_reference not in self.paid:
            raise RefundUncertain(
                f"fake provider could not list refunds: HTTP 404: no such payment: "
                f"{payment_reference}"
            )
        return [r.result for r in self.refunds if r.payment_reference == payment_reference]

    async def aclose(self) -> None:
        return None

    def refunded(self, payment_reference: str) -> int:
        """Minor units refunded or on their way back on one payment."""
        return sum(
            r.result.amount_minor
            for r in self.refunds
            if r.payment_reference == payment_reference and r.result.status.holds_money
        )

    # -- the provider's rules ---------------------------------------------------------------

    async def _held(self, order: RefundOrder) -> RefundResult:
        gate = asyncio.Event()
        self._gates.append(gate)
        self.held.set()
        try:
            await gate.wait()
        finally:
            if gate in self._gates:
                self._gates.remove(gate)
                if not self._gates:
                    self.held.clear()
        return self._go_through(order)

    def _go_through(self, order: RefundOrder, *, pending: bool = False) -> RefundResult:
        """What the provider does with a request that reaches it: replay, refuse or refund."""
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required", code="parameter_missing")
        if self.honour_keys and order.idempotency_key in self._by_key:
            parameters, first = self._by_key[order.idempotency_key]
            if parameters != _parameters(order):
                raise RefundError(
                    "idempotency key reused with different parameters",
                    code="idempotency_error",
                    status_code=400,
                )
            return first
        self._check_refundable(order)
        status = RefundStatus.PENDING if pending else RefundStatus.SUCCEEDED
        result = self._new_result(
            order.amount_minor,
            order.currency,
            status,
            request_id=order.request_id,
            dispute_ref=order.dispute_ref,
        )
        self.refunds.append(
            FakeRefund(payment_reference=order.payment_reference, result=result, order=order)
        )
        self.posts_made += 1
        if self.honour_keys:
            self._by_key[order.idempotency_key] = (_parameters(order), result)
        return result

    def _check_refundable(self, order: RefundOrder) -> None:
        if order.payment_reference not in self.paid:
            raise RefundError(
                f"no such payment: {order.payment_reference}",
                code="resource_missing",
                status_code=404,
            )
        amount, currency = self.paid[order.payment_reference]
        if order.currency.upper() != currency:
            raise RefundError(
                f"payment {order.payment_reference} was made in {currency}, "
                f"not {order.currency.upper()}",
                code="currency_mismatch",
                status_code=400,
            )
        if order.amount_minor <= 0:
            raise RefundError(
                "refund amount must be positive",
                code="parameter_invalid_integer",
                status_code=400,
            )
        left = amount - self.refunded(order.payment_reference)
        if self.cap and order.amount_minor > left:
            raise RefundError(
                f"refund of {order.amount_minor} is greater than the {left} left to refund "
                f"on {order.payment_reference}",
                code="charge_exceeds_source_limit",
                status_code=400,
            )

    def _new_result(
        self,
        amount_minor: int,
        currency: str,
        status: RefundStatus,
        *,
        request_id: str | None,
        dispute_ref: str | None,
    ) -> RefundResult:
        number = len(self.refunds) + 1
        return RefundResult(
            provider_refund_id=f"re_fake_{number}",
            status=status,
            amount_minor=amount_minor,
            currency=currency.upper(),
            request_id=request_id,
            dispute_ref=dispute_ref,
            created_at=EPOCH + timedelta(seconds=number),
        )
