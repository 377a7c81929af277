"""An in-memory gateway with Stripe's rules, and faults a test can plan call by call."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from enum import Enum, auto

from connectors.refunds.protocol import (
    RefundError,
    RefundOrder,
    RefundResult,
    RefundStatus,
    RefundUncertain,
)

_HOLDS_MONEY = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


@dataclass(frozen=True)
class FakeRefund:
    """One refund the fake provider made, with what it was asked for."""

    order: RefundOrder
    result: RefundResult

    @property
    def id(self) -> str:
        return self.result.provider_refund_id


class _Fault(Enum):
    DECLINE = auto()
    PENDING = auto()
    LOST_BEFORE = auto()  # timed out before the provider did anything
    LOST_AFTER = auto()  # timed out after the provider refunded
    SERVER_ERROR = auto()


@dataclass(frozen=True)
class _Planned:
    fault: _Fault
    reason: str = ""


def _parameters(order: RefundOrder) -> tuple[object, ...]:
    return (
        order.payment_reference,
        order.amount_minor,
        order.currency.upper(),
        order.request_id,
        order.dispute_ref,
    )


class FakeGateway:
    """Stripe's semantics in memory: idempotency keys replay, refunds are capped at the payment.

    Every `refund` call takes the next planned fault, if any (`fail_next`, `pending_next`,
    `timeout_next`, `error_5xx_next`), in the order they were planned.
    """

    name = "fake"

    def __init__(self, *, paid: dict[str, tuple[int, str]]) -> None:
        self.paid = {ref: (amount, currency.upper()) for ref, (amount, currency) in paid.items()}
        self.refunds: list[FakeRefund] = []
        self.calls = 0
        self._by_key: dict[str, tuple[tuple[object, ...], RefundResult]] = {}
        self._plan: deque[_Planned] = deque()

    def fail_next(self, n: int = 1, reason: str = "refund declined") -> None:
        self._plan.extend([_Planned(_Fault.DECLINE, reason)] * n)

    def pending_next(self, n: int = 1) -> None:
        self._plan.extend([_Planned(_Fault.PENDING)] * n)

    def timeout_next(self, n: int = 1, after_refund: bool = False) -> None:
        fault = _Fault.LOST_AFTER if after_refund else _Fault.LOST_BEFORE
        self._plan.extend([_Planned(fault)] * n)

    def error_5xx_next(self, n: int = 1) -> None:
        self._plan.extend([_Planned(_Fault.SERVER_ERROR)] * n)

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

    async def refund(self, order: RefundOrder) -> RefundResult:
        self.calls += 1
        planned = self._plan.popleft() if self._plan else None
        fault = planned.fault if planned else None
        if fault is _Fault.LOST_BEFORE:
            raise RefundUncertain("fake provider: timed out before the refund was made")
        if fault is _Fault.SERVER_ERROR:
            raise RefundUncertain("fake provider: HTTP 500 after all attempts")
        result = self._replay(order)
        if result is None:
            if planned and fault is _Fault.DECLINE:
                self._check_refundable(order)
                raise RefundError(planned.reason, code="declined")
            result = self._make(order, pending=fault is _Fault.PENDING)
        if fault is _Fault.LOST_AFTER:
            raise RefundUncertain("fake provider: timed out after the refund was made")
        return result

    async def find(self, order: RefundOrder) -> RefundResult | None:
        for refund in self.refunds:
            if refund.order.request_id == order.request_id:
                return refund.result
        return None

    async def aclose(self) -> None:
        return None

    def refunded(self, payment_reference: str) -> int:
        """Minor units refunded or on their way back on one payment."""
        return sum(
            r.result.amount_minor
            for r in self.refunds
            if r.order.payment_reference == payment_reference and r.result.status in _HOLDS_MONEY
        )

    def _replay(self, order: RefundOrder) -> RefundResult | None:
        """The first answer for this key, as Stripe replays it; other parameters are refused."""
        if not order.idempotency_key:
            raise RefundError("an idempotency key is required")
        known = self._by_key.get(order.idempotency_key)
        if known is None:
            return None
        parameters, result = known
        if parameters != _parameters(order):
            raise RefundError(
                "idempotency key reused with different parameters", code="idempotency_error"
            )
        return result

    def _check_refundable(self, order: RefundOrder) -> None:
        if order.payment_reference not in self.paid:
            raise RefundError(
                f"no such payment: {order.payment_reference}", code="resource_missing"
            )
        amount, currency = self.paid[order.payment_reference]
        if order.currency.upper() != currency:
            raise RefundError(
                f"payment {order.payment_reference} was made in {currency}, "
                f"not {order.currency.upper()}",
                code="currency_mismatch",
            )
        if order.amount_minor <= 0:
            raise RefundError("refund amount must be positive", code="parameter_invalid_integer")
        left = amount - self.refunded(order.payment_reference)
        if order.amount_minor > left:
            raise RefundError(
                f"refund of {order.amount_minor} is greater than the {left} left to refund "
                f"on {order.payment_reference}",
                code="charge_exceeds_source_limit",
            )

    def _make(self, order: RefundOrder, *, pending: bool) -> RefundResult:
        self._check_refundable(order)
        result = RefundResult(
            provider_refund_id=f"re_fake_{len(self.refunds) + 1}",
            status=RefundStatus.PENDING if pending else RefundStatus.SUCCEEDED,
            amount_minor=order.amount_minor,
            currency=order.currency.upper(),
        )
        self.refunds.append(FakeRefund(order=order, result=result))
        self._by_key[order.idempotency_key] = (_parameters(order), result)
        return result
