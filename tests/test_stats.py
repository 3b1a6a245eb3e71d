"""Tests for bot.domain.stats against published reference values and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps
from scipy.stats.contingency import relative_risk

from bot.domain.stats import (
    Interval,
    chance_to_beat,
    compare_proportions,
    compare_revenue,
    holm,
    median_seconds,
    newcombe_difference,
    relative_lift,
    required_sample_size,
    sample_ratio_mismatch,
    two_proportion_test,
    verdict,
    wilson_interval,
)

# Newcombe RG. "Two-sided confidence intervals for the single proportion: comparison of seven
# methods." Statistics in Medicine 1998;17:857-872, Table I, method 3 (score, no continuity
# correction), 95%.
WILSON_TABLE_I = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]

# Newcombe RG. "Interval estimation for the difference between independent proportions:
# comparison of eleven methods." Statistics in Medicine 1998;17:873-890, Table II, method 10
# (hybrid score), 95%. Example (a) is 56/70 - 48/80 = 0.2000, not 0.1667.
NEWCOMBE_TABLE_II = [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.5714, 0.0582, 0.8062),
    (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
    (0, 10, 0, 20, 0.0000, -0.1611, 0.2775),
    (0, 10, 0, 10, 0.0000, -0.2775, 0.2775),
    (10, 10, 0, 20, 1.0000, 0.6791, 1.0000),
    (10, 10, 0, 10, 1.0000, 0.6075, 1.0000),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), WILSON_TABLE_I)
def test_wilson_matches_newcombe_table_i(x: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(x, n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(("x", "n"), [(0, 1), (3, 7), (50, 100), (999, 1000), (12, 1_000_000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_agrees_with_scipy_binomtest(x: int, n: int, confidence: float) -> None:
    expected = sps.binomtest(x, n).proportion_ci(confidence_level=confidence, method="wilson")
    interval = wilson_interval(x, n, confidence)
    assert interval.low == pytest.approx(expected.low, abs=1e-12)
    assert interval.high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_ends_and_empty_arm() -> None:
    assert wilson_interval(0, 50).low == 0.0
    assert wilson_interval(50, 50).high == 1.0
    # With no recipients every rate is still possible.
    assert wilson_interval(0, 0) == Interval(0.0, 1.0)


@pytest.mark.parametrize(("x", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_refused(x: int, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(x, n)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "diff", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombe_matches_table_ii(
    x1: int, n1: int, x2: int, n2: int, diff: float, low: float, high: float
) -> None:
    estimate = newcombe_difference(x1, n1, x2, n2)
    assert estimate is not None
    assert estimate.value == pytest.approx(diff, abs=5e-5)
    assert estimate.interval.low == pytest.approx(low, abs=5e-5)
    assert estimate.interval.high == pytest.approx(high, abs=5e-5)


def test_newcombe_is_none_for_an_empty_arm() -> None:
    assert newcombe_difference(1, 10, 0, 0) is None


def test_fisher_on_the_tea_tasting_table() -> None:
    # Fisher, The Design of Experiments (1935): the lady tasting tea, table [[3, 1], [1, 3]],
    # two-sided p = 34/70 = 0.4857. Expected counts are 2, so the exact test must be chosen.
    result = two_proportion_test(3, 4, 1, 4)
    assert result.test == "fisher-exact"
    assert result.p_value == pytest.approx(34 / 70, abs=1e-12)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(60, 500, 30, 500), (120, 1000, 95, 980)])
def test_z_test_equals_uncorrected_chi_square(x1: int, n1: int, x2: int, n2: int) -> None:
    # The pooled z-test is the square root of Pearson's chi-square without Yates' correction.
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    chi2, p_value, _, _ = sps.chi2_contingency(table, correction=False)
    result = two_proportion_test(x1, n1, x2, n2)
    assert result.test == "z-test"
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.statistic is not None
    assert result.statistic**2 == pytest.approx(chi2, rel=1e-9)


def test_z_test_by_hand() -> None:
    # 60/500 vs 30/500: pooled 0.09, se = sqrt(0.09 * 0.91 * 2 / 500), z = 0.06 / se.
    z = 0.06 / math.sqrt(0.09 * 0.91 * 2 / 500)
    result = two_proportion_test(60, 500, 30, 500)
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(0, 0, 0, 0), (0, 10, 0, 0), (0, 50, 0, 50)])
def test_degenerate_tables_give_p_one(x1: int, n1: int, x2: int, n2: int) -> None:
    assert two_proportion_test(x1, n1, x2, n2).p_value == pytest.approx(1.0)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(20, 100, 10, 100), (7, 300, 19, 310)])
def test_relative_lift_matches_scipy_relative_risk(x1: int, n1: int, x2: int, n2: int) -> None:
    # Katz et al. (1978) log interval, as implemented independently by SciPy.
    reference = relative_risk(x1, n1, x2, n2)
    ci = reference.confidence_interval(confidence_level=0.95)
    lift = relative_lift(x1, n1, x2, n2)
    assert lift is not None
    assert lift.value == pytest.approx(reference.relative_risk - 1, rel=1e-12)
    assert lift.interval.low == pytest.approx(ci.low - 1, rel=1e-9)
    assert lift.interval.high == pytest.approx(ci.high - 1, rel=1e-9)


def test_relative_lift_by_hand() -> None:
    # 20/100 vs 10/100: RR 2, se(log RR) = sqrt(1/20 - 1/100 + 1/10 - 1/100) = sqrt(0.13).
    lift = relative_lift(20, 100, 10, 100)
    assert lift is not None
    half = 1.959963984540054 * math.sqrt(0.13)
    assert lift.value == pytest.approx(1.0)
    assert lift.interval.low == pytest.approx(2 * math.exp(-half) - 1, rel=1e-12)
    assert lift.interval.high == pytest.approx(2 * math.exp(half) - 1, rel=1e-12)


def test_relative_lift_zero_cells() -> None:
    assert relative_lift(0, 100, 0, 100) is None
    assert relative_lift(0, 0, 1, 10) is None
    # Haldane's correction: (3.5/101) / (0.5/101) - 1 = 6, finite instead of infinite.
    lift = relative_lift(3, 100, 0, 100)
    assert lift is not None
    assert lift.value == pytest.approx(6.0)
    assert lift.interval.low < 6.0 < lift.interval.high


def _chance_by_quadrature(x1: int, n1: int, x2: int, n2: int) -> float:
    a = sps.beta(1 + x1, 1 + n1 - x1)
    b = sps.beta(1 + x2, 1 + n2 - x2)
    value, _ = integrate.quad(lambda p: a.pdf(p) * b.cdf(p), 0, 1, points=[x1 / max(n1, 1)])
    return float(value)


@pytest.mark.parametrize(("x", "n"), [(0, 0), (3, 10), (40, 1000), (500_000, 1_000_000)])
def test_chance_to_beat_symmetric_is_one_half(x: int, n: int) -> None:
    assert chance_to_beat(x, n, x, n) == pytest.approx(0.5, abs=1e-9)


# Each case makes a different Beta parameter the smallest, so every branch of the sum is used.
@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(3, 40, 9, 40), (12, 40, 2, 40), (37, 40, 30, 40), (30, 40, 38, 40), (0, 5, 2, 7)],
)
def test_chance_to_beat_matches_quadrature(x1: int, n1: int, x2: int, n2: int) -> None:
    assert chance_to_beat(x1, n1, x2, n2) == pytest.approx(
        _chance_by_quadrature(x1, n1, x2, n2), abs=1e-8
    )
    # Swapping arms gives the complement, since ties have probability zero.
    assert chance_to_beat(x1, n1, x2, n2) + chance_to_beat(x2, n2, x1, n1) == pytest.approx(1.0)


def test_chance_to_beat_matches_seeded_monte_carlo() -> None:
    rng = np.random.default_rng(20240501)
    draws = 2_000_000
    a = rng.beta(1 + 48, 1 + 1000 - 48, size=draws)
    b = rng.beta(1 + 35, 1 + 1000 - 35, size=draws)
    monte_carlo = float(np.mean(a > b))
    # Monte Carlo standard error is below 0.0003 here; allow four of them.
    assert chance_to_beat(48, 1000, 35, 1000) == pytest.approx(monte_carlo, abs=1.2e-3)


def test_chance_to_beat_at_a_million_recipients_matches_the_normal_approximation() -> None:
    x1, x2, n = 30_500, 30_000, 1_000_000
    # At this size each Beta(1 + x, 1 + n - x) posterior is all but normal.
    (m1, v1), (m2, v2) = (sps.beta(1 + x, 1 + n - x).stats(moments="mv") for x in (x1, x2))
    expected = float(sps.norm.cdf((m1 - m2) / math.sqrt(v1 + v2)))
    assert chance_to_beat(x1, n, x2, n) == pytest.approx(expected, abs=2e-3)


def _per_recipient(amounts: list[int], n: int) -> np.ndarray:
    return np.concatenate([np.asarray(amounts, dtype=float), np.zeros(n - len(amounts))])


@pytest.mark.parametrize(
    ("amounts_a", "n_a", "amounts_b", "n_b"),
    [
        ([500, 1000, 2500], 12, [1000], 10),
        ([700, 700, 1200, 5000, 300], 9, [100, 200, 200], 8),
        ([1, 2, 3, 4], 4, [5, 6, 7], 3),
    ],
)
def test_welch_p_equals_scipy_ttest_on_explicit_arrays(
    amounts_a: list[int], n_a: int, amounts_b: list[int], n_b: int
) -> None:
    a, b = _per_recipient(amounts_a, n_a), _per_recipient(amounts_b, n_b)
    expected = sps.ttest_ind(a, b, equal_var=False)
    result = compare_revenue(amounts_a, n_a, amounts_b, n_b, seed=1)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert result.per_recipient_a == pytest.approx(a.mean())
    assert result.per_recipient_b == pytest.approx(b.mean())
    assert result.difference == pytest.approx(a.mean() - b.mean())


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    args = ([500, 1000, 1000, 2000, 5000] * 8, 400, [1000, 2000] * 5, 380)
    first = compare_revenue(*args, seed=11)
    assert compare_revenue(*args, seed=11) == first
    assert compare_revenue(*args, seed=12).interval != first.interval


@pytest.mark.parametrize("distinct", [False, True], ids=["few-amounts", "many-amounts"])
def test_bootstrap_interval_covers_the_true_difference(distinct: bool) -> None:
    # Simulate two arms with known revenue per recipient and check the interval brackets it.
    rng = np.random.default_rng(5)
    n = 20_000
    if distinct:
        gifts_a = rng.integers(100, 10_000, size=int(rng.binomial(n, 0.06)))
        gifts_b = rng.integers(100, 10_000, size=int(rng.binomial(n, 0.03)))
        true_difference = (0.06 - 0.03) * 5049.5
    else:
        gifts_a = rng.choice([500, 1000, 2000], size=int(rng.binomial(n, 0.06)))
        gifts_b = rng.choice([500, 1000, 2000], size=int(rng.binomial(n, 0.03)))
        true_difference = (0.06 - 0.03) * 3500 / 3
    result = compare_revenue(gifts_a.tolist(), n, gifts_b.tolist(), n, seed=3)
    assert result.interval is not None
    assert result.interval.contains(true_difference)
    assert result.interval.contains(result.difference or math.nan)
    # The bootstrap width should agree with the Welch standard error to within ~10%.
    se = math.sqrt(np.var(_per_recipient(gifts_a.tolist(), n), ddof=1) / n * 2)
    width = result.interval.high - result.interval.low
    assert width == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_revenue_of_empty_or_giftless_arms() -> None:
    empty = compare_revenue([], 0, [100], 10, seed=1)
    assert empty.per_recipient_a is None
    assert empty.per_recipient_b == pytest.approx(10.0)
    assert empty.p_value is None and empty.interval is None
    nothing = compare_revenue([], 50, [], 50, seed=1)
    assert nothing.difference == 0.0
    assert nothing.p_value == 1.0
    assert nothing.interval == Interval(0.0, 0.0)


def test_revenue_refuses_more_donors_than_recipients() -> None:
    with pytest.raises(ValueError, match="donors"):
        compare_revenue([1, 2, 3], 2, [], 5, seed=1)


def test_bootstrap_over_a_million_recipients_finds_the_larger_arm() -> None:
    rng = np.random.default_rng(9)
    gifts = rng.choice([500, 1000, 2000, 5000, 10_000], size=30_000).tolist()
    result = compare_revenue(gifts, 1_000_000, gifts[:25_000], 1_000_000, seed=2)
    assert result.interval is not None and result.interval.low > 0


@pytest.mark.parametrize(
    ("observed", "flagged"),
    [({"a": 5000, "b": 5600}, True), ({"a": 5000, "b": 5050}, False)],
)
def test_sample_ratio_mismatch(observed: dict[str, int], flagged: bool) -> None:
    result = sample_ratio_mismatch(observed, {"a": 0.5, "b": 0.5})
    assert result.flagged is flagged
    expected = sps.chisquare([observed["a"], observed["b"]])
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)


def test_sample_ratio_mismatch_uneven_weights_and_empty_arm() -> None:
    assert not sample_ratio_mismatch(
        {"a": 4500, "b": 4520, "h": 1000}, {"a": 4, "b": 4, "h": 1}
    ).flagged
    broken = sample_ratio_mismatch({"a": 10, "b": 10, "h": 1}, {"a": 1, "b": 1, "h": 0})
    assert broken.flagged and broken.p_value == 0.0
    assert not sample_ratio_mismatch({"a": 0, "b": 0}, {"a": 1, "b": 1}).flagged


@pytest.mark.parametrize(
    ("raw", "adjusted"),
    [
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),
        # Holm (1979) step-down keeps adjusted values monotone and caps them at 1.
        ([0.02, 0.5, 0.01, 0.9], [0.06, 1.0, 0.04, 1.0]),
        ([], []),
    ],
)
def test_holm(raw: list[float], adjusted: list[float]) -> None:
    assert holm(raw) == pytest.approx(adjusted, abs=1e-12)


@pytest.mark.parametrize(
    ("p1", "p2", "correction", "expected"),
    [
        # JMP 13.2 documentation, "Two Sample Proportions": 0.08 vs 0.06, two-sided alpha 0.05,
        # power 0.8 gives 2554 per group.
        (0.08, 0.06, False, 2554),
        # Fleiss, Levin & Paik eq. 4.14 by hand: 685.6 -> 686; with continuity correction 725.05.
        (0.10, 0.15, False, 686),
        (0.15, 0.10, True, 726),
    ],
)
def test_required_sample_size(p1: float, p2: float, correction: bool, expected: int) -> None:
    assert required_sample_size(p1, p2, continuity_correction=correction) == expected


def test_required_sample_size_refuses_equal_rates() -> None:
    with pytest.raises(ValueError, match="equal"):
        required_sample_size(0.1, 0.1)


def test_verdict_calls_a_clear_difference_significant() -> None:
    text = verdict("Donated", 60, 500, 30, 500)
    assert "statistically significant (p < 0.001)" in text
    assert "specific asks did better" in text
    assert "12.0% (60/500)" in text and "6.0% (30/500)" in text


def test_verdict_says_too_small_with_the_needed_sample() -> None:
    text = verdict("Donated", 3, 100, 2, 100)
    assert "not statistically significant" in text
    assert "too small to conclude" in text
    extra = required_sample_size(0.03, 0.02) - 100
    assert f"About {extra:,} more recipients per arm" in text


def test_verdict_respects_the_adjusted_p_value() -> None:
    # Significant on its own, but not after Holm's adjustment: it must not be called significant.
    raw = two_proportion_test(60, 500, 38, 500).p_value
    assert raw < 0.05
    adjusted = holm([raw, 0.2, 0.4])[0]
    text = verdict("Clicked", 60, 500, 38, 500, p_value=adjusted)
    assert adjusted >= 0.05
    assert "not statistically significant" in text
    assert "; statistically significant" not in text


def test_verdict_with_few_recipients_or_none() -> None:
    assert "too few recipients" in verdict("Donated", 9, 10, 1, 10)
    assert "no recipients" in verdict("Donated", 0, 0, 1, 10)
    assert "equal so far" in verdict("Replied", 5, 100, 5, 100)


def test_compare_proportions_bundles_every_figure() -> None:
    result = compare_proportions(56, 70, 48, 80)
    assert result.rate_a == pytest.approx(0.8)
    assert result.difference is not None
    assert result.difference.interval.low == pytest.approx(0.0524, abs=5e-5)
    assert result.test.test == "z-test"
    assert 0.99 < result.chance_a_beats_b < 1.0


def test_median_seconds() -> None:
    assert median_seconds([]) is None
    assert median_seconds([30.0, 10.0, 600.0, 20.0]) == 25.0
