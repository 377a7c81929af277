"""Every allowed and every refused lifecycle move (ARCHITECTURE §5)."""

from __future__ import annotations

import itertools

import pytest

from disputes.errors import InvalidTransition
from disputes.lifecycle import Event, Status, allowed_events, next_status

S, E = Status, Event

# Written out by hand from the architecture, independently of the table in the code.
EXPECTED = {
    (S.NEW, E.EVIDENCE_COMPLETED): S.EVIDENCE_READY,
    (S.NEW, E.EVIDENCE_OVERRIDDEN): S.IN_REVIEW,
    (S.NEW, E.ESCALATED): S.ESCALATED,
    (S.NEW, E.WITHDRAWN): S.WITHDRAWN,
    (S.EVIDENCE_READY, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.EVIDENCE_READY, E.ESCALATED): S.ESCALATED,
    (S.EVIDENCE_READY, E.WITHDRAWN): S.WITHDRAWN,
    (S.IN_REVIEW, E.PROPOSED): S.PROPOSED,
    (S.IN_REVIEW, E.ESCALATED): S.ESCALATED,
    (S.IN_REVIEW, E.WITHDRAWN): S.WITHDRAWN,
    (S.PROPOSED, E.APPROVED): S.APPROVED,
    (S.PROPOSED, E.CUSTOMER_DECLINED): S.IN_REVIEW,
    (S.PROPOSED, E.CHANGES_REQUESTED): S.IN_REVIEW,
    (S.PROPOSED, E.ESCALATED): S.ESCALATED,
    (S.PROPOSED, E.WITHDRAWN): S.WITHDRAWN,
    (S.APPROVED, E.EXECUTION_STARTED): S.EXECUTING,
    (S.APPROVED, E.RESOLVED_WITHOUT_PAYMENT): S.RESOLVED,
    (S.EXECUTING, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.EXECUTING, E.EXECUTION_FAILED): S.EXECUTION_FAILED,
    (S.EXECUTION_FAILED, E.RETRIED): S.EXECUTING,
    (S.EXECUTING, E.ATTENTION_NEEDED): S.NEEDS_ATTENTION,
    (S.NEEDS_ATTENTION, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.NEEDS_ATTENTION, E.EXECUTION_FAILED): S.EXECUTION_FAILED,
    (S.EXECUTION_FAILED, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.EXECUTION_FAILED, E.ESCALATED): S.ESCALATED,
    (S.ESCALATED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.ESCALATED, E.WITHDRAWN): S.WITHDRAWN,
    (S.RESOLVED, E.REOPENED): S.REOPENED,
    (S.WITHDRAWN, E.REOPENED): S.REOPENED,
    (S.REOPENED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.REOPENED, E.ESCALATED): S.ESCALATED,
    (S.REOPENED, E.WITHDRAWN): S.WITHDRAWN,
    # The customer's agreement, when the pack asks for it (§5).
    (S.APPROVED, E.OFFER_SENT): S.AWAITING_CUSTOMER,
    (S.AWAITING_CUSTOMER, E.CUSTOMER_ACCEPTED): S.APPROVED,
    (S.AWAITING_CUSTOMER, E.CUSTOMER_DECLINED): S.IN_REVIEW,
    (S.AWAITING_CUSTOMER, E.OFFER_EXPIRED): S.OFFER_EXPIRED,
    (S.AWAITING_CUSTOMER, E.ESCALATED): S.ESCALATED,
    (S.AWAITING_CUSTOMER, E.WITHDRAWN): S.WITHDRAWN,
    (S.OFFER_EXPIRED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.OFFER_EXPIRED, E.ESCALATED): S.ESCALATED,
    (S.OFFER_EXPIRED, E.WITHDRAWN): S.WITHDRAWN,
}

ALL_MOVES = list(itertools.product(Status, Event))


@pytest.mark.parametrize(("state", "event"), list(EXPECTED))
def test_allowed_move_lands_where_the_architecture_says(state: Status, event: Event) -> None:
    assert next_status(state, event) == EXPECTED[(state, event)]


@pytest.mark.parametrize(("state", "event"), [move for move in ALL_MOVES if move not in EXPECTED])
def test_every_other_move_is_refused(state: Status, event: Event) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_status(state, event)
    assert state.value.replace("_", " ") in str(refused.value)


def test_money_never_moves_without_approval() -> None:
    reaching_executing = {state for (state, event), to in EXPECTED.items() if to == S.EXECUTING}
    assert reaching_executing == {S.APPROVED, S.EXECUTION_FAILED}


def test_an_offer_moves_on_only_by_the_customers_answer_or_a_person() -> None:
    out_of_waiting = {event for (state, event) in EXPECTED if state == S.AWAITING_CUSTOMER}
    assert out_of_waiting == {
        E.CUSTOMER_ACCEPTED,
        E.CUSTOMER_DECLINED,
        E.OFFER_EXPIRED,
        E.ESCALATED,
        E.WITHDRAWN,
    }
    # An expired offer never turns into money: a person starts a new review.
    assert {to for (state, _), to in EXPECTED.items() if state == S.OFFER_EXPIRED} == {
        S.IN_REVIEW,
        S.ESCALATED,
        S.WITHDRAWN,
    }


def test_allowed_events_lists_exactly_the_legal_moves() -> None:
    for state in Status:
        expected = {event for (s, event) in EXPECTED if s == state}
        assert set(allowed_events(state)) == expected


def test_closed_states_are_resolved_and_withdrawn() -> None:
    assert {state for state in Status if not state.is_open} == {S.RESOLVED, S.WITHDRAWN}
