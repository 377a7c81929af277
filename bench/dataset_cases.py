"""What a generated dispute is about, decided before its timeline: the reason, whether the return
arrived and was photographed, the policy rules its decision cited, the evidence a person or the
customer filed during review, and how the customer tends to answer an offer because of them.

The effects are made up, but fixed, so that the insights analyses have something to find:
photos and a few rules go with more and faster acceptance, others with less. In the last
`SURGE_DAYS` before the dataset's moment one SKU is returned as defective far more often and
one carrier damages far more parcels: the recurring-reasons analysis should flag both.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from domain.evidence import EvidenceKind
from domain.reasons import Reason

REASON_WEIGHTS = {
    Reason.DAMAGED: 20,
    Reason.DEFECTIVE: 18,
    Reason.NOT_AS_DESCRIBED: 14,
    Reason.WRONG_ITEM: 10,
    Reason.SIZE_TOO_SMALL: 8,
    Reason.SIZE_TOO_LARGE: 6,
    Reason.UNWANTED: 8,
    Reason.REFUND_NOT_RECEIVED: 12,
    Reason.OTHER: 4,
}
PHOTO_REASONS = (Reason.DAMAGED, Reason.DEFECTIVE, Reason.NOT_AS_DESCRIBED)
RECEIVED_SHARE = 0.7  # returns that reached the warehouse before the dispute was opened

# The rules of the default pack a decision on each reason may cite, with weights; a dispute
# cites one to three of them.
_CHANGE_OF_MIND = (
    ("window-30-days", 5),
    ("tags-and-packaging", 4),
    ("shipping-not-refundable", 3),
    ("condition-grade-c-d", 2),
    ("after-window-store-credit", 1),
)
RULES_BY_REASON: dict[Reason, tuple[tuple[str, int], ...]] = {
    Reason.DAMAGED: (
        ("damage-reported-48h", 5),
        ("no-restocking-fee-our-error", 4),
        ("shipping-refunded-our-error", 3),
        ("damage-reported-late", 2),
    ),
    Reason.DEFECTIVE: (
        ("defective-in-window", 5),
        ("no-restocking-fee-our-error", 4),
        ("window-electronics-14-days", 2),
        ("window-30-days", 2),
    ),
    Reason.NOT_AS_DESCRIBED: (
        ("window-30-days", 4),
        ("returnless-refund", 2),
        ("tags-and-packaging", 2),
    ),
    Reason.WRONG_ITEM: (
        ("wrong-item", 6),
        ("shipping-refunded-our-error", 3),
        ("no-restocking-fee-our-error", 3),
    ),
    Reason.SIZE_TOO_SMALL: _CHANGE_OF_MIND,
    Reason.SIZE_TOO_LARGE: _CHANGE_OF_MIND,
    Reason.UNWANTED: (
        *_CHANGE_OF_MIND,
        ("opened-hygiene-items", 2),
        ("electronics-restocking-fee", 2),
    ),
    Reason.REFUND_NOT_RECEIVED: (("refund-not-received", 6), ("repeat-returns-review", 1)),
    Reason.OTHER: (
        ("not-received-in-transit", 3),
        ("not-received-unproven-delivery", 2),
        ("not-received-proven-delivery", 2),
    ),
}
RULE_COUNTS = ((1, 40), (2, 40), (3, 20))

# Evidence filed during review (between the review's start and the first proposal): photos a
# person shares in the thread, another file (a carrier's letter), the customer's reply by mail.
ADDED_SHARES = {
    EvidenceKind.PROOF_OF_DAMAGE: (0.30, 0.06),  # (photo reasons, the others)
    EvidenceKind.ATTACHMENT: (0.12, 0.12),
    EvidenceKind.CUSTOMER_COMMUNICATION: (0.20, 0.20),
}

# How the customer answers an offer: the log-odds of accepting, moved by what is on file and
# what was cited; a refusal is a decline or, less often, silence until the offer expires.
ACCEPT_LOG_ODDS = 0.35
SECOND_OFFER_LOG_ODDS = 0.9  # a second offer, after a decline, is usually a better one
EVIDENCE_EFFECT = {EvidenceKind.PROOF_OF_DAMAGE: 0.8, EvidenceKind.ATTACHMENT: 0.4}
RULE_EFFECT = {
    "wrong-item": 0.9,
    "damage-reported-48h": 0.6,
    "defective-in-window": 0.4,
    "no-restocking-fee-our-error": 0.3,
    "tags-and-packaging": -0.6,
    "condition-grade-c-d": -0.9,
    "damage-reported-late": -0.6,
    "electronics-restocking-fee": -0.5,
    "shipping-not-refundable": -0.3,
    "after-window-store-credit": -0.5,
}
# Hours to an answer are drawn log-uniformly in these bounds, then scaled by the speed below.
ACCEPT_HOURS = (2.0, 72.0)
DECLINE_HOURS = (0.5, 72.0)
EVIDENCE_SPEED = {EvidenceKind.PROOF_OF_DAMAGE: 0.45, EvidenceKind.ATTACHMENT: 0.75}
RULE_SPEED = {
    "wrong-item": 0.5,
    "damage-reported-48h": 0.6,
    "tags-and-packaging": 1.4,
    "condition-grade-c-d": 1.6,
}
DECLINED_SHARE = 0.7  # of the offers not accepted; the rest expire unanswered

# The upstream problems of the last SURGE_DAYS: a defective batch of one SKU, and one carrier
# damaging parcels.
SURGE_DAYS = 30
HOT_SKU = ("EL-150-ONE-WHT", "Compact Smart Watch, ONE WHT", "electronics")
HOT_SKU_SHARE = 0.012  # of the disputes opened in the surge
HOT_CARRIER = "LaserShip"
HOT_CARRIER_SHARE = 0.35  # of the damaged parcels in the surge (otherwise 5%)


@dataclass(frozen=True, slots=True)
class Case:
    """What a dispute is about, as far as its course depends on it."""

    reason: Reason
    received: bool  # the return reached the warehouse (a condition report when not a refund)
    photos: int  # photos in the condition report
    rules: tuple[str, ...]  # cited by the decision, in the pack's terms
    added: tuple[EvidenceKind, ...]  # filed during review, before the first proposal
    hot_sku: bool = False
    hot_carrier: bool = False

    @property
    def photos_on_file(self) -> bool:
        return self.photos > 0 or EvidenceKind.PROOF_OF_DAMAGE in self.added

    @property
    def kinds_on_file(self) -> frozenset[EvidenceKind]:
        """The evidence kinds whose effect the answers follow, as on file at an offer."""
        kinds = set(self.added)
        if self.photos_on_file:
            kinds.add(EvidenceKind.PROOF_OF_DAMAGE)
        return frozenset(kinds)

    def accept_chance(self, round_number: int) -> float:
        """The chance the customer accepts the dispute's `round_number`th offer (from 1)."""
        odds = ACCEPT_LOG_ODDS + (SECOND_OFFER_LOG_ODDS if round_number > 1 else 0.0)
        odds += sum(EVIDENCE_EFFECT.get(kind, 0.0) for kind in self.kinds_on_file)
        odds += sum(RULE_EFFECT.get(rule, 0.0) for rule in self.rules)
        return 1 / (1 + math.exp(-odds))

    def answer(self, rng: random.Random, round_number: int) -> tuple[str, float]:
        """The customer's answer to an offer (accepted, declined, expired) and, unless it
        expired, the seconds they took."""
        if rng.random() < self.accept_chance(round_number):
            return "accepted", self._hours(rng, ACCEPT_HOURS) * 3600
        if rng.random() < DECLINED_SHARE:
            return "declined", self._hours(rng, DECLINE_HOURS) * 3600
        return "expired", 0.0

    def _hours(self, rng: random.Random, bounds: tuple[float, float]) -> float:
        speed = math.prod(EVIDENCE_SPEED.get(kind, 1.0) for kind in self.kinds_on_file)
        speed *= math.prod(RULE_SPEED.get(rule, 1.0) for rule in self.rules)
        low, high = bounds
        return min(math.exp(rng.uniform(math.log(low), math.log(high))) * speed, 12 * 24.0)


def draw_case(rng: random.Random, *, surge: bool, like: Case | None = None) -> Case:
    """A dispute's case; with `surge`, opened in the last SURGE_DAYS. `like`: an earlier
    dispute on the same order, whose reason, return and surge it shares (its rules and the
    evidence filed during review are its own)."""
    if like is not None:
        reason, received, photos = like.reason, like.received, like.photos
        hot_sku, hot_carrier = like.hot_sku, like.hot_carrier
    else:
        hot_sku = surge and rng.random() < HOT_SKU_SHARE
        reason = Reason.DEFECTIVE if hot_sku else _reason(rng)
        hot_carrier = surge and reason is Reason.DAMAGED and rng.random() < HOT_CARRIER_SHARE
        received = reason is Reason.REFUND_NOT_RECEIVED or rng.random() < RECEIVED_SHARE
        photos = 0
        if received and reason is not Reason.REFUND_NOT_RECEIVED:
            photos = rng.randint(1, 4) if reason in PHOTO_REASONS else rng.choice((0, 0, 1))
    return Case(
        reason,
        received,
        photos,
        _rules(rng, reason),
        _added(rng, reason),
        hot_sku=hot_sku,
        hot_carrier=hot_carrier,
    )


def _reason(rng: random.Random) -> Reason:
    return rng.choices(list(REASON_WEIGHTS), list(REASON_WEIGHTS.values()))[0]


def _rules(rng: random.Random, reason: Reason) -> tuple[str, ...]:
    candidates = list(RULES_BY_REASON[reason])
    count = rng.choices([n for n, _ in RULE_COUNTS], [w for _, w in RULE_COUNTS])[0]
    chosen: list[str] = []
    while candidates and len(chosen) < count:
        rule = rng.choices(candidates, [w for _, w in candidates])[0]
        candidates.remove(rule)
        chosen.append(rule[0])
    return tuple(sorted(chosen))


def _added(rng: random.Random, reason: Reason) -> tuple[EvidenceKind, ...]:
    photo_reason = reason in PHOTO_REASONS
    return tuple(
        kind
        for kind, (when_photo, otherwise) in ADDED_SHARES.items()
        if rng.random() < (when_photo if photo_reason else otherwise)
    )
