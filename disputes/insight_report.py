"""What insights report for one period: a read model, as `dispute-desk insights --json` prints it
and `/dispute insights` and the weekly report show it. A rate with no data is None (`null`),
never 0. Times are hours."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

PERIODS = ("7d", "30d", "90d")
RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MIN_SAMPLE = 20  # fewer offers than this on either side of a comparison: "too few disputes"
TOO_FEW = "too few disputes"
FCR_DAYS = 14  # a reopen or a new dispute on the order within this many days is a second contact


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(_Model):
    """[start, end) in UTC. `7d`, `30d` and `90d` end now; `YYYY-MM-DD..YYYY-MM-DD` covers whole
    UTC days, both ends included."""

    label: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str, now: datetime | None = None) -> Period:
        """The period `text` names, or ValueError saying what is accepted."""
        words = text.strip().lower()
        moment = now or datetime.now(UTC)
        if words in PERIODS:
            return cls(label=words, start=moment - timedelta(days=int(words[:-1])), end=moment)
        if match := RANGE.match(words):
            try:
                first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            except ValueError:
                raise ValueError(f"{text!r} is not a date range: {_ACCEPTED}") from None
            if last < first:
                raise ValueError(f"{text!r} ends before it starts: {_ACCEPTED}")
            return cls(
                label=words,
                start=datetime.combine(first, time(), UTC),
                end=datetime.combine(last + timedelta(days=1), time(), UTC),
            )
        raise ValueError(f"{text!r} is not a period: {_ACCEPTED}")

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return Period(label=f"before {self.label}", start=self.start - length, end=self.start)


_ACCEPTED = "use 7d, 30d, 90d or YYYY-MM-DD..YYYY-MM-DD"


class Counts(_Model):
    opened: int
    resolved: int


class Spread(_Model):
    """Hours from opening to the first resolution, over the disputes resolved in the period."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


class GroupSpread(_Model):
    key: str  # a reason, or an owner's Slack user id ("unassigned" for none)
    resolved: int
    hours: Spread
    business_hours: Spread


class FirstContact(_Model):
    resolved: int
    first_contact: int


class Csat(_Model):
    score: float | None  # the share of 4s and 5s among the ratings, 0–1
    responses: int
    surveys: int
    response_rate: float | None
    distribution: dict[str, int]  # "1" … "5"


class StageBreaches(_Model):
    stage: str
    runs: int  # stage runs that ended in the period
    breached: int  # of them, those that ended after they were due
    rate: float | None


class RefundsPaid(_Model):
    currency: str
    refunds: int
    amount_minor: int


class RecurringReason(_Model):
    reason: str
    count: int
    previous: int
    flagged: bool
    p_value: float | None


class RecurringGroup(_Model):
    value: str
    count: int
    previous: int
    flagged: bool
    p_value: float | None


class Outcome(_Model):
    """Offers decided in the period on one side of a comparison."""

    offers: int
    accepted: int
    acceptance_rate: float | None
    acceptance_rate_ci95: tuple[float, float] | None
    median_hours_to_accept: float | None
    median_hours_to_accept_ci95: tuple[float, float] | None


class Effect(_Model):
    """Offers made with the evidence kind on file (or the rule cited), against the rest.
    `note` is "too few disputes" when either side has fewer than MIN_SAMPLE offers; the rates
    and medians are then None."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str  # an evidence kind, or a rule id
    with_: Outcome = Field(alias="with")
    without: Outcome
    note: str | None


class PersonLoad(_Model):
    owner: str  # a Slack user id, or "unassigned"
    open: list[int]  # at each of `Workload.points`
    high: list[int]


class Workload(_Model):
    points: list[datetime]  # the end of each day (each week for periods over 31 days)
    people: list[PersonLoad]


class TrendPoint(_Model):
    """One week of the weekly report's chart: [start, end)."""

    start: datetime
    end: datetime
    opened: int
    resolved: int
    median_hours: float | None  # time to resolve, over the disputes resolved that week
    csat_score: float | None


class Insights(_Model):
    period: Period
    disputes: Counts
    time_to_resolve_hours: Spread
    time_to_resolve_business_hours: Spread
    time_to_resolve_by_reason: list[GroupSpread]
    time_to_resolve_by_owner: list[GroupSpread]
    first_contact_resolution_rate: float | None
    first_contact: FirstContact
    csat: Csat
    sla_breach_rate: list[StageBreaches]
    refunds_paid: list[RefundsPaid]
    resolutions: dict[str, int]
    overturn_rate: float | None
    recurring_reasons: list[RecurringReason]
    recurring: dict[str, list[RecurringGroup]]  # sku, category, carrier, rule
    evidence_effect: list[Effect]
    citation_effect: list[Effect]
    workload: Workload

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
