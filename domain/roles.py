"""Roles, and the actions a role may be given."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from domain.evidence import EvidenceKind


class Role(StrEnum):
    """Listed lowest rank first; `rank` compares them."""

    AGENT = "agent"
    MANAGER = "manager"
    SUPERVISOR = "supervisor"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Action(StrEnum):
    """What a person may be allowed to do; the roles file's `permissions:` keys."""

    OPEN = "open"  # open a dispute
    REVIEW = "review"  # start a review and propose a resolution
    REQUEST_CHANGES = "request_changes"
    APPROVE = "approve"  # approve a resolution (money within the approval limits)
    RETRY = "retry"  # retry a refused refund
    ADD_EVIDENCE = "add_evidence"
    SEE_CUSTOMER = "see_customer"  # the customer's name and contact details in private views
    ASSIGN = "assign"  # give a dispute an owner other than oneself, or take one someone owns
    MESSAGE_CUSTOMER = "message_customer"  # write to the customer from the thread
    SNOOZE_ALERTS = "snooze_alerts"  # snooze a bottleneck alert in the supervisors' digest
    VIEW_INSIGHTS = "view_insights"  # `/dispute insights`: the team's numbers

    def refusal(self, where: str) -> str:
        """What the person cannot do, on the dispute `where` names ("D-7")."""
        return _REFUSALS[self].format(where=where or "this dispute")


_REFUSALS = {
    Action.OPEN: "You cannot open disputes",
    Action.REVIEW: "You cannot review {where} or propose a resolution for it",
    Action.REQUEST_CHANGES: "You cannot request changes to the proposal for {where}",
    Action.APPROVE: "You cannot approve the proposal for {where}",
    Action.RETRY: "You cannot retry the refund of {where}",
    Action.ADD_EVIDENCE: "You cannot add evidence to {where}",
    Action.SEE_CUSTOMER: "You cannot see the customer details of {where}",
    Action.ASSIGN: "You cannot assign {where} to someone",
    Action.MESSAGE_CUSTOMER: "You cannot message the customer of {where}",
    Action.SNOOZE_ALERTS: "You cannot snooze the alerts about {where}",
    Action.VIEW_INSIGHTS: "You cannot see insights",
}

EVERYONE, NOBODY = "everyone", "nobody"
# Who a permission is given to: the lowest role that has it (and every role above it), anyone
# in the workspace, or nobody.
Who = Literal["everyone", "agent", "manager", "supervisor", "nobody"]
# What people add; the rest of the case file comes from the order system and nobody else.
PEOPLE_KINDS = (
    EvidenceKind.PROOF_OF_DAMAGE,
    EvidenceKind.CUSTOMER_COMMUNICATION,
    EvidenceKind.ATTACHMENT,
)
PeopleKind = Literal["PROOF_OF_DAMAGE", "CUSTOMER_COMMUNICATION", "ATTACHMENT"]
