"""Insights made by hand for tests of what is shown: a busy month, an empty one, and one whose
names are as long and as hostile as an order system can make them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from disputes.insight_report import (
    TOO_FEW,
    Counts,
    Csat,
    Effect,
    FirstContact,
    Insights,
    Outcome,
    Period,
    PersonLoad,
    RecurringGroup,
    RecurringReason,
    RefundsPaid,
    Spread,
    StageBreaches,
    TrendPoint,
    Workload,
)

END = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> *bold* `tick` <https://evil.example|click> &amp; " + "Ω" * 3000
NOTHING = Spread(count=0, mean=None, median=None, p90=None)
NO_OFFERS = Outcome(
    offers=0,
    accepted=0,
    acceptance_rate=None,
    acceptance_rate_ci95=None,
    median_hours_to_accept=None,
    median_hours_to_accept_ci95=None,
)


def outcome(offers: int, accepted: int, rate: float, ci: tuple[float, float], hours: float):
    return Outcome(
        offers=offers,
        accepted=accepted,
        acceptance_rate=rate,
        acceptance_rate_ci95=ci,
        median_hours_to_accept=hours,
        median_hours_to_accept_ci95=(hours - 2, hours + 3),
    )


def effect(name: str, *, few: bool = False) -> Effect:
    if few:
        small = NO_OFFERS.model_copy(update={"offers": 12, "accepted": 9})
        return Effect.model_validate(
            {"name": name, "with": small, "without": NO_OFFERS.model_copy(update={"offers": 40})}
            | {"note": TOO_FEW}
        )
    return Effect.model_validate(
        {
            "name": name,
            "with": outcome(40, 32, 0.8, (0.65, 0.9), 20.0),
            "without": outcome(60, 33, 0.55, (0.42, 0.67), 35.5),
            "note": None,
        }
    )


def period(label: str = "30d", end: datetime = END) -> Period:
    return Period.parse(label, now=end)


def busy_month() -> Insights:
    points = [END - timedelta(days=n) for n in range(30, 0, -1)]
    return Insights(
        period=period(),
        disputes=Counts(opened=120, resolved=98),
        time_to_resolve_hours=Spread(count=98, mean=31.25, median=20.5, p90=70.1),
        time_to_resolve_business_hours=Spread(count=98, mean=12.0, median=8.25, p90=30.0),
        time_to_resolve_by_reason=[],
        time_to_resolve_by_owner=[],
        first_contact_resolution_rate=0.6428,
        first_contact=FirstContact(resolved=98, first_contact=63),
        csat=Csat(
            score=0.82,
            responses=45,
            surveys=90,
            response_rate=0.5,
            distribution={"1": 2, "2": 3, "3": 3, "4": 17, "5": 20},
        ),
        sla_breach_rate=[
            StageBreaches(stage="first_response", runs=40, breached=5, rate=0.125),
            StageBreaches(stage="in_review", runs=0, breached=0, rate=None),
        ],
        refunds_paid=[
            RefundsPaid(currency="USD", refunds=12, amount_minor=123400),
            RefundsPaid(currency="JPY", refunds=1, amount_minor=5000),
        ],
        resolutions={"full_refund": 40, "uphold": 30},
        overturn_rate=0.12,
        recurring_reasons=[
            RecurringReason(reason="DAMAGED", count=30, previous=22, flagged=False, p_value=0.2),
            RecurringReason(reason="WRONG_ITEM", count=12, previous=3, flagged=True, p_value=0.002),
            RecurringReason(reason="DEFECTIVE", count=4, previous=0, flagged=False, p_value=0.1),
        ],
        recurring={
            "sku": [
                RecurringGroup(value="MUG-01", count=14, previous=2, flagged=True, p_value=0.0004),
                RecurringGroup(value="TEE-02", count=3, previous=4, flagged=False, p_value=0.7),
            ],
            "carrier": [
                RecurringGroup(value="UPS", count=20, previous=8, flagged=True, p_value=0.01)
            ],
            "category": [],
            "rule": [],
        },
        evidence_effect=[effect("PROOF_OF_DAMAGE"), effect("CONDITION_REPORT", few=True)],
        citation_effect=[effect("R-DAMAGE-1")],
        workload=Workload(
            points=points,
            people=[
                PersonLoad(owner="U0MANAGER1", open=[3] * 29 + [7], high=[1] * 29 + [2]),
                PersonLoad(owner="unassigned", open=[2] * 30, high=[0] * 30),
                PersonLoad(owner="U0AGENT", open=[4] * 29 + [0], high=[0] * 30),
            ],
        ),
    )


def empty_month() -> Insights:
    """Nothing happened: every rate and time is None."""
    return Insights(
        period=period(),
        disputes=Counts(opened=0, resolved=0),
        time_to_resolve_hours=NOTHING,
        time_to_resolve_business_hours=NOTHING,
        time_to_resolve_by_reason=[],
        time_to_resolve_by_owner=[],
        first_contact_resolution_rate=None,
        first_contact=FirstContact(resolved=0, first_contact=0),
        csat=Csat(score=None, responses=0, surveys=0, response_rate=None, distribution={}),
        sla_breach_rate=[StageBreaches(stage="first_response", runs=0, breached=0, rate=None)],
        refunds_paid=[],
        resolutions={},
        overturn_rate=None,
        recurring_reasons=[],
        recurring={},
        evidence_effect=[],
        citation_effect=[],
        workload=Workload(points=[], people=[]),
    )


def hostile_month(many: int = 300) -> Insights:
    """Every name stored from outside is long and tries to mention, link or format; and there
    are far more of each than a message can list."""
    busy = busy_month()
    groups = [
        RecurringGroup(
            value=f"{HOSTILE}{n}", count=many - n, previous=1, flagged=True, p_value=0.001
        )
        for n in range(many)
    ]
    people = [PersonLoad(owner=f"{HOSTILE}{n}", open=[n + 1], high=[n % 3]) for n in range(many)]
    return busy.model_copy(
        update={
            "recurring_reasons": [
                RecurringReason(
                    reason=f"{HOSTILE}{n}",
                    count=n,
                    previous=n // 2,
                    flagged=n % 2 == 0,
                    p_value=0.01,
                )
                for n in range(many)
            ],
            "recurring": {"sku": groups, "category": groups, "carrier": groups, "rule": groups},
            "evidence_effect": [effect(f"{HOSTILE}{n}", few=n % 2 == 0) for n in range(many)],
            "citation_effect": [effect(f"{HOSTILE}{n}") for n in range(many)],
            "refunds_paid": [
                RefundsPaid(currency=f"{HOSTILE}{n}", refunds=n, amount_minor=n * 1000)
                for n in range(many)
            ],
            "sla_breach_rate": [
                StageBreaches(stage=f"{HOSTILE}{n}", runs=n, breached=0, rate=0.0)
                for n in range(many)
            ],
            "workload": Workload(points=[END], people=people),
        }
    )


def weeks(count: int = 8, *, end: datetime = END) -> list[TrendPoint]:
    """`count` weeks before `end`, busier each week, the first without a resolution."""
    points = []
    for n in range(count):
        start = end - timedelta(weeks=count - n)
        resolved = 0 if n == 0 else 10 + n
        points.append(
            TrendPoint(
                start=start,
                end=start + timedelta(weeks=1),
                opened=12 + 2 * n,
                resolved=resolved,
                median_hours=None if resolved == 0 else 20.0 + n,
                csat_score=None if resolved == 0 else 0.8,
            )
        )
    return points
