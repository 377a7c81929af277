"""The dispute lifecycle (ARCHITECTURE §5): states, events and the one table of legal moves."""

from __future__ import annotations

from enum import StrEnum

from disputes.errors import InvalidTransition


class Status(StrEnum):
    NEW = "new"
    EVIDENCE_READY = "evidence_ready"
    IN_REVIEW = "in_review"
    PROPOSED = "proposed"
    APPROVED = "approved"
    AWAITING_CUSTOMER = "awaiting_customer"
    OFFER_EXPIRED = "offer_expired"
    EXECUTING = "executing"
    EXECUTION_FAILED = "execution_failed"
    NEEDS_ATTENTION = "needs_attention"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"
    REOPENED = "reopened"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_open(self) -> bool:
        return self not in CLOSED


CLOSED = frozenset({Status.RESOLVED, Status.WITHDRAWN})
# Before a proposal: the reason the policy uses may still be switched.
REASON_SWITCHABLE = frozenset(
    {Status.NEW, Status.EVIDENCE_READY, Status.IN_REVIEW, Status.REOPENED}
)


class Event(StrEnum):
    EVIDENCE_COMPLETED = "evidence_completed"
    EVIDENCE_OVERRIDDEN = "evidence_overridden"
    REVIEW_STARTED = "review_started"
    PROPOSED = "proposed"
    CUSTOMER_DECLINED = "customer_declined"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    OFFER_SENT = "offer_sent"
    CUSTOMER_ACCEPTED = "customer_accepted"
    OFFER_EXPIRED = "offer_expired"
    EXECUTION_STARTED = "execution_started"
    EXECUTION_SUCCEEDED = "execution_succeeded"
    EXECUTION_FAILED = "execution_failed"
    ATTENTION_NEEDED = "attention_needed"
    RETRIED = "retried"
    RESOLVED_WITHOUT_PAYMENT = "resolved_without_payment"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"
    REOPENED = "reopened"


S, E = Status, Event

_ESCALATABLE = (
    S.NEW,
    S.EVIDENCE_READY,
    S.IN_REVIEW,
    S.PROPOSED,
    S.EXECUTION_FAILED,
    S.REOPENED,
    S.AWAITING_CUSTOMER,
    S.OFFER_EXPIRED,
)
_WITHDRAWABLE = (
    S.NEW,
    S.EVIDENCE_READY,
    S.IN_REVIEW,
    S.PROPOSED,
    S.ESCALATED,
    S.REOPENED,
    S.AWAITING_CUSTOMER,
    S.OFFER_EXPIRED,
)

TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (S.NEW, E.EVIDENCE_COMPLETED): S.EVIDENCE_READY,
    (S.NEW, E.EVIDENCE_OVERRIDDEN): S.IN_REVIEW,
    (S.EVIDENCE_READY, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.REOPENED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.ESCALATED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.OFFER_EXPIRED, E.REVIEW_STARTED): S.IN_REVIEW,
    (S.IN_REVIEW, E.PROPOSED): S.PROPOSED,
    (S.PROPOSED, E.CUSTOMER_DECLINED): S.IN_REVIEW,
    (S.PROPOSED, E.CHANGES_REQUESTED): S.IN_REVIEW,
    (S.PROPOSED, E.APPROVED): S.APPROVED,
    # An option the customer must agree to is put to them once approved inside the team.
    (S.APPROVED, E.OFFER_SENT): S.AWAITING_CUSTOMER,
    (S.AWAITING_CUSTOMER, E.CUSTOMER_ACCEPTED): S.APPROVED,
    (S.AWAITING_CUSTOMER, E.CUSTOMER_DECLINED): S.IN_REVIEW,
    (S.AWAITING_CUSTOMER, E.OFFER_EXPIRED): S.OFFER_EXPIRED,
    (S.APPROVED, E.EXECUTION_STARTED): S.EXECUTING,
    (S.APPROVED, E.RESOLVED_WITHOUT_PAYMENT): S.RESOLVED,
    (S.EXECUTING, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.EXECUTING, E.EXECUTION_FAILED): S.EXECUTION_FAILED,
    # The refund's outcome stayed unknown too long: a person looks, the worker keeps asking.
    (S.EXECUTING, E.ATTENTION_NEEDED): S.NEEDS_ATTENTION,
    (S.NEEDS_ATTENTION, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.NEEDS_ATTENTION, E.EXECUTION_FAILED): S.EXECUTION_FAILED,
    # Asked before a retry, the provider holds the refund that was taken as refused.
    (S.EXECUTION_FAILED, E.EXECUTION_SUCCEEDED): S.RESOLVED,
    (S.EXECUTION_FAILED, E.RETRIED): S.EXECUTING,
    (S.RESOLVED, E.REOPENED): S.REOPENED,
    (S.WITHDRAWN, E.REOPENED): S.REOPENED,
    **{(state, E.ESCALATED): S.ESCALATED for state in _ESCALATABLE},
    **{(state, E.WITHDRAWN): S.WITHDRAWN for state in _WITHDRAWABLE},
}


def next_status(current: Status, event: Event) -> Status:
    """The state `event` moves a dispute in `current` to, or `InvalidTransition`."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(current.value, event.value) from None


def allowed_events(current: Status) -> list[Event]:
    return [event for (state, event) in TRANSITIONS if state == current]
