"""The statistics insights use, each written out so the README can define it exactly.

- `percentile`: linear interpolation between the two nearest ranks (PostgreSQL's
  `percentile_cont`, NumPy's default): for sorted x₀…xₙ₋₁ and q, h = (n − 1)·q, and the value
  is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋).
- `wilson`: the Wilson score interval of a proportion (95%, z = 1.96).
- `median_interval`: a distribution-free 95% interval for a median from order statistics
  (ranks n/2 ∓ 1.96·√n/2, rounded outward).
- `rise_p_value`: the exact conditional test of two Poisson counts. Given a group's counts now
  (k) and in the previous period (m), and the share of all disputes that fell in the current
  period (p), k is Binomial(k + m, p) when the group did not rise beyond the overall volume;
  the p-value is P(X ≥ k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.96


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of already sorted values; None for none."""
    if not ordered:
        return None
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (never 0 for no data)."""
    return part / whole if whole else None


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    if trials == 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def median_interval(ordered: Sequence[float], z: float = Z95) -> tuple[float, float] | None:
    n = len(ordered)
    if n == 0:
        return None
    half = z * math.sqrt(n) / 2
    low = max(math.floor(n / 2 - half), 1)
    high = min(math.ceil(n / 2 + half) + 1, n)
    return ordered[low - 1], ordered[high - 1]


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p): the probabilities summed outward from k, each from the
    one before it, until they no longer count (the upper tail above the mean; below it, one minus
    the lower tail, P(X ≤ k − 1))."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    odds = p / (1.0 - p)
    if k > n * p:
        term = _pmf(k, n, p)
        total, i = term, k
        while i < n and term > total * 1e-17:
            term *= (n - i) / (i + 1) * odds
            total += term
            i += 1
        return min(total, 1.0)
    term = _pmf(k - 1, n, p)
    lower, i = term, k - 1
    while i > 0 and term > lower * 1e-17:
        term *= i / (n - i + 1) / odds
        lower += term
        i -= 1
    return min(max(1.0 - lower, 0.0), 1.0)


def _pmf(i: int, n: int, p: float) -> float:
    log_choose = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
    return math.exp(log_choose + i * math.log(p) + (n - i) * math.log1p(-p))


def rise_p_value(current: int, previous: int, current_share: float) -> float:
    """How likely a group's count would be at least `current` by chance, had it kept its share
    of the overall volume (`current_share`: all disputes now / all disputes in both periods)."""
    return binomial_tail(current, current + previous, current_share)
