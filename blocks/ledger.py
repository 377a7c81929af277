"""The money already moved on a dispute's order: the payment ledger and the earlier disputes."""

from __future__ import annotations

from typing import Any

from blocks.kit import context, section
from blocks.labels import resolution_label
from blocks.text import date, escape, inline
from disputes.models import EarlierDispute
from disputes.payments import PaymentLedger, ProviderRefund
from domain.money import Money

MAX_REFUNDS = 10
MAX_EARLIER = 10


def ledger_blocks(ledger: PaymentLedger | None) -> list[dict[str, Any]]:
    """Paid, refunded at the provider (ours marked with their D-n), what the order system
    claims, our requests the provider does not show yet, and a discrepancy when there is one."""
    if ledger is None:
        return []
    money = lambda minor: escape(Money(minor, ledger.currency))  # noqa: E731
    lines = [
        f"*Payment ledger* · paid {money(ledger.paid_minor)} · refundable "
        f"{money(ledger.refundable_minor())}"
    ]
    if ledger.provider_refunds is None:
        lines.append("• At the provider: not read yet")
    else:
        refunds = [_refund(r) for r in ledger.provider_refunds[:MAX_REFUNDS]]
        more = len(ledger.provider_refunds) - MAX_REFUNDS
        if more > 0:
            refunds.append(f"and {more} more")
        listed = f": {' · '.join(refunds)}" if refunds else ""
        lines.append(f"• Refunded at the provider: {money(ledger.provider_minor)}{listed}")
    lines.append(f"• The order system says refunded: {money(ledger.order_claim_minor)}")
    unseen = ledger.unseen()
    if unseen:
        waiting = ", ".join(f"D-{r.dispute_number} {money(r.amount_minor)}" for r in unseen[:5])
        lines.append(f"• Ours, not shown by the provider yet: {waiting}")
    blocks = [section("\n".join(lines))]
    if ledger.discrepancy_minor:
        blocks.append(
            section(
                f":warning: *Discrepancy:* the order system says {money(ledger.order_claim_minor)} "
                f"was refunded, but the provider holds only {money(ledger.provider_minor)} as "
                f"refunded on this payment: {money(ledger.discrepancy_minor)} never reached "
                "the customer."
            )
        )
    if ledger.provider_error and ledger.provider_read_at is None:
        blocks.append(context(f":warning: Provider not read: {inline(ledger.provider_error, 300)}"))
    elif ledger.provider_read_at is not None:
        note = f"Provider read {date(ledger.provider_read_at, with_time=True)}"
        if ledger.provider_error:
            note += f"; the last read failed: {inline(ledger.provider_error, 200)}"
        blocks.append(context(note))
    return blocks


def _refund(refund: ProviderRefund) -> str:
    parts = [f"`{inline(refund.id, 60)}` {escape(Money(refund.amount_minor, refund.currency))}"]
    if refund.ours:
        parts.append(f"*{inline(refund.ours, 20)}*")
    if refund.created_at is not None:
        parts.append(date(refund.created_at))
    if refund.status != "succeeded":
        parts.append(f"({inline(refund.status, 40)})")
    return " ".join(parts)


def earlier_blocks(earlier: list[EarlierDispute]) -> list[dict[str, Any]]:
    """The order's other disputes: how each ended and what it refunded."""
    if not earlier:
        return []
    lines = ["*Earlier disputes on this order*"]
    for other in earlier[:MAX_EARLIER]:
        parts = [f"*{other.ref}*", other.status.label.lower()]
        if other.resolution is not None:
            parts.append(resolution_label(other.resolution).lower())
        if other.refunded_minor:
            parts.append(f"refunded {escape(other.refunded)}")
        lines.append("• " + " · ".join(parts))
    if len(earlier) > MAX_EARLIER:
        lines.append(f"and {len(earlier) - MAX_EARLIER} more")
    return [section("\n".join(lines))]
