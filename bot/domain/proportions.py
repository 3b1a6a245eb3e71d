"""Proportions: rates, Wilson and Newcombe intervals, the two-proportion test and lift."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import stats as sps

# Under this many expected successes or failures in any cell the normal approximation of the
# z-test is poor, so the exact test is used instead (the usual Cochran rule).
MIN_EXPECTED_CELL = 5.0


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


def check_counts(successes: int, n: int) -> None:
    """Refuse counts that are not 0 <= successes <= n."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")


def z_score(confidence: float) -> float:
    """Return the two-sided normal quantile for a confidence level in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def rate(successes: int, n: int) -> float | None:
    """Return successes / n, or None when there are no trials."""
    check_counts(successes, n)
    return successes / n if n else None


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Return the Wilson score interval of a proportion; (0, 1) when n is 0."""
    check_counts(successes, n)
    z = z_score(confidence)
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
    check_counts(x1, n1)
    check_counts(x2, n2)
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
    check_counts(x1, n1)
    check_counts(x2, n2)
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
    check_counts(x1, n1)
    check_counts(x2, n2)
    if n1 == 0 or n2 == 0 or (x1 == 0 and x2 == 0):
        return None
    a, m1, b, m2 = float(x1), float(n1), float(x2), float(n2)
    if x1 == 0 or x2 == 0:
        a, b = a + 0.5, b + 0.5
        m1, m2 = m1 + 1.0, m2 + 1.0
    log_rr = math.log((a / m1) / (b / m2))
    se = math.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m2)
    z = z_score(confidence)
    return Estimate(
        math.exp(log_rr) - 1.0,
        Interval(math.exp(log_rr - z * se) - 1.0, math.exp(log_rr + z * se) - 1.0),
        confidence,
    )
