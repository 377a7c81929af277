"""The statistics of insights against numbers worked out by hand, and their properties."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputes.insight_offers import Decided, Offer, effect
from disputes.insight_report import MIN_SAMPLE, TOO_FEW, Period
from disputes.insight_resolved import Resolved, csat_of, first_contact, spread, summarize
from disputes.insight_stats import (
    binomial_tail,
    median_interval,
    percentile,
    rise_p_value,
    share,
    wilson,
)
from disputes.insights import rises

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4, 10, 24, 48, 504], 0.5) == 24
    assert percentile([4, 10, 24, 48, 504], 0.9) == pytest.approx(321.6)
    assert percentile([1, 2], 0.5) == 1.5
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None


def test_wilson_interval_of_20_in_25() -> None:
    # p = 0.8, n = 25, z² = 3.8416: centre (0.8 + 0.076832) / 1.153664 = 0.760041; half-width
    # 1.96 × √(0.0064 + 0.00153664) / 1.153664 = 0.151354.
    low, high = wilson(20, 25) or (0, 0)
    assert low == pytest.approx(0.608687, abs=1e-5)
    assert high == pytest.approx(0.911395, abs=1e-5)
    assert wilson(0, 0) is None


def test_median_interval_from_order_statistics() -> None:
    # n = 20: 1.96 × √20 / 2 = 4.3827; ranks ⌊10 − 4.38⌋ = 5 and ⌈10 + 4.38⌉ + 1 = 16.
    assert median_interval([float(n) for n in range(1, 21)]) == (5.0, 16.0)
    assert median_interval([]) is None


def test_binomial_tail_by_hand() -> None:
    assert binomial_tail(3, 4, 0.75) == pytest.approx(0.73828125)
    assert binomial_tail(0, 4, 0.3) == 1.0
    assert binomial_tail(5, 4, 0.3) == 0.0
    # (2/3)^20 × (2/3 + 21/3) = 1048576 / 3486784401 × 23/3
    assert rise_p_value(20, 1, 2 / 3) == pytest.approx(1048576 / 3486784401 * 23 / 3)


def test_a_group_rising_beyond_its_share_is_flagged() -> None:
    # 38 disputes now, 19 before: share 2/3. A: 20 now, 1 before, p = 0.0023056 below
    # 0.01 / 3 groups; B and C kept their share.
    groups = rises([("A", 20, 1), ("B", 10, 10), ("C", 8, 8)])
    assert [(g[0], g[3]) for g in groups] == [("A", True), ("B", False), ("C", False)]
    assert groups[0][4] == pytest.approx(0.0023056, abs=1e-6)
    # Under five disputes nothing is flagged, however steep the rise.
    assert not any(g[3] for g in rises([("A", 4, 0), ("B", 1, 10)]))
    # With no previous period there is nothing to compare with.
    assert rises([("A", 9, 0)]) == [("A", 9, 0, False, None)]


def test_effect_with_enough_offers_gives_rates_and_intervals() -> None:
    having = [_offer(i < 20, {"PROOF_OF_DAMAGE"}, float(i + 1)) for i in range(25)]
    lacking = [_offer(i < 10, set(), 30.0) for i in range(25)]
    result = effect(Decided.of(having + lacking), "PROOF_OF_DAMAGE", lambda b: b.kinds)
    assert result.note is None
    assert (result.with_.offers, result.with_.accepted) == (25, 20)
    assert result.with_.acceptance_rate == 0.8 and result.without.acceptance_rate == 0.4
    assert result.with_.acceptance_rate_ci95 == pytest.approx((0.608687, 0.911395), abs=1e-5)
    assert result.with_.median_hours_to_accept == 10.5
    assert result.with_.median_hours_to_accept_ci95 == (5.0, 16.0)


def test_effect_with_too_few_offers_says_so_instead_of_a_number() -> None:
    offers = [_offer(True, {"X"}, 1.0)] * (MIN_SAMPLE - 1) + [_offer(False, set(), None)] * 50
    result = effect(Decided.of(offers), "X", lambda b: b.kinds)
    assert result.note == TOO_FEW
    assert result.with_.offers == MIN_SAMPLE - 1 and result.with_.acceptance_rate is None
    assert result.model_dump(by_alias=True)["with"]["accepted"] == MIN_SAMPLE - 1


def test_first_contact_rules() -> None:
    done = NOW
    assert first_contact(done, 1, 0, None, None)
    assert first_contact(done, 0, 0, None, None)  # resolved without an offer
    assert not first_contact(done, 2, 0, None, None)  # a second offer
    assert not first_contact(done, 1, 1, None, None)  # a decline
    assert not first_contact(done, 1, 0, done + timedelta(days=14), None)
    assert first_contact(done, 1, 0, done + timedelta(days=14, seconds=1), None)
    assert not first_contact(done, 1, 0, None, done + timedelta(days=3))
    assert first_contact(done, 1, 0, None, done + timedelta(days=15))


def test_periods() -> None:
    assert Period.parse("7d", NOW).start == NOW - timedelta(days=7)
    month = Period.parse("2026-11-01..2026-11-30", NOW)
    assert (month.start, month.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert month.previous.end == month.start
    assert month.previous.start == datetime(2026, 10, 2, tzinfo=UTC)
    for bad in ("14d", "", "2026-11-30..2026-11-01", "2026-02-30..2026-03-01", "30 days"):
        with pytest.raises(ValueError, match=re.escape("7d, 30d, 90d or YYYY-MM-DD..YYYY-MM-DD")):
            Period.parse(bad, NOW)


def _offer(accepted: bool, kinds: set[str], hours: float | None) -> Offer:
    return Offer(
        accepted=accepted,
        hours_to_accept=hours if accepted else None,
        kinds=frozenset(kinds),
        rules=frozenset(),
    )


resolved_disputes = st.builds(
    Resolved,
    reason=st.sampled_from(["damaged", "wrong_item"]),
    owner=st.sampled_from(["U1", "U2", "unassigned"]),
    hours=st.floats(min_value=0, max_value=10_000),
    business_hours=st.floats(min_value=0, max_value=10_000),
    first_contact=st.booleans(),
    resolution=st.sampled_from([None, "overturn", "uphold"]),
)


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=60))
def test_percentiles_stay_within_the_values_and_in_order(values: list[float]) -> None:
    result = spread(values)
    if not values:
        assert (result.mean, result.median, result.p90) == (None, None, None)
        return
    assert result.median is not None and result.p90 is not None and result.mean is not None
    assert min(values) <= result.median <= result.p90 <= max(values)
    assert min(values) <= result.mean * (1 + 1e-12) and result.mean <= max(values) * (1 + 1e-12)


surveys = st.dictionaries(
    st.one_of(st.none(), st.integers(min_value=1, max_value=5)), st.integers(0, 50), max_size=6
)


@given(st.lists(resolved_disputes, max_size=40), surveys)
def test_rates_stay_within_zero_and_one_and_are_none_without_data(
    disputes: list[Resolved], ratings: dict[int | None, int]
) -> None:
    csat = csat_of(ratings)
    summary = summarize(disputes)
    assert summary.resolved == len(disputes)
    for rate in (
        csat.score,
        csat.response_rate,
        share(summary.first_contact, summary.resolved),
    ):
        assert rate is None or 0.0 <= rate <= 1.0
    assert (csat.score is None) == (csat.responses == 0)
    assert (csat.response_rate is None) == (csat.surveys == 0)
    assert sum(csat.distribution.values()) == csat.responses


@given(st.integers(0, 200), st.integers(0, 200), st.floats(0.01, 0.99))
def test_wilson_bounds_hold_the_rate(successes: int, extra: int, _: float) -> None:
    trials = successes + extra
    interval = wilson(successes, trials)
    if trials == 0:
        assert interval is None
        return
    assert interval is not None
    low, high = interval
    assert 0.0 <= low <= successes / trials + 1e-12 and successes / trials - 1e-12 <= high <= 1.0


@given(st.integers(0, 300), st.integers(0, 300), st.floats(0.001, 0.999))
def test_a_rise_p_value_is_a_probability_and_falls_as_the_count_grows(
    now: int, before: int, p: float
) -> None:
    value = rise_p_value(now, before, p)
    assert 0.0 <= value <= 1.0
    assert rise_p_value(now + 1, before, p) <= value + 1e-12


def test_binomial_tail_is_the_exact_sum_on_both_sides_of_the_mean() -> None:
    """Summed outward from k until the terms stop counting: the same as every term summed."""
    rng = random.Random(11)
    for _ in range(400):
        n = rng.randrange(0, 400)
        k = rng.randrange(-1, n + 2)
        p = rng.choice([0.02, 0.3, 0.5, 0.8, rng.random()])
        exact = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1))
        assert binomial_tail(k, n, p) == pytest.approx(min(exact, 1.0), rel=1e-9, abs=1e-13)
