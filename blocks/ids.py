"""Action ids as names, and the subject a button or modal carries, parsed and checked once."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.reasons import Reason


class ActionId(StrEnum):
    POLICY_WHY = "policy.why"
    POLICY_TRACE = "policy.trace"
    POLICY_SWITCH_REASON = "policy.switch_reason"
    START_REVIEW = "review.start"
    PROPOSE = "review.propose"
    APPROVE = "proposal.approve"
    REQUEST_CHANGES = "proposal.changes"
    REQUEST_CHANGES_MODAL = "proposal.changes_modal"
    RETRY_REFUND = "refund.retry"
    ADD_EVIDENCE = "evidence.add"
    EVIDENCE_MODAL = "evidence.modal"
    MESSAGE_CUSTOMER = "customer.compose"  # opens the composer
    MESSAGE_TEMPLATE = "customer.template"  # the composer's template select (re-renders it)
    SEND_MESSAGE = "customer.send"  # the composer's submission
    SHOW_MESSAGE = "customer.show"  # a sent message's full text, from its thread reply
    TAKE = "owner.take"  # the parent message's Take
    HOME_PAGE = "home.page"  # App Home's previous and next page buttons
    HOME_OPEN = "home.open"  # a link button to a dispute's thread (acknowledged, nothing else)
    ALERT_TAKE = "alert.take"  # a digest's Take
    ALERT_SNOOZE = "alert.snooze"  # a digest's Snooze


class Subject(BaseModel):
    """What a button's `value` or a modal's `private_metadata` is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dispute: int = Field(ge=1)
    proposal: int | None = Field(None, ge=1)
    reason: Reason | None = None  # the reason a "use this reason" button switches to
    message: int | None = Field(None, ge=1)  # a message to the customer ("Show message")
    alert: int | None = Field(None, ge=1)  # a digest's alert (Take, Snooze)

    def encode(self) -> str:
        # Leaving out unset fields keeps values written before a field existed identical.
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def decode(cls, raw: str | None) -> Subject:
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError as exc:
            raise BadSubject(raw) from exc


class BadSubject(ValueError):
    """A button value or private_metadata that we did not write."""
