"""F4: turning what a manager typed in the resolution modal into a checked proposal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from disputes.errors import DisputeError
from disputes.models import PROPOSABLE
from domain.money import Money, MoneyError, exponent, to_minor
from domain.orders import Order
from domain.resolutions import MONEY_KINDS, Resolution
from policies.engine import Decision

_AMOUNT = re.compile(r"^\s*(?P<number>[^\sA-Za-z]+)\s*(?P<currency>[A-Za-z]{3})?\s*$")
# What a typed amount may hold once a currency sign is taken off: "12.50", "-5", "1500".
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


class ProposalInvalid(DisputeError):
    """Field-by-field problems, shown next to the fields of the modal."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ProposalInput:
    kind: str | None
    amount: str | None
    percent: int | str | None
    note: str
    justification: str | None
    override_reason: str | None


@dataclass(frozen=True, slots=True)
class CheckedProposal:
    kind: Resolution
    amount_minor: int | None
    currency: str
    note: str
    justification: str | None
    override_reason: str | None
    outside_policy: bool
    needs_supervisor: bool


def check_proposal(
    entry: ProposalInput,
    *,
    order: Order,
    disputed_minor: int,
    refundable_minor: int,
    decision: Decision | None,
    missing_evidence: bool,
) -> CheckedProposal:
    """Validate every field at once; raise `ProposalInvalid` with all problems."""
    errors: dict[str, str] = {}
    kind = _kind(entry.kind, errors)
    currency = order.currency
    if missing_evidence and not (entry.override_reason or "").strip():
        errors["override_reason"] = "Say why the review goes on without the missing evidence."
    amount = None
    if kind is not None:
        amount = _amount(kind, entry, order, disputed_minor, decision, errors)
    if amount == 0 and kind in MONEY_KINDS and "kind" not in errors:
        errors["kind"] = "Nothing is owed: the customer has already been refunded this amount."
    if amount is not None and "amount" not in errors and amount > refundable_minor:
        most = Money(refundable_minor, currency)
        errors["amount"] = f"More than can be refunded: at most {most} (paid minus refunded)."
    outside = bool(decision and kind is not None and kind not in decision.allowed)
    justification = (entry.justification or "").strip() or None
    if outside and justification is None:
        errors["justification"] = "This option is outside policy: write why it is right here."
    if errors:
        raise ProposalInvalid(errors)
    assert kind is not None
    return CheckedProposal(
        kind=kind,
        amount_minor=amount,
        currency=currency,
        note=entry.note.strip(),
        justification=justification,
        override_reason=(entry.override_reason or "").strip() or None,
        outside_policy=outside,
        needs_supervisor=outside or supervisor_required(decision, kind, amount, order),
    )


def supervisor_required(
    decision: Decision | None, kind: Resolution, amount: int | None, order: Order
) -> bool:
    """The pack's approval rules applied to what is actually proposed, not to the claim."""
    if decision is None:
        return False
    causes = decision.supervisor_causes_for(
        kind, amount, currency=order.currency, order_total_minor=order.total_minor
    )
    return bool(causes)


def _kind(raw: str | None, errors: dict[str, str]) -> Resolution | None:
    try:
        kind = Resolution(raw or "")
    except ValueError:
        errors["kind"] = "Choose a resolution."
        return None
    if kind not in PROPOSABLE:
        errors["kind"] = "Choose one of the listed resolutions."
        return None
    return kind


def _amount(
    kind: Resolution,
    entry: ProposalInput,
    order: Order,
    disputed_minor: int,
    decision: Decision | None,
    errors: dict[str, str],
) -> int | None:
    typed = (entry.amount or "").strip()
    percent = str(entry.percent).strip() if entry.percent not in (None, "") else ""
    if kind is not Resolution.PARTIAL_REFUND:
        if typed or percent:
            errors["amount" if typed else "percent"] = "Only a partial refund takes an amount."
        if kind in {Resolution.FULL_REFUND, Resolution.OVERTURN}:
            return disputed_minor
        if kind is Resolution.WAIVE_FEE:
            fee = decision.restocking_fee_percent if decision else None
            if not fee:
                errors["kind"] = "No restocking fee applies to this dispute."
                return None
            return order.returned_value_minor * fee // 100
        return None
    if typed and percent:
        errors["amount"] = "Give an amount or a percentage, not both."
        return None
    if typed:
        return _parse_amount(typed, order.currency, errors)
    if percent:
        return _parse_percent(percent, order.total_minor, errors)
    errors["amount"] = "A partial refund needs an amount or a percentage."
    return None


def _parse_amount(typed: str, currency: str, errors: dict[str, str]) -> int | None:
    places = exponent(currency)
    example = "12." + "50".ljust(places, "0") if places else "1250"
    match = _AMOUNT.match(typed)
    if match is None:
        errors["amount"] = f"Write the amount as a number in {currency}: write {example}."
        return None
    if match["currency"] and match["currency"].upper() != currency:
        errors["amount"] = f"The order was paid in {currency}; write the amount in {currency}."
        return None
    number = match["number"].lstrip("$€£¥")
    point = "a point" if places else "no decimals"
    if not _PLAIN_NUMBER.fullmatch(number):
        errors["amount"] = (
            f"Write the amount with the digits 0-9 and {point}, without thousands separators: "
            f"write {example}."
        )
        return None
    try:
        minor = to_minor(number, currency)
    except MoneyError:
        errors["amount"] = f"Write the amount with at most {places} decimals: write {example}."
        return None
    if minor <= 0:
        errors["amount"] = "The amount must be more than zero."
        return None
    return minor


def _parse_percent(percent: str, total_minor: int, errors: dict[str, str]) -> int | None:
    try:
        value = Decimal(percent)
    except InvalidOperation:
        errors["percent"] = "Write a whole percentage from 1 to 100."
        return None
    if value != value.to_integral_value() or not 1 <= value <= 100:
        errors["percent"] = "Write a whole percentage from 1 to 100."
        return None
    return total_minor * int(value) // 100
