"""Experiment statistics: arm comparisons, chance to beat, sample ratio, Holm, power, verdicts.

Proportions (rates, intervals, tests, lift) live in bot.domain.proportions and revenue per
recipient in bot.domain.revenue; their public names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

from bot.domain.proportions import (
    MIN_EXPECTED_CELL,
    Estimate,
    Interval,
    TestResult,
    check_counts,
    newcombe_difference,
    rate,
    relative_lift,
    two_proportion_test,
    wilson_interval,
)
from bot.domain.revenue import RevenueComparison, compare_revenue

__all__ = [
    "MIN_EXPECTED_CELL",
    "SRM_ALPHA",
    "Estimate",
    "Interval",
    "ProportionComparison",
    "RevenueComparison",
    "SrmResult",
    "TestResult",
    "chance_to_beat",
    "compare_proportions",
    "compare_revenue",
    "holm",
    "median_seconds",
    "newcombe_difference",
    "rate",
    "relative_lift",
    "required_sample_size",
    "sample_ratio_mismatch",
    "two_proportion_test",
    "verdict",
    "wilson_interval",
]

# p-value threshold for flagging a sample-ratio mismatch; strict because a false alarm stops
# people from trusting a healthy experiment.
SRM_ALPHA = 0.001


@dataclass(frozen=True)
class ProportionComparison:
    """Everything the report says about one conversion metric between two arms."""

    rate_a: float | None
    rate_b: float | None
    interval_a: Interval
    interval_b: Interval
    difference: Estimate | None
    lift: Estimate | None
    test: TestResult
    chance_a_beats_b: float


@dataclass(frozen=True)
class SrmResult:
    """A sample-ratio-mismatch check of arm sizes against their intended weights."""

    chi2: float
    p_value: float
    flagged: bool
    expected: dict[str, float]


def _b_beats_a(alpha_a: int, beta_a: int, alpha_b: int, beta_b: int) -> float:
    # Closed form for P(pB > pA) with integer Beta parameters, a sum of alpha_b terms
    # (Evan Miller, "Formulas for Bayesian A/B testing", 2015), evaluated in log space.
    i = np.arange(alpha_b, dtype=np.float64)
    log_terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1.0 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(np.exp(log_terms).sum())


def chance_to_beat(x1: int, n1: int, x2: int, n2: int) -> float:
    """Return the posterior probability that arm 1's rate exceeds arm 2's, exactly.

    Each rate gets a uniform Beta(1, 1) prior, so posteriors are Beta(1 + x, 1 + n - x). The
    closed-form sum is exact and deterministic; of its four equivalent forms the one with the
    fewest terms is used, so a million recipients stays fast.
    """
    check_counts(x1, n1)
    check_counts(x2, n2)
    a1, b1 = 1 + x1, 1 + n1 - x1
    a2, b2 = 1 + x2, 1 + n2 - x2
    # P(p1 > p2) equals P(1 - p2 > 1 - p1), and ties have probability zero, which gives
    # four sums whose lengths are a1, a2, b2 and b1.
    cheapest = min(a1, a2, b1, b2)
    if cheapest == a1:
        p = _b_beats_a(a2, b2, a1, b1)
    elif cheapest == a2:
        p = 1.0 - _b_beats_a(a1, b1, a2, b2)
    elif cheapest == b2:
        p = _b_beats_a(b1, a1, b2, a2)
    else:
        p = 1.0 - _b_beats_a(b2, a2, b1, a1)
    return min(1.0, max(0.0, p))


def compare_proportions(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> ProportionComparison:
    """Compare one conversion metric of arm a (x1/n1) against arm b (x2/n2)."""
    return ProportionComparison(
        rate_a=rate(x1, n1),
        rate_b=rate(x2, n2),
        interval_a=wilson_interval(x1, n1, confidence),
        interval_b=wilson_interval(x2, n2, confidence),
        difference=newcombe_difference(x1, n1, x2, n2, confidence),
        lift=relative_lift(x1, n1, x2, n2, confidence),
        test=two_proportion_test(x1, n1, x2, n2),
        chance_a_beats_b=chance_to_beat(x1, n1, x2, n2),
    )


def sample_ratio_mismatch(observed: Mapping[str, int], weights: Mapping[str, float]) -> SrmResult:
    """Check arm sizes against intended weights with a chi-square goodness-of-fit test."""
    if set(observed) != set(weights):
        raise ValueError(f"arms differ: observed {sorted(observed)}, weights {sorted(weights)}")
    if any(w < 0 for w in weights.values()) or any(c < 0 for c in observed.values()):
        raise ValueError("weights and counts must not be negative")
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ValueError("weights must not all be zero")
    total = sum(observed.values())
    expected = {arm: total * weights[arm] / weight_sum for arm in weights}
    if any(observed[arm] > 0 for arm in weights if weights[arm] == 0):
        # Someone landed in an arm meant to be empty: the assignment is broken for certain.
        return SrmResult(math.inf, 0.0, True, expected)
    live = [arm for arm in sorted(weights) if weights[arm] > 0]
    if total == 0 or len(live) < 2:
        return SrmResult(0.0, 1.0, False, expected)
    chi2, p_value = sps.chisquare(
        [observed[arm] for arm in live], f_exp=[expected[arm] for arm in live]
    )
    p = float(p_value)
    return SrmResult(float(chi2), p, p < SRM_ALPHA, expected)


def holm(p_values: Sequence[float]) -> list[float]:
    """Adjust p-values for multiple comparisons with Holm's step-down method."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        # The running maximum keeps adjusted values in the same order as the raw ones.
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def required_sample_size(
    p1: float,
    p2: float,
    alpha: float = 0.05,
    power: float = 0.8,
    continuity_correction: bool = False,
) -> int:
    """Return recipients per arm for a two-sided two-proportion test to detect p1 vs p2.

    The normal-approximation formula of Fleiss, Levin & Paik, Statistical Methods for Rates
    and Proportions (3rd ed., 2003), eq. 4.14, optionally with their continuity correction.
    """
    if not (0.0 <= p1 <= 1.0 and 0.0 <= p2 <= 1.0):
        raise ValueError("rates must lie in [0, 1]")
    if p1 == p2:
        raise ValueError("equal rates: no difference to detect")
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise ValueError("alpha and power must lie in (0, 1)")
    z_alpha = float(sps.norm.ppf(1.0 - alpha / 2.0))
    z_beta = float(sps.norm.ppf(power))
    mean = (p1 + p2) / 2.0
    delta = abs(p1 - p2)
    root = z_alpha * math.sqrt(2.0 * mean * (1.0 - mean)) + z_beta * math.sqrt(
        p1 * (1.0 - p1) + p2 * (1.0 - p2)
    )
    n = root * root / (delta * delta)
    if continuity_correction:
        n = n / 4.0 * (1.0 + math.sqrt(1.0 + 4.0 / (n * delta))) ** 2
    # Round away float noise (685.99999...) before taking the ceiling.
    return max(1, math.ceil(round(n, 6)))


def median_seconds(durations: Sequence[float]) -> float | None:
    """Return the median of durations in seconds, or None when there are none."""
    return float(np.median(np.asarray(durations, dtype=np.float64))) if durations else None


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict(
    metric: str,
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    p_value: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    names: tuple[str, str] = ("specific asks", "broadcast-style asks"),
    min_per_arm: int = 30,
) -> str:
    """Say in one honest plain-English sentence what the data show about one metric.

    p_value should be the Holm-adjusted p-value when several metrics are reported; without it
    the unadjusted two-proportion test is used. A difference is called significant only when
    p < alpha and the Newcombe interval at the matching confidence excludes zero.
    """
    check_counts(x1, n1)
    check_counts(x2, n2)
    name_a, name_b = names
    empty = [name for name, n in ((name_a, n1), (name_b, n2)) if n == 0]
    if empty:
        return f"{metric}: not enough data yet ({' and '.join(empty)}: no recipients)."
    confidence = 1.0 - alpha
    diff = newcombe_difference(x1, n1, x2, n2, confidence)
    assert diff is not None  # both arms are non-empty here
    p = two_proportion_test(x1, n1, x2, n2).p_value if p_value is None else p_value
    p1, p2 = x1 / n1, x2 / n2
    head = (
        f"{metric}: {name_a} {_percent(p1)} ({x1:,}/{n1:,}) vs {name_b} {_percent(p2)} "
        f"({x2:,}/{n2:,}), {_points(diff.value)} percentage points "
        f"({round(100 * confidence)}% CI {_points(diff.interval.low)} to "
        f"{_points(diff.interval.high)})"
    )
    smallest = min(n1, n2)
    if p < alpha and diff.interval.excludes_zero and smallest >= min_per_arm:
        better = name_a if p1 > p2 else name_b
        return f"{head}; statistically significant ({_format_p(p)}): {better} did better."
    if p < alpha and diff.interval.excludes_zero:
        reason = f"too few recipients to conclude (fewer than {min_per_arm} in an arm)"
    elif p < alpha:
        reason = "borderline: the test and the interval disagree, so not conclusive yet"
    else:
        reason = f"not statistically significant ({_format_p(p)}), too small to conclude"
    if p1 == p2:
        return f"{head}; {reason}. The rates are equal so far."
    needed = max(required_sample_size(p1, p2, alpha=alpha, power=power), min_per_arm)
    extra = needed - smallest
    if extra > 0:
        more = (
            f"About {extra:,} more recipients per arm would be needed to detect a difference "
            "this size."
        )
    else:
        # Enough recipients for a difference this size, yet no clear result: most likely the
        # true difference is smaller than the observed one.
        more = "The true difference is probably smaller than the one seen here."
    return f"{head}; {reason}. {more}"
