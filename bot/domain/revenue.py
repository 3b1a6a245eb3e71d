"""Revenue per recipient of two arms: Welch's t-test and a bootstrap of the difference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from bot.domain.proportions import Interval, z_score

# Bounds on the work done by one vectorised bootstrap step, to keep memory flat.
_BOOTSTRAP_CHUNK = 4_000_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RevenueComparison:
    """Revenue per recipient (minor units) of two arms, their difference and its test."""

    per_recipient_a: float | None
    per_recipient_b: float | None
    difference: float | None
    interval: Interval | None  # bootstrap percentile interval of the difference
    p_value: float | None  # Welch's unequal-variance t-test
    confidence: float


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
    z_score(confidence)
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
