"""Experiment statistics: rates, intervals, tests, lift, revenue and honest verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special
from scipy import stats as sps

# Under this many expected successes or failures in any cell the normal approximation of the
# z-test is poor, so the exact test is used instead (the usual Cochran rule).
MIN_EXPECTED_CELL = 5.0
# p-value threshold for flagging a sample-ratio mismatch; strict because a false alarm stops
# people from trusting a healthy experiment.
SRM_ALPHA = 0.001
# Bounds on the work done by one vectorised bootstrap step, to keep memory flat.
_BOOTSTRAP_CHUNK = 4_000_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """A closed confidence interval."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Tell whether value lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Tell whether the whole interval lies on one side of zero."""
        return self.low > 0.0 or self.high < 0.0


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval."""

    value: float
    interval: Interval
    confidence: float


@dataclass(frozen=True)
class TestResult:
    """The outcome of a two-sided test of equal proportions."""

    test: Literal["z-test", "fisher-exact"]
    p_value: float
    statistic: float | None  # z for the z-test, the sample odds ratio for Fisher's test

    __test__ = False  # a result type, not a pytest test class


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
class RevenueComparison:
    """Revenue per recipient (minor units) of two arms, their difference and its test."""

    per_recipient_a: float | None
    per_recipient_b: float | None
    difference: float | None
    interval: Interval | None  # bootstrap percentile interval of the difference
    p_value: float | None  # Welch's unequal-variance t-test
    confidence: float


@dataclass(frozen=True)
class SrmResult:
    """A sample-ratio-mismatch check of arm sizes against their intended weights."""

    chi2: float
    p_value: float
    flagged: bool
    expected: dict[str, float]


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def rate(successes: int, n: int) -> float | None:
    """Return successes / n, or None when there are no trials."""
    _check_counts(successes, n)
    return successes / n if n else None


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Return the Wilson score interval of a proportion; (0, 1) when n is 0."""
    _check_counts(successes, n)
    z = _z(confidence)
    if n == 0:
        # With no observations every rate is still possible.
        return Interval(0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Pin the exact ends so floating noise never reports 1e-17 instead of 0.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> Estimate | None:
    """Estimate p1 - p2 with Newcombe's hybrid score interval; None when an arm is empty.

    Method 10 of Newcombe (1998), Statistics in Medicine 17:873-890: the interval combines the
    two Wilson intervals, so it stays inside [-1, 1] and behaves well at zero counts.
    """
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    w1 = wilson_interval(x1, n1, confidence)
    w2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    below = math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    above = math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return Estimate(d, Interval(max(-1.0, d - below), min(1.0, d + above)), confidence)


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """Test p1 == p2 two-sided: pooled z-test, or Fisher's exact test for small expected counts."""
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    total = n1 + n2
    successes = x1 + x2
    failures = total - successes
    expected = [n * c / total for n in (n1, n2) for c in (successes, failures)] if total else [0.0]
    if min(expected) < MIN_EXPECTED_CELL:
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        odds_ratio, p_value = sps.fisher_exact(table, alternative="two-sided")
        ratio = float(odds_ratio)
        return TestResult(
            "fisher-exact", min(1.0, float(p_value)), None if math.isnan(ratio) else ratio
        )
    pooled = successes / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return TestResult("z-test", float(2 * sps.norm.sf(abs(z))), z)


def relative_lift(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Estimate | None:
    """Estimate p1 / p2 - 1 with a log risk-ratio (Katz) interval; None when undefined.

    None when an arm is empty or both arms have zero successes. When exactly one arm has zero
    successes, 0.5 is added to every cell of the 2x2 table (Haldane's correction) for both the
    estimate and the interval, so the lift stays finite instead of infinite or -100% exactly.
    """
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    if n1 == 0 or n2 == 0 or (x1 == 0 and x2 == 0):
        return None
    a, m1, b, m2 = float(x1), float(n1), float(x2), float(n2)
    if x1 == 0 or x2 == 0:
        a, b = a + 0.5, b + 0.5
        m1, m2 = m1 + 1.0, m2 + 1.0
    log_rr = math.log((a / m1) / (b / m2))
    se = math.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m2)
    z = _z(confidence)
    return Estimate(
        math.exp(log_rr) - 1.0,
        Interval(math.exp(log_rr - z * se) - 1.0, math.exp(log_rr + z * se) - 1.0),
        confidence,
    )


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
    _check_counts(x1, n1)
    _check_counts(x2, n2)
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


def _donor_amounts(amounts: Sequence[int], n: int) -> IntArray:
    values = np.asarray(amounts, dtype=np.int64).reshape(-1)
    if values.size > n:
        raise ValueError(f"{values.size} donors but only {n} recipients")
    if values.size and int(values.min()) < 0:
        raise ValueError("gift amounts must not be negative")
    return values


def _mean_and_variance(values: IntArray, n: int) -> tuple[float, float]:
    # Sums over donors only: the n - d non-donors each contribute (0 - mean)^2, which avoids
    # materialising their zeros and the cancellation of the sum-of-squares formula.
    mean = float(values.sum(dtype=np.float64)) / n
    if n < 2:
        return mean, 0.0
    deviations = values.astype(np.float64) - mean
    squares = float(np.dot(deviations, deviations)) + (n - values.size) * mean * mean
    return mean, squares / (n - 1)


def _bootstrap_totals(
    values: IntArray, n: int, resamples: int, rng: np.random.Generator
) -> FloatArray:
    # Resampling n recipients with replacement: the number of donors drawn is
    # Binomial(n, d / n), and each donor draw is uniform over the d donors. Zeros add nothing.
    d = values.size
    if d == 0:
        return np.zeros(resamples)
    drawn = rng.binomial(n, d / n, size=resamples)
    unique, counts = np.unique(values, return_counts=True)
    totals = np.empty(resamples, dtype=np.float64)
    if unique.size * 4 <= d:
        # Few distinct amounts (the usual 5, 10, 20 gifts): draw how often each amount comes
        # up, which costs per distinct amount rather than per donor.
        pvals = counts / d
        step = max(1, _BOOTSTRAP_CHUNK // unique.size)
        for start in range(0, resamples, step):
            picked = rng.multinomial(drawn[start : start + step], pvals)
            totals[start : start + step] = picked @ unique.astype(np.float64)
        return totals
    start = 0
    while start < resamples:
        stop = start + 1
        budget = int(drawn[start])
        while stop < resamples and budget + int(drawn[stop]) <= _BOOTSTRAP_CHUNK:
            budget += int(drawn[stop])
            stop += 1
        gifts = values[rng.integers(0, d, size=budget, dtype=np.int32 if d < 2**31 else np.int64)]
        running = np.concatenate(([0], np.cumsum(gifts)))
        ends = np.cumsum(drawn[start:stop])
        totals[start:stop] = running[ends] - running[ends - drawn[start:stop]]
        start = stop
    return totals


def compare_revenue(
    amounts_a: Sequence[int],
    n_a: int,
    amounts_b: Sequence[int],
    n_b: int,
    seed: int,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> RevenueComparison:
    """Compare revenue per recipient of two arms from their donors' gift totals.

    amounts_x holds one total (minor units) per donor of the arm; the other n_x - len(amounts_x)
    recipients gave nothing. The p-value is Welch's t-test; the interval is a percentile
    bootstrap of the difference (a - b), resampling each arm separately with the given seed.
    """
    if n_a < 0 or n_b < 0 or resamples < 1:
        raise ValueError("recipient counts must be >= 0 and resamples >= 1")
    _z(confidence)
    values_a = _donor_amounts(amounts_a, n_a)
    values_b = _donor_amounts(amounts_b, n_b)
    if n_a == 0 or n_b == 0:
        mean_a = _mean_and_variance(values_a, n_a)[0] if n_a else None
        mean_b = _mean_and_variance(values_b, n_b)[0] if n_b else None
        return RevenueComparison(mean_a, mean_b, None, None, None, confidence)
    mean_a, var_a = _mean_and_variance(values_a, n_a)
    mean_b, var_b = _mean_and_variance(values_b, n_b)
    p_value: float | None = None
    if n_a >= 2 and n_b >= 2 and (var_a > 0 or var_b > 0):
        result = sps.ttest_ind_from_stats(
            mean_a, math.sqrt(var_a), n_a, mean_b, math.sqrt(var_b), n_b, equal_var=False
        )
        p_value = float(result.pvalue)
    elif n_a >= 2 and n_b >= 2:
        # Both arms constant: identical means mean no evidence, different ones are certain.
        p_value = 1.0 if mean_a == mean_b else 0.0
    rng = np.random.default_rng(seed)
    diffs = _bootstrap_totals(values_a, n_a, resamples, rng) / n_a - (
        _bootstrap_totals(values_b, n_b, resamples, rng) / n_b
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return RevenueComparison(
        mean_a, mean_b, mean_a - mean_b, Interval(float(low), float(high)), p_value, confidence
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
    _check_counts(x1, n1)
    _check_counts(x2, n2)
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
