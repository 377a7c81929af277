"""Which evidence kinds and which cited rules go with faster and more frequent acceptance: the
offers decided in a period, each with its basis (`disputes.insight_facts`), compared with and
without each kind or rule.

The offers are read once, from the covering indexes of when they were answered or expired, and
grouped by basis: a comparison walks the distinct bases, and selects from the acceptance times,
sorted once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Float, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.insight_facts import Basis
from disputes.insight_report import MIN_SAMPLE, TOO_FEW, Effect, Outcome, Period
from disputes.insight_resolved import within
from disputes.insight_stats import median_interval, percentile, share, wilson
from storage.db import on_postgresql
from storage.tables import CustomerOfferRow

HOUR = 3600.0
RULES_SHOWN = 15


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer decided in the period, with the evidence kinds on file and the rules cited
    when it was made."""

    accepted: bool
    hours_to_accept: float | None
    kinds: frozenset[str]
    rules: frozenset[str]


@dataclass
class Decided:
    """The offers decided in a period, grouped by basis."""

    bases: list[Basis] = field(default_factory=list)
    offers: list[int] = field(default_factory=list)  # per basis
    accepted: list[int] = field(default_factory=list)  # per basis
    hours: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # sorted
    basis_of: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))

    def timed(self, hours: list[NDArray[np.float64]], bases: list[int]) -> None:
        """The acceptance times, `hours[i]` those of basis `bases[i]`: kept sorted, each with
        the index of its basis."""
        every = np.concatenate(hours) if hours else np.zeros(0)
        basis_of = np.repeat(np.asarray(bases, np.intp), [len(h) for h in hours])
        order = np.argsort(every, kind="stable")
        self.hours, self.basis_of = every[order], basis_of[order]

    @classmethod
    def of(cls, offers: Sequence[Offer]) -> Decided:
        decided = cls()
        index: dict[Basis, int] = {}
        timed: dict[int, list[float]] = defaultdict(list)
        for offer in offers:
            basis = Basis(offer.kinds, offer.rules)
            if (at := index.get(basis)) is None:
                at = index[basis] = len(decided.bases)
                decided.bases.append(basis)
                decided.offers.append(0)
                decided.accepted.append(0)
            decided.offers[at] += 1
            if offer.accepted:
                decided.accepted[at] += 1
                if offer.hours_to_accept is not None:
                    timed[at].append(offer.hours_to_accept)
        decided.timed([np.asarray(h, np.float64) for h in timed.values()], list(timed))
        return decided

    def kinds(self) -> list[str]:
        return sorted({kind for basis in self.bases for kind in basis.kinds})

    def rules(self) -> list[str]:
        """The rules cited most often, RULES_SHOWN of them."""
        cited: Counter[str] = Counter()
        for basis, offers in zip(self.bases, self.offers, strict=True):
            cited.update(dict.fromkeys(basis.rules, offers))
        ranked = sorted(cited.items(), key=lambda item: (-item[1], item[0]))
        return [rule for rule, _ in ranked[:RULES_SHOWN]]


def decided_in(period: Period) -> Any:
    o = CustomerOfferRow
    return or_(
        and_(o.status.in_(("accepted", "declined")), within(o.answered_at, period)),
        and_(o.status == "expired", within(o.expires_at, period)),
    )


async def offers_decided(session: AsyncSession, period: Period) -> Decided:
    if on_postgresql(session):
        return await grouped_in_postgresql(session, period)
    return await listed(session, period)


async def listed(session: AsyncSession, period: Period) -> Decided:
    """Each decided offer read, and grouped here."""
    o = CustomerOfferRow
    rows = await session.execute(
        select(o.status, o.created_at, o.answered_at, o.basis).where(decided_in(period))
    )
    decoded: dict[str | None, Basis] = {}
    offers = []
    for status, created_at, answered_at, text in rows:
        if (basis := decoded.get(text)) is None:
            basis = decoded[text] = Basis.decode(text)
        accepted = status == "accepted"
        offers.append(
            Offer(
                accepted=accepted,
                hours_to_accept=(answered_at - created_at).total_seconds() / HOUR
                if accepted and answered_at
                else None,
                kinds=basis.kinds,
                rules=basis.rules,
            )
        )
    return Decided.of(offers)


async def grouped_in_postgresql(session: AsyncSession, period: Period) -> Decided:
    """The offers grouped by basis in the database, each group's acceptance times as one
    array: a few thousand rows instead of one per offer."""
    o = CustomerOfferRow
    accepted = o.status == "accepted"
    seconds = cast(func.extract("epoch", o.answered_at - o.created_at), Float)
    rows = await session.execute(
        select(
            o.basis,
            func.count(),
            func.count().filter(accepted),
            func.array_agg(seconds).filter(accepted, o.answered_at.is_not(None)),
        )
        .where(decided_in(period))
        .group_by(o.basis)
    )
    decided = Decided()
    hours: list[NDArray[np.float64]] = []
    bases: list[int] = []
    for text, offers, won, times in rows:
        at = len(decided.bases)
        decided.bases.append(Basis.decode(text))
        decided.offers.append(int(offers))
        decided.accepted.append(int(won))
        if times:
            hours.append(np.asarray(times, np.float64) / HOUR)
            bases.append(at)
    decided.timed(hours, bases)
    return decided


def effects(decided: Decided) -> tuple[list[Effect], list[Effect]]:
    """Each evidence kind's effect, and each most-cited rule's."""
    return (
        [effect(decided, kind, lambda b: b.kinds) for kind in decided.kinds()],
        [effect(decided, rule, lambda b: b.rules) for rule in decided.rules()],
    )


def effect(decided: Decided, name: str, values: Callable[[Basis], frozenset[str]]) -> Effect:
    having = np.array([name in values(basis) for basis in decided.bases], dtype=bool)
    offers = int(np.asarray(decided.offers, np.int64)[having].sum()) if decided.bases else 0
    won = int(np.asarray(decided.accepted, np.int64)[having].sum()) if decided.bases else 0
    total, total_won = sum(decided.offers), sum(decided.accepted)
    marks = having[decided.basis_of] if decided.bases else np.zeros(0, dtype=bool)
    enough = min(offers, total - offers) >= MIN_SAMPLE
    return Effect(
        name=name,
        with_=outcome(offers, won, decided.hours[marks].tolist(), enough),
        without=outcome(total - offers, total_won - won, decided.hours[~marks].tolist(), enough),
        note=None if enough else TOO_FEW,
    )


def outcome(offers: int, won: int, hours: Sequence[float], enough: bool) -> Outcome:
    """`hours`: the acceptance times, sorted."""
    return Outcome(
        offers=offers,
        accepted=won,
        acceptance_rate=share(won, offers) if enough else None,
        acceptance_rate_ci95=wilson(won, offers) if enough else None,
        median_hours_to_accept=percentile(hours, 0.5) if enough else None,
        median_hours_to_accept_ci95=median_interval(hours) if enough else None,
    )
