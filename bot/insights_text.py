"""`dispute-desk insights` without `--json`: the report as a few aligned lines of text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from disputes.insight_report import Insights, Spread
from domain.money import Money

NONE = "—"  # a rate or a time with no data: never shown as 0
WIDTH = 20  # the label column
TOP = 5  # reasons and people shown


def summary(report: Insights) -> str:
    """The KPIs of the report, one subject a line; lists continue under their label."""
    period = report.period
    lines = [f"Insights {period.label}: {_moment(period.start)} to {_moment(period.end)} UTC"]

    def add(label: str, values: Iterable[str]) -> None:
        shown = list(values) or ["none"]
        lines.append(f"  {label:<{WIDTH}}{shown[0]}")
        lines.extend(f"  {'':<{WIDTH}}{value}" for value in shown[1:])

    counts = report.disputes
    add("Disputes", [f"{counts.opened} opened, {counts.resolved} resolved"])
    hours = report.time_to_resolve_hours
    add("Time to resolve", [f"{_spread(hours)} ({hours.count} resolved)"])
    add("  business hours", [_spread(report.time_to_resolve_business_hours)])
    first = report.first_contact
    add(
        "First contact",
        [
            f"{_rate(report.first_contact_resolution_rate)} "
            f"({first.first_contact} of {first.resolved} resolved)"
        ],
    )
    csat = report.csat
    add(
        "CSAT",
        [
            f"{_rate(csat.score)} rated 4–5; {csat.responses} responses to {csat.surveys} "
            f"surveys ({_rate(csat.response_rate)})"
        ],
    )
    add(
        "SLA breaches",
        (
            f"{stage.stage:<18} {_rate(stage.rate)} ({stage.breached} of {stage.runs})"
            for stage in report.sla_breach_rate
        ),
    )
    add(
        "Refunds paid",
        (
            f"{Money(paid.amount_minor, paid.currency)} ({paid.refunds} refunds)"
            for paid in report.refunds_paid
        ),
    )
    reasons = sorted(report.recurring_reasons, key=lambda r: (-r.count, r.reason))[:TOP]
    add(
        "Recurring reasons",
        (
            f"{r.reason:<18} {r.count} ({r.previous} before)"
            + ("  rising: an upstream problem to look at" if r.flagged else "")
            for r in reasons
        ),
    )
    workload = report.workload
    people = sorted(
        workload.people,
        key=lambda p: (-(p.open[-1] if p.open else 0), p.owner),
    )[:TOP]
    add(
        "Workload (at end)",
        (
            f"{p.owner:<18} {p.open[-1] if p.open else 0} open, "
            f"{p.high[-1] if p.high else 0} high priority"
            for p in people
        ),
    )
    return "\n".join(lines)


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _rate(rate: float | None) -> str:
    return NONE if rate is None else f"{rate:.1%}"


def _hours(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} h"


def _spread(spread: Spread) -> str:
    return f"mean {_hours(spread.mean)}, median {_hours(spread.median)}, p90 {_hours(spread.p90)}"
