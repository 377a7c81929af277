"""Insights as people read them: `/dispute insights` and the weekly report's comment. A number
with no data behind it shows as "—", never 0; a comparison on too few disputes says so."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from blocks.disputes import SLA_STAGES
from blocks.kit import Block, context, divider, header, section
from blocks.queue import person
from blocks.text import Message, date, inline
from disputes.insight_report import (
    Effect,
    Insights,
    Outcome,
    Period,
    PersonLoad,
    RecurringGroup,
    RefundsPaid,
    Spread,
)
from domain.evidence import EvidenceKind
from domain.money import Money, MoneyError
from domain.reasons import Reason

NO_DATA = "—"
NAME_MAX = 80  # a group's, rule's or reason's name within a line
MOST_FLAGGED = 10  # groups that rose beyond normal variation, named one a line
MOST_REASONS = 8
MOST_EFFECTS = 8  # evidence kinds or cited rules compared
MOST_PEOPLE = 10
DIMENSIONS = {"sku": "SKU", "category": "Category", "carrier": "Carrier", "rule": "Policy rule"}
REASONS = frozenset(reason.value for reason in Reason)
KINDS = frozenset(kind.value for kind in EvidenceKind)


def insights_message(insights: Insights) -> Message:
    """The whole report in one message (a dozen blocks, far from a message's 50)."""
    period = insights.period
    name = period_name(period)
    blocks: list[Block] = [
        header(f":bar_chart: Insights: {name}"),
        context(
            f"{date(period.start, with_time=True)} to {date(period.end, with_time=True)} · "
            f"changes are against the {span_words(period)} before"
        ),
        {"type": "section", "fields": kpi_fields(insights)},
        section(breaches_text(insights)),
        divider(),
        section(upstream_text(insights)),
        section(reasons_text(insights)),
        section(effects_text("Evidence and the customer's answer", insights.evidence_effect)),
        section(effects_text("Cited rules and the customer's answer", insights.citation_effect)),
        section(workload_text(insights)),
        context(
            "Offers are compared with and without each kind of evidence or cited rule; a range is "
            f"a 95% interval. {NO_DATA} means no data. How each number is counted: the README's "
            "Insights section."
        ),
    ]
    opened, resolved = insights.disputes.opened, insights.disputes.resolved
    noun = "dispute" if opened == 1 else "disputes"
    text = f"Insights for {name}: {opened} {noun} opened, {resolved} resolved"
    return Message(text, blocks)


def weekly_comment(insights: Insights) -> str:
    """The weekly chart's comment: the last seven days in a few lines of mrkdwn."""
    counts, hours = insights.disputes, insights.time_to_resolve_hours
    csat = insights.csat
    lines = [
        f"*Weekly insights* · {date(insights.period.start)} to {date(insights.period.end)}",
        f"{counts.opened} disputes opened, {counts.resolved} resolved · median time to resolve "
        f"{hours_text(hours.median)} · first-contact resolution "
        f"{percent(insights.first_contact_resolution_rate)} · satisfaction "
        f"{percent(csat.score)} ({csat.responses} answers)",
        f"Service levels missed: {stage_rates(insights, counted_only=True)}",
        f"Refunds paid: {refunds_text(insights.refunds_paid)}",
    ]
    flagged = flagged_groups(insights)[:3]
    if flagged:
        lines.append("Upstream problems to look at: " + "; ".join(map(group_words, flagged)))
    lines.append(
        "The chart: disputes opened and resolved per week, and the median hours to resolve. "
        "`/dispute insights 7d` shows the whole report."
    )
    return "\n".join(lines)


# The period.


def period_name(period: Period) -> str:
    """ "the last 30 days", or the dates of a range."""
    if period.label.endswith("d") and period.label[:-1].isdigit():
        return f"the last {period.label[:-1]} days"
    last = period.end - timedelta(days=1)
    return f"{period.start:%Y-%m-%d} to {last:%Y-%m-%d}"


def span_words(period: Period) -> str:
    days = (period.end - period.start) / timedelta(days=1)
    return f"{days:g} days" if days != 1 else "day"


# Numbers.


def percent(rate: float | None) -> str:
    return NO_DATA if rate is None else f"{rate * 100:.0f}%"


def interval(bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return ""
    low, high = bounds
    return f" ({low * 100:.0f}–{high * 100:.0f}%)"


def hours_text(hours: float | None, *, business: bool = False) -> str:
    """Hours as a colleague writes them: "45 min", "20.5 h", "3.2 days" (business hours stay
    hours: a business day is not 24 of them)."""
    if hours is None:
        return NO_DATA
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48 or business:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def spread_text(spread: Spread, *, business: bool = False) -> str:
    return (
        f"median {hours_text(spread.median, business=business)} · mean "
        f"{hours_text(spread.mean, business=business)} · p90 "
        f"{hours_text(spread.p90, business=business)}"
    )


def money_text(paid: RefundsPaid) -> str:
    try:
        amount = str(Money(paid.amount_minor, paid.currency))
    except MoneyError:
        amount = f"{paid.amount_minor} minor units of {inline(paid.currency, 10)}"
    noun = "refund" if paid.refunds == 1 else "refunds"
    return f"{amount} ({paid.refunds} {noun})"


def refunds_text(paid: Sequence[RefundsPaid]) -> str:
    return " · ".join(money_text(p) for p in paid[:10]) or "none"


# The KPIs.


def kpi_fields(insights: Insights) -> list[dict[str, str]]:
    counts, first = insights.disputes, insights.first_contact
    csat = insights.csat
    of_resolved = f" ({first.first_contact} of {first.resolved})" if first.resolved else ""
    answered = (
        f"{csat.responses} of {csat.surveys} surveys answered ({percent(csat.response_rate)})"
    )
    texts = [
        f"*Disputes*\n{counts.opened} opened · {counts.resolved} resolved",
        f"*First-contact resolution*\n{percent(insights.first_contact_resolution_rate)}"
        f"{of_resolved}",
        f"*Time to resolve*\n{spread_text(insights.time_to_resolve_hours)}",
        "*In business hours*\n"
        f"{spread_text(insights.time_to_resolve_business_hours, business=True)}",
        f"*Satisfaction*\n{percent(csat.score)} rated 4 or 5 · {answered}",
        f"*Overturned*\n{percent(insights.overturn_rate)} of the disputes resolved",
        f"*Refunds paid*\n{refunds_text(insights.refunds_paid)}",
    ]
    return [{"type": "mrkdwn", "text": text[:2000]} for text in texts]


def stage_rates(insights: Insights, *, counted_only: bool = False) -> str:
    """Each stage's breach rate ("—" where no clock stopped), or only the stages where one did."""
    stages = [s for s in insights.sla_breach_rate if s.runs or not counted_only]
    parts = []
    for stage in stages[:10]:
        name = SLA_STAGES.get(stage.stage, inline(stage.stage, 40))
        counted = f" ({stage.breached} of {stage.runs})" if stage.runs else ""
        parts.append(f"{name} {percent(stage.rate)}{counted}")
    return " · ".join(parts) or NO_DATA


def breaches_text(insights: Insights) -> str:
    return f"*Service levels missed, by stage*\n{stage_rates(insights)}"


# Upstream problems.


def flagged_groups(insights: Insights) -> list[tuple[str, RecurringGroup]]:
    """Groups that rose beyond normal variation, the least likely by chance first."""
    found = [
        (dimension, group)
        for dimension, groups in insights.recurring.items()
        for group in groups
        if group.flagged
    ]
    return sorted(found, key=lambda item: (_p(item[1].p_value), -item[1].count))


def _p(value: float | None) -> float:
    return 1.0 if value is None else value


def change_words(count: int, previous: int) -> str:
    if previous == 0:
        return "new" if count else "none before either"
    if count > previous:
        return f"up from {previous}"
    if count < previous:
        return f"down from {previous}"
    return "as many as before"


def group_words(item: tuple[str, RecurringGroup]) -> str:
    dimension, group = item
    kind = DIMENSIONS.get(dimension, inline(dimension, 20))
    noun = "dispute" if group.count == 1 else "disputes"
    return (
        f"{kind} *{inline(group.value, NAME_MAX)}*: {group.count} {noun}, "
        f"{change_words(group.count, group.previous)}"
    )


def upstream_text(insights: Insights) -> str:
    flagged = flagged_groups(insights)
    lines = []
    for item in flagged[:MOST_FLAGGED]:
        p = item[1].p_value
        chance = f" (p = {p:.3f})" if p is not None and p >= 0.001 else " (p < 0.001)"
        lines.append(f":warning: {group_words(item)}, beyond normal variation{chance}")
    if len(flagged) > MOST_FLAGGED:
        lines.append(f"…and {len(flagged) - MOST_FLAGGED} more")
    shown = "\n".join(lines) or "_Nothing rose beyond normal variation._"
    return f"*Upstream problems to look at*\n{shown}"


def reason_name(reason: str) -> str:
    return Reason(reason).label if reason in REASONS else inline(reason, NAME_MAX)


def reasons_text(insights: Insights) -> str:
    reasons = sorted(insights.recurring_reasons, key=lambda r: (not r.flagged, -r.count))
    lines = []
    for reason in reasons[:MOST_REASONS]:
        mark = ":warning: " if reason.flagged else ""
        lines.append(
            f"• {mark}{reason_name(reason.reason)}: {reason.count}, "
            f"{change_words(reason.count, reason.previous)}"
        )
    if len(reasons) > MOST_REASONS:
        lines.append(f"• and {len(reasons) - MOST_REASONS} more")
    shown = "\n".join(lines) or "_No dispute was opened._"
    return f"*Top reasons*\n{shown}"


# What goes with acceptance.


def effect_name(name: str) -> str:
    return EvidenceKind(name).label if name in KINDS else inline(name, NAME_MAX)


def outcome_text(outcome: Outcome) -> str:
    rate = percent(outcome.acceptance_rate) + interval(outcome.acceptance_rate_ci95)
    return f"{rate} of {outcome.offers}"


def effect_line(effect: Effect) -> str:
    name, with_, without = effect_name(effect.name), effect.with_, effect.without
    if effect.note is not None:
        return (
            f"• {name}: _{inline(effect.note, 200)}_ ({with_.offers} offers with it, "
            f"{without.offers} without)"
        )
    return (
        f"• {name}: accepted {outcome_text(with_)} with it, {outcome_text(without)} without · "
        f"median {hours_text(with_.median_hours_to_accept)} to accept, against "
        f"{hours_text(without.median_hours_to_accept)}"
    )


def effects_text(title: str, effects: Sequence[Effect]) -> str:
    lines = [effect_line(effect) for effect in effects[:MOST_EFFECTS]]
    if len(effects) > MOST_EFFECTS:
        lines.append(f"• and {len(effects) - MOST_EFFECTS} more")
    shown = "\n".join(lines) or "_No offer was decided._"
    return f"*{title}*\n{shown}"


# Workload.


def load_now(load: PersonLoad) -> tuple[int, int]:
    return (load.open[-1] if load.open else 0, load.high[-1] if load.high else 0)


def workload_text(insights: Insights) -> str:
    workload = insights.workload
    holding = [p for p in workload.people if load_now(p)[0] > 0]
    holding.sort(key=lambda p: (-load_now(p)[0], -load_now(p)[1], p.owner))
    lines = []
    for load in holding[:MOST_PEOPLE]:
        held, high = load_now(load)
        who = "Nobody (unassigned)" if load.owner == "unassigned" else person(load.owner)
        lines.append(f"• {who}: {held} open · {high} high priority")
    if len(holding) > MOST_PEOPLE:
        lines.append(f"• and {len(holding) - MOST_PEOPLE} more")
    when = f" on {date(workload.points[-1])}" if workload.points else ""
    shown = "\n".join(lines) or "_Nobody holds an open dispute._"
    return f"*Workload{when}*\n{shown}"
