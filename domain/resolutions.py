"""The ways a dispute can be resolved."""

from __future__ import annotations

from enum import StrEnum


class Resolution(StrEnum):
    """One way to resolve a dispute; `label` is how people read it ("Full refund")."""

    FULL_REFUND = "full_refund"
    PARTIAL_REFUND = "partial_refund"
    REPLACEMENT = "replacement"
    STORE_CREDIT = "store_credit"
    WAIVE_FEE = "waive_fee"
    OVERTURN = "overturn"
    UPHOLD = "uphold"
    DENY = "deny"
    CARRIER_CLAIM = "carrier_claim"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# The resolutions that send money back to the customer's card.
MONEY_KINDS = frozenset(
    {Resolution.FULL_REFUND, Resolution.PARTIAL_REFUND, Resolution.OVERTURN, Resolution.WAIVE_FEE}
)
