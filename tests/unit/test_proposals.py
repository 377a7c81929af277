"""What a manager types in the resolution modal, checked field by field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from disputes.proposals import ProposalInput, ProposalInvalid, check_proposal, supervisor_required
from domain.resolutions import Resolution
from policies.engine import Decision
from policies.schema import Approval
from tests.support.orders import order

ORDER = order()  # 129.00 USD paid, 29.00 already refunded
ENTRY = ProposalInput(
    kind="partial_refund",
    amount="25.00",
    percent=None,
    note=" ok ",
    justification=None,
    override_reason=None,
)


def decision(**changes: object) -> Decision:
    base = Decision(
        matched=[],
        recommended=None,
        allowed=list(Resolution),
        refused=[],
        required_evidence=[],
        missing_evidence=[],
        restocking_fee_percent=None,
        approval=Approval(role="manager"),
        needs_supervisor=False,
        trace=[],
        pack_name="p",
        pack_version="1",
        pack_hash="h",
    )
    return replace(base, **changes)


def check(entry: ProposalInput = ENTRY, **kw: object):  # type: ignore[no-untyped-def]
    args = {
        "order": ORDER,
        "disputed_minor": 100_00,
        "refundable_minor": 100_00,
        "decision": decision(),
        "missing_evidence": False,
        **kw,
    }
    return check_proposal(entry, **args)  # type: ignore[arg-type]


def test_a_good_partial_refund() -> None:
    checked = check()
    assert (checked.kind, checked.amount_minor, checked.note) == (
        Resolution.PARTIAL_REFUND,
        25_00,
        "ok",
    )
    assert not checked.outside_policy and not checked.needs_supervisor


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "abc"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"amount": "25 EUR"}, "amount"),
        ({"amount": "100.01"}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": "5", "percent": 10}, "amount"),
        ({"amount": None, "percent": "0"}, "percent"),
        ({"amount": None, "percent": "101"}, "percent"),
        ({"amount": None, "percent": "2.5"}, "percent"),
        ({"kind": None}, "kind"),
        ({"kind": "refund_twice"}, "kind"),
        ({"kind": "replacement", "amount": "5"}, "amount"),
    ],
)
def test_each_bad_field_is_named(changes: dict, field: str) -> None:
    with pytest.raises(ProposalInvalid) as refused:
        check(replace(ENTRY, **changes))
    assert field in refused.value.errors


def test_percent_of_the_paid_amount_and_currency_suffix() -> None:
    assert check(replace(ENTRY, amount=None, percent="10")).amount_minor == 12_90
    assert check(replace(ENTRY, amount="$25.00 usd")).amount_minor == 25_00


def test_missing_evidence_needs_a_reason_and_outside_policy_a_justification() -> None:
    with pytest.raises(ProposalInvalid) as refused:
        check(missing_evidence=True, decision=decision(allowed=[Resolution.STORE_CREDIT]))
    assert set(refused.value.errors) == {"override_reason", "justification"}
    checked = check(
        replace(ENTRY, override_reason="later", justification="goodwill"),
        missing_evidence=True,
        decision=decision(allowed=[Resolution.STORE_CREDIT]),
    )
    assert checked.outside_policy and checked.needs_supervisor


def test_nothing_owed_is_refused() -> None:
    with pytest.raises(ProposalInvalid, match="already been refunded"):
        check(replace(ENTRY, kind="full_refund", amount=None), disputed_minor=0)


def test_supervisor_thresholds_apply_to_the_proposed_amount() -> None:
    limits = decision(
        approval=Approval(role="manager", supervisor_above="50.00", supervisor_above_percent=50)
    )
    partial = Resolution.PARTIAL_REFUND
    assert not supervisor_required(limits, partial, 50_00, ORDER)
    assert supervisor_required(limits, partial, 50_01, ORDER)
    by_percent = decision(approval=Approval(role="manager", supervisor_above_percent=10))
    assert not supervisor_required(by_percent, partial, 12_90, ORDER)
    assert supervisor_required(by_percent, partial, 12_91, ORDER)
    always = decision(approval=Approval(supervisor=True))
    assert supervisor_required(always, partial, 1, ORDER)
    assert supervisor_required(always, Resolution.STORE_CREDIT, None, ORDER)
    assert not supervisor_required(None, partial, 10**9, ORDER)


def test_an_uphold_moves_no_money_and_needs_no_supervisor() -> None:
    always = decision(approval=Approval(supervisor=True, supervisor_above="1.00"))
    assert not supervisor_required(always, Resolution.UPHOLD, None, ORDER)
    assert (
        check(replace(ENTRY, kind="uphold", amount=None), decision=always).needs_supervisor is False
    )


def test_an_option_named_by_the_pack_needs_a_supervisor_whatever_its_amount() -> None:
    overturn = decision(approval=Approval(role="manager", supervisor_for=(Resolution.OVERTURN,)))
    assert supervisor_required(overturn, Resolution.OVERTURN, 1, ORDER)
    assert not supervisor_required(overturn, Resolution.FULL_REFUND, 1, ORDER)


@pytest.mark.parametrize(
    "typed",
    [
        "12,50",  # a decimal comma: the currency's separator is a point
        "1,2,3",
        "1,000.00",  # thousands separators
        "1_000",  # Python's digit grouping
        "١٢٫٥٠",  # Arabic-Indic digits
        "１２.５０",  # full-width digits
        "12.5.0",
        ".50",
        "1e3",
    ],
)
def test_amounts_take_only_digits_and_the_currencys_point(typed: str) -> None:
    with pytest.raises(ProposalInvalid) as refused:
        check(replace(ENTRY, amount=typed))
    assert "write 12.50" in refused.value.errors["amount"]


def test_a_currency_without_decimals_asks_for_a_whole_number() -> None:
    yen = order(currency="JPY", total="12900", items=[], return_request=None)
    with pytest.raises(ProposalInvalid) as refused:
        check(replace(ENTRY, amount="1,250"), order=yen)
    assert "write 1250" in refused.value.errors["amount"]
    assert check(replace(ENTRY, amount="1250"), order=yen).amount_minor == 1250
