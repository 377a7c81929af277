"""The insights report as export rows: every number of a small report, where it is written by
hand below."""

from __future__ import annotations

from datetime import UTC, datetime

from disputes.exports import insight_rows
from disputes.insight_report import (
    Counts,
    Csat,
    Effect,
    FirstContact,
    GroupSpread,
    Insights,
    Outcome,
    Period,
    PersonLoad,
    RecurringGroup,
    RecurringReason,
    RefundsPaid,
    Spread,
    StageBreaches,
    Workload,
)

DAY1, DAY2 = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
NONE = Spread(count=0, mean=None, median=None, p90=None)


def report() -> Insights:
    outcome = Outcome(
        offers=25,
        accepted=20,
        acceptance_rate=0.8,
        acceptance_rate_ci95=(0.6, 0.9),
        median_hours_to_accept=5.5,
        median_hours_to_accept_ci95=None,
    )
    return Insights(
        period=Period.parse("2026-11-02..2026-11-03"),
        disputes=Counts(opened=3, resolved=2),
        time_to_resolve_hours=Spread(count=2, mean=1.5, median=1.5, p90=1.9),
        time_to_resolve_business_hours=NONE,
        time_to_resolve_by_reason=[
            GroupSpread(key="damaged", resolved=2, hours=NONE, business_hours=NONE)
        ],
        time_to_resolve_by_owner=[],
        first_contact_resolution_rate=None,
        first_contact=FirstContact(resolved=2, first_contact=0),
        csat=Csat(
            score=None, responses=0, surveys=1, response_rate=0.0, distribution={"1": 0, "5": 0}
        ),
        sla_breach_rate=[StageBreaches(stage="in_review", runs=4, breached=1, rate=0.25)],
        refunds_paid=[RefundsPaid(currency="JPY", refunds=1, amount_minor=1200)],
        resolutions={"overturn": 2},
        overturn_rate=1.0,
        recurring_reasons=[
            RecurringReason(reason="damaged", count=3, previous=0, flagged=True, p_value=0.001)
        ],
        recurring={
            "sku": [
                RecurringGroup(value="LAMP.2", count=3, previous=1, flagged=False, p_value=0.5)
            ],
            "carrier": [],
        },
        evidence_effect=[Effect(name="PROOF_OF_DAMAGE", with_=outcome, without=outcome, note=None)],
        citation_effect=[],
        workload=Workload(
            points=[DAY1, DAY2], people=[PersonLoad(owner="U1", open=[2, 1], high=[1, 0])]
        ),
    )


def test_every_number_has_its_row() -> None:
    with_ = [
        ("offers", "25"),
        ("accepted", "20"),
        ("acceptance_rate", "0.8"),
        ("acceptance_rate_ci95.low", "0.6"),
        ("acceptance_rate_ci95.high", "0.9"),
        ("median_hours_to_accept", "5.5"),
        ("median_hours_to_accept_ci95.low", None),
        ("median_hours_to_accept_ci95.high", None),
    ]
    assert insight_rows(report()) == [
        ("period", None, "label", "2026-11-02..2026-11-03"),
        ("period", None, "start", "2026-11-02T00:00:00Z"),
        ("period", None, "end", "2026-11-04T00:00:00Z"),
        ("disputes", None, "opened", "3"),
        ("disputes", None, "resolved", "2"),
        ("time_to_resolve_hours", None, "count", "2"),
        ("time_to_resolve_hours", None, "mean", "1.5"),
        ("time_to_resolve_hours", None, "median", "1.5"),
        ("time_to_resolve_hours", None, "p90", "1.9"),
        ("time_to_resolve_business_hours", None, "count", "0"),
        ("time_to_resolve_business_hours", None, "mean", None),
        ("time_to_resolve_business_hours", None, "median", None),
        ("time_to_resolve_business_hours", None, "p90", None),
        ("time_to_resolve_by_reason", "damaged", "resolved", "2"),
        *[
            ("time_to_resolve_by_reason", "damaged", f"{kind}.{name}", value)
            for kind in ("hours", "business_hours")
            for name, value in (("count", "0"), ("mean", None), ("median", None), ("p90", None))
        ],
        ("report", None, "first_contact_resolution_rate", None),
        ("first_contact", None, "resolved", "2"),
        ("first_contact", None, "first_contact", "0"),
        ("csat", None, "score", None),
        ("csat", None, "responses", "0"),
        ("csat", None, "surveys", "1"),
        ("csat", None, "response_rate", "0.0"),
        ("csat.distribution", None, "1", "0"),
        ("csat.distribution", None, "5", "0"),
        ("sla_breach_rate", "in_review", "runs", "4"),
        ("sla_breach_rate", "in_review", "breached", "1"),
        ("sla_breach_rate", "in_review", "rate", "0.25"),
        ("refunds_paid", "JPY", "refunds", "1"),
        ("refunds_paid", "JPY", "amount_minor", "1200"),
        ("resolutions", None, "overturn", "2"),
        ("report", None, "overturn_rate", "1.0"),
        ("recurring_reasons", "damaged", "count", "3"),
        ("recurring_reasons", "damaged", "previous", "0"),
        ("recurring_reasons", "damaged", "flagged", "true"),
        ("recurring_reasons", "damaged", "p_value", "0.001"),
        ("recurring.sku", "LAMP.2", "count", "3"),
        ("recurring.sku", "LAMP.2", "previous", "1"),
        ("recurring.sku", "LAMP.2", "flagged", "false"),
        ("recurring.sku", "LAMP.2", "p_value", "0.5"),
        *[
            ("evidence_effect", "PROOF_OF_DAMAGE", f"{side}.{name}", value)
            for side in ("with", "without")
            for name, value in with_
        ],
        ("evidence_effect", "PROOF_OF_DAMAGE", "note", None),
        ("workload", "U1", "open.2026-11-02T00:00:00Z", "2"),
        ("workload", "U1", "open.2026-11-03T00:00:00Z", "1"),
        ("workload", "U1", "high.2026-11-02T00:00:00Z", "1"),
        ("workload", "U1", "high.2026-11-03T00:00:00Z", "0"),
    ]
