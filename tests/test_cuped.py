"""Tests for bot.domain.cuped against a hand computation and textbook definitions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from bot.domain.cuped import (
    ArmMoments,
    arm_moments,
    cuped_revenue,
    cuped_theta,
    moments_from_totals,
)

# Giving in minor units: (during the campaign, in the year before launch) per recipient.
ARM_A = [(0, 0), (1000, 500), (0, 1000), (2000, 1500)]
ARM_B = [(0, 0), (500, 500), (0, 0), (1000, 1500)]


def test_theta_and_adjusted_difference_worked_by_hand() -> None:
    # Both arms together: X = 0, 500, 1000, 1500, 0, 500, 0, 1500 (mean 625),
    # Y = 0, 1000, 0, 2000, 0, 500, 0, 1000 (mean 562.5).
    # sum (x - 625)^2 = 3 * 625^2 + 2 * 125^2 + 375^2 + 2 * 875^2 = 2,875,000;
    # sum (x - 625)(y - 562.5) = 3 * 625 * 562.5 - 125 * 437.5 - 375 * 562.5 + 875 * 1437.5
    #   + 125 * 62.5 + 875 * 437.5 = 2,437,500. theta = 2,437,500 / 2,875,000 = 39/46.
    a = arm_moments([y for y, _ in ARM_A], [x for _, x in ARM_A])
    b = arm_moments([y for y, _ in ARM_B], [x for _, x in ARM_B])
    assert cuped_theta(a, b) == pytest.approx(39 / 46, rel=1e-12)
    result = cuped_revenue(a, b)
    # Plain: 750 - 375 = 375. X means 750 and 500: adjusted = 375 - 17/19 * 250 = 151.3158.
    assert result.plain_difference == pytest.approx(375.0)
    assert result.adjusted_difference == pytest.approx(375 - 39 / 46 * 250, rel=1e-12)
    assert result.adjusted_a == pytest.approx(750 - 39 / 46 * 125, rel=1e-12)
    assert result.adjusted_b == pytest.approx(375 + 39 / 46 * 125, rel=1e-12)


def _exact_variance(values: list[Fraction]) -> Fraction:
    mean = sum(values, Fraction(0)) / len(values)
    return sum(((v - mean) ** 2 for v in values), Fraction(0)) / (len(values) - 1)


def test_variances_match_the_definitions_in_exact_arithmetic() -> None:
    a = arm_moments([y for y, _ in ARM_A], [x for _, x in ARM_A])
    b = arm_moments([y for y, _ in ARM_B], [x for _, x in ARM_B])
    result = cuped_revenue(a, b)
    theta = Fraction(39, 46)
    for arm, plain, adjusted in (
        (ARM_A, result.plain_variance_a, result.adjusted_variance_a),
        (ARM_B, result.plain_variance_b, result.adjusted_variance_b),
    ):
        ys = [Fraction(y) for y, _ in arm]
        shifted = [Fraction(y) - theta * x for y, x in arm]
        assert plain == pytest.approx(float(_exact_variance(ys)), rel=1e-12)
        assert adjusted == pytest.approx(float(_exact_variance(shifted)), rel=1e-12)
    expected = (
        float(_exact_variance([Fraction(y) for y, _ in ARM_A])) / 4
        + float(_exact_variance([Fraction(y) for y, _ in ARM_B])) / 4
    )
    assert result.plain_variance == pytest.approx(expected, rel=1e-12)


def test_adjustment_removes_the_share_of_variance_explained_by_last_year() -> None:
    # Gifts this year follow last year's with correlation about 0.8: CUPED should remove about
    # 0.8^2 = 64% of the variance, and leave the estimated difference unbiased.
    rng = np.random.default_rng(5)
    n = 20_000
    before = rng.gamma(2.0, 1500.0, size=2 * n)
    during = 0.8 * before + rng.normal(0, 0.6 * before.std(), size=2 * n) + 2000
    during[:n] += 300  # arm a's true lift, minor units per recipient
    y = np.maximum(np.round(during), 0).astype(np.int64)
    x = np.round(before).astype(np.int64)
    a = arm_moments(y[:n].tolist(), x[:n].tolist())
    b = arm_moments(y[n:].tolist(), x[n:].tolist())
    result = cuped_revenue(a, b)
    corr = np.corrcoef(y, x)[0, 1]
    assert result.variance_reduction == pytest.approx(corr**2, abs=0.02)
    assert result.adjusted_difference == pytest.approx(300, abs=4 * result.adjusted_variance**0.5)
    # The plain estimate agrees with numpy's.
    assert result.plain_difference == pytest.approx(y[:n].mean() - y[n:].mean(), rel=1e-12)
    assert result.plain_variance_a == pytest.approx(np.var(y[:n], ddof=1), rel=1e-9)


def test_integer_sums_keep_precision_at_a_million_large_gifts() -> None:
    # 10^6 recipients giving around 100,000.00 (10^7 minor units) with a spread of one unit:
    # the raw sum of squares is 10^20, where float64 would lose the variance entirely.
    n = 1_000_000
    y = [10_000_000 + (i % 2) for i in range(n)]
    moments = arm_moments(y, [0] * n)
    assert moments.var_y == pytest.approx(0.25 * n / (n - 1), rel=1e-12)


def test_no_prior_giving_leaves_the_plain_estimate() -> None:
    a = arm_moments([0, 100, 0, 300], [0, 0, 0, 0])
    b = arm_moments([0, 0, 200, 0], [0, 0, 0, 0])
    result = cuped_revenue(a, b)
    assert result.theta == 0.0
    assert result.adjusted_difference == result.plain_difference == 50.0
    assert result.variance_reduction == pytest.approx(0.0)


def test_moments_add_up_and_inputs_are_checked() -> None:
    one = ArmMoments(2, 3, 4, 5, 6, 7)
    assert one + one == ArmMoments(4, 6, 8, 10, 12, 14)
    with pytest.raises(ValueError, match="prior-year"):
        arm_moments([1, 2], [1])
    with pytest.raises(ValueError, match="negative"):
        arm_moments([-1], [0])
    with pytest.raises(ValueError, match="recipients"):
        cuped_revenue(arm_moments([], []), arm_moments([1], [1]))


def test_moments_from_sparse_totals_equal_the_full_lists() -> None:
    # Recipients 1..6; only some gave during or before: everyone else is an implied zero.
    during = {2: 1000, 5: 500}
    before = {2: 400, 3: 900}
    sparse = moments_from_totals(6, during, before)
    full = arm_moments(
        [during.get(k, 0) for k in range(1, 7)], [before.get(k, 0) for k in range(1, 7)]
    )
    assert sparse == full
    with pytest.raises(ValueError, match="recipients"):
        moments_from_totals(1, during, {})
