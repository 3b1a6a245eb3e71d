"""Tests for bot.domain.sequential against hand-derived values, limits and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from bot.domain.cuped import cuped_revenue, moments_from_totals
from bot.domain.power import minimum_detectable_difference
from bot.domain.sequential import (
    adjusted_revenue_sequence,
    always_valid_p_value,
    difference_sequence,
    mean_difference_sequence,
    multiplier,
    normal_mixture_margin,
    progress,
    rate_difference_sequence,
    required_sample_size_always_valid,
    revenue_difference_sequence,
    sequential_verdict,
    tuned_rho2,
    tuning_constant,
)
from bot.domain.stats import two_proportion_test


def test_margin_matches_the_formula_worked_by_hand() -> None:
    # t = 100, rho^2 = 0.1, alpha = 0.05: t rho^2 + 1 = 11; 2 * 11 / (100^2 * 0.1) = 0.022;
    # ln(sqrt(11) / 0.05) = ln(66.33250) = 4.194680; sqrt(0.022 * 4.194680) = 0.303781.
    assert normal_mixture_margin(100, 0.1, 0.05) == pytest.approx(0.303781, abs=5e-7)


def _optimal_u(alpha: float) -> float:
    # Setting d/du of u / (u - 1) * (ln(1/alpha) + ln(u) / 2) to zero gives u - ln u = 1 - 2 ln a.
    return float(optimize.brentq(lambda u: u - math.log(u) - 1 + 2 * math.log(alpha), 1.0001, 1e3))


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.1])
def test_tuning_puts_the_narrowest_point_at_the_planned_size(alpha: float) -> None:
    planned = 5000
    rho2 = tuned_rho2(planned, alpha)
    best = optimize.minimize_scalar(
        lambda r: normal_mixture_margin(planned, r, alpha),
        bounds=(1e-7, 1e-1),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert rho2 == pytest.approx(float(best.x), rel=1e-3)
    assert tuning_constant(alpha) == pytest.approx(_optimal_u(alpha) - 1, rel=1e-9)


def test_multiplier_at_the_plan_is_the_root_of_the_tuning_equation() -> None:
    # At the planned size the half-width is sqrt(u) standard errors: 3.035 at alpha = 0.05,
    # against 1.960 for a single look.
    assert multiplier(1.0, 0.05) == pytest.approx(math.sqrt(_optimal_u(0.05)), rel=1e-9)
    assert multiplier(1.0, 0.05) == pytest.approx(3.0351, abs=1e-4)


def test_growthbook_approximate_tuning_is_almost_as_narrow() -> None:
    # GrowthBook's rho^2 = (-2 ln a + ln(-2 ln a + 1)) / N* is a first-order approximation of
    # the exact root; the minimum is flat, so the margins at N* agree to a tenth of a percent.
    alpha, planned = 0.05, 5000
    approx = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned
    exact = normal_mixture_margin(planned, tuned_rho2(planned, alpha), alpha)
    assert normal_mixture_margin(planned, approx, alpha) == pytest.approx(exact, rel=1e-3)
    assert normal_mixture_margin(planned, approx, alpha) >= exact


@pytest.mark.parametrize("r", [0.01, 0.3, 1.0, 2.0, 50.0])
def test_multiplier_is_the_paper_margin_in_units_of_standard_errors(r: float) -> None:
    # GrowthBook's form: half-width = s.e. * sqrt(N) * margin(N, rho^2 tuned for N*).
    planned = 4000
    n = r * planned
    expected = math.sqrt(n) * normal_mixture_margin(n, tuned_rho2(planned))
    assert multiplier(r) == pytest.approx(expected, rel=1e-12)


def test_multiplier_limits() -> None:
    c, log_inv_alpha = tuning_constant(0.05), -math.log(0.05)
    z = float(sps.norm.ppf(0.975))
    grid = np.logspace(-4, 8, 200)
    values = [multiplier(float(r)) for r in grid]
    # Never narrower than the single-look interval, and narrowest exactly at the plan.
    assert min(values) > z
    assert min(values) == pytest.approx(multiplier(1.0), rel=1e-3)
    # Far past the plan, m^2 -> ln(c r + 1) + 2 ln(1/alpha) (law-of-the-logarithm growth).
    r = 1e9
    assert multiplier(r) ** 2 / (math.log(c * r + 1) + 2 * log_inv_alpha) == pytest.approx(
        1.0, rel=1e-8
    )
    # Long before it, m^2 -> 2 ln(1/alpha) / (c r): almost no information, a very wide interval.
    r = 1e-9
    assert multiplier(r) ** 2 * c * r / (2 * log_inv_alpha) == pytest.approx(1.0, rel=1e-6)
    assert multiplier(0.0) == math.inf


@pytest.mark.parametrize("r", [0.2, 1.0, 7.0])
def test_p_value_crosses_alpha_exactly_where_the_interval_touches_zero(r: float) -> None:
    edge = multiplier(r, 0.05)
    assert always_valid_p_value(edge, r, 0.05) == pytest.approx(0.05, rel=1e-9)
    assert always_valid_p_value(edge * 1.01, r) < 0.05 < always_valid_p_value(edge * 0.99, r)
    assert always_valid_p_value(0.0, r) == 1.0


def test_progress_is_the_sample_share_when_recipients_arrive() -> None:
    # Constant per-recipient variance, a quarter of each arm asked so far: r = 1/4.
    assert progress((0.1, 0.1), (250, 500), (1000, 2000), 0.1) == pytest.approx(0.25)


def test_progress_is_the_variance_share_when_gifts_accrue() -> None:
    # Everyone asked; rates 2% and 3% so far against a 5% plan: r = se^2 / planned se^2.
    v1, v2, planned = 0.02 * 0.98, 0.03 * 0.97, 0.05 * 0.95
    expected = (v1 / 800 + v2 / 900) / (planned * (1 / 800 + 1 / 900))
    assert progress((v1, v2), (800, 900), (800, 900), planned) == pytest.approx(expected)


def test_rate_sequence_is_the_brownian_boundary_on_the_running_difference() -> None:
    # Gifts accrue after everyone is asked: the difference is a sum whose variance V grows.
    # Normal-mixture boundary for Brownian motion at time V with rho^2 = c / V*:
    # b(V) = sqrt(2 (V rho^2 + 1) / rho^2 * ln(sqrt(V rho^2 + 1) / alpha)).
    x1, n1, x2, n2, planned_rate = 60, 1000, 40, 1000, 0.05
    p1, p2 = x1 / n1, x2 / n2
    v = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    v_star = planned_rate * (1 - planned_rate) * (1 / n1 + 1 / n2)
    rho2 = tuning_constant(0.05) / v_star
    bound = math.sqrt(2 * (v * rho2 + 1) / rho2 * math.log(math.sqrt(v * rho2 + 1) / 0.05))
    seq = rate_difference_sequence(x1, n1, x2, n2, planned_rate=planned_rate)
    assert seq is not None
    assert seq.value == pytest.approx(0.02)
    assert seq.interval.low == pytest.approx(0.02 - bound, rel=1e-9)
    assert seq.interval.high == pytest.approx(0.02 + bound, rel=1e-9)
    assert not seq.significant  # z = 2.05: enough for one look, not for every look


def test_rate_sequence_edges() -> None:
    assert rate_difference_sequence(0, 0, 3, 10, planned_rate=0.1) is None
    nothing = rate_difference_sequence(0, 50, 0, 50, planned_rate=0.1)
    assert nothing is not None and not nothing.significant and nothing.p_value == 1.0
    wide = rate_difference_sequence(1, 5, 0, 5, planned_rate=0.1)
    assert wide is not None and wide.interval.low >= -1.0 and wide.interval.high <= 1.0
    with pytest.raises(ValueError, match="planned rate"):
        rate_difference_sequence(1, 5, 0, 5, planned_rate=0.0)
    with pytest.raises(ValueError, match="successes"):
        rate_difference_sequence(6, 5, 0, 5, planned_rate=0.1)


def test_mean_sequence_uses_the_standard_error_of_the_difference() -> None:
    seq = mean_difference_sequence(120.0, 9e4, 900, 80.0, 8e4, 1100, planned_variance=8.5e4)
    assert seq is not None
    se = math.sqrt(9e4 / 900 + 8e4 / 1100)
    share = (9e4 / 900 + 8e4 / 1100) / (8.5e4 * (1 / 900 + 1 / 1100))
    assert seq.progress == pytest.approx(share)
    assert seq.interval.high - seq.value == pytest.approx(se * multiplier(share))
    assert mean_difference_sequence(1.0, 1.0, 0, 1.0, 1.0, 5, planned_variance=1.0) is None


def test_a_random_walk_rarely_ever_leaves_the_sequence() -> None:
    # 4,000 Gaussian paths looked at after every one of 1,000 observations, tuned for 200:
    # the sequence must hold at all looks at once (at most 5% ever miss, up to simulation
    # error), while the fixed 95% interval read at every look misses far more often.
    rng = np.random.default_rng(20241)
    paths, steps, planned = 4000, 1000, 200
    sums = np.cumsum(rng.standard_normal((paths, steps)), axis=1)
    t = np.arange(1, steps + 1)
    means = sums / t
    se = 1 / np.sqrt(t)
    half = se * np.array([multiplier(float(k) / planned) for k in t])
    seq_miss = (np.abs(means) > half).any(axis=1).mean()
    fixed_miss = (np.abs(means) > 1.96 * se).any(axis=1).mean()
    assert seq_miss <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / paths)
    assert fixed_miss > 0.3
    # One path, checked through the public function, agrees with the vectorised check.
    k = 137
    one = difference_sequence(float(means[0, k - 1]), float(se[k - 1]), k / planned)
    assert one.significant == bool(abs(means[0, k - 1]) > half[k - 1])


def _fixed_but_not_sequential_campaign() -> tuple[int, int, int, int]:
    # A seeded A/B campaign of 1,000 recipients per arm (5% against 7%), read weekly; return
    # the first look that one fixed-horizon test would call but the sequence would not.
    rng = np.random.default_rng(7)
    n = 1000
    weekly = 0.6 ** np.arange(8)
    weekly /= weekly.sum()
    donors_a = np.cumsum(rng.multinomial(rng.binomial(n, 0.07), weekly))
    donors_b = np.cumsum(rng.multinomial(rng.binomial(n, 0.05), weekly))
    for a, b in zip(donors_a, donors_b, strict=True):
        seq = rate_difference_sequence(int(a), n, int(b), n, planned_rate=0.05)
        assert seq is not None
        if two_proportion_test(int(a), n, int(b), n).p_value < 0.05 and not seq.significant:
            return int(a), n, int(b), n
    raise AssertionError("the seeded campaign no longer has such a look")


def test_verdict_says_fixed_horizon_is_not_enough_under_repeated_looks() -> None:
    x1, n1, x2, n2 = _fixed_but_not_sequential_campaign()
    text = sequential_verdict("Donated", x1, n1, x2, n2, planned_rate=0.05)
    assert "not significant yet under repeated looks" in text
    assert "A single fixed-horizon test would call it" in text
    assert "keep the campaign running" in text
    assert "did better" not in text


def test_verdict_calls_a_clear_difference_even_under_repeated_looks() -> None:
    text = sequential_verdict("Donated", 120, 1000, 50, 1000, planned_rate=0.05)
    assert "significant even allowing for repeated looks (p < 0.001, always-valid)" in text
    assert "specific asks did better" in text
    assert "12.0% (120/1,000)" in text


def test_verdict_without_a_difference_or_without_recipients() -> None:
    text = sequential_verdict("Donated", 50, 1000, 52, 1000, planned_rate=0.05)
    assert "not significant" in text and "no conclusion yet" in text
    assert "fixed-horizon p = " in text
    assert "no recipients" in sequential_verdict("Donated", 0, 0, 1, 10, planned_rate=0.05)
    few = sequential_verdict("Donated", 20, 20, 0, 20, planned_rate=0.05)
    assert "too few recipients to conclude" in few


def test_verdict_respects_adjusted_p_values() -> None:
    # Clear on its own; after a Holm adjustment that lifts its p above alpha it is not called.
    clear = rate_difference_sequence(120, 1000, 50, 1000, planned_rate=0.05)
    assert clear is not None and clear.p_value < 0.05
    text = sequential_verdict(
        "Donated", 120, 1000, 50, 1000, planned_rate=0.05, p_value=0.06, fixed_p_value=0.001
    )
    assert "did better" not in text
    # The interval shown is the comparison's own and excludes zero; the text says why that is
    # not a call when other comparisons stand beside it.
    assert clear.interval.excludes_zero
    assert (
        "not significant once the other comparisons shown are allowed for "
        "(p = 0.060, always-valid, Holm-adjusted)" in text
    )
    assert "taken alone, excludes zero" in text


def test_verdict_without_a_clear_interval_quotes_the_fixed_horizon_test() -> None:
    # 66 of 1000 against 45 of 1000: one look's test calls it, the sequence does not yet.
    seq = rate_difference_sequence(66, 1000, 45, 1000, planned_rate=0.05)
    assert seq is not None and not seq.significant
    text = sequential_verdict("Donated", 66, 1000, 45, 1000, planned_rate=0.05)
    assert "A single fixed-horizon test would call it" in text
    assert "allowed for" not in text


def test_revenue_sequence_from_donor_totals() -> None:
    # 40 of 800 and 25 of 800 recipients gave; the rest gave nothing.
    rng = np.random.default_rng(3)
    amounts_a = [int(v) for v in rng.integers(500, 5000, 40)]
    amounts_b = [int(v) for v in rng.integers(500, 5000, 25)]
    full_a = np.array(amounts_a + [0] * 760, dtype=float)
    full_b = np.array(amounts_b + [0] * 775, dtype=float)
    seq = revenue_difference_sequence(amounts_a, 800, amounts_b, 800, planned_rate=0.05)
    assert seq is not None
    assert seq.value == pytest.approx(full_a.mean() - full_b.mean())
    se = math.sqrt(full_a.var(ddof=1) / 800 + full_b.var(ddof=1) / 800)
    donation = rate_difference_sequence(40, 800, 25, 800, planned_rate=0.05)
    assert donation is not None
    assert seq.progress == pytest.approx(donation.progress)
    assert seq.interval.high - seq.value == pytest.approx(se * multiplier(seq.progress))
    assert revenue_difference_sequence([], 0, [1], 3, planned_rate=0.05) is None
    with pytest.raises(ValueError, match="donor totals"):
        revenue_difference_sequence([1, 2, 3], 2, [1], 3, planned_rate=0.05)


def test_always_valid_sample_size_matches_the_sequential_mde() -> None:
    # Equal arms: the sample size and the minimum detectable difference invert each other.
    n = required_sample_size_always_valid(0.10, 0.15)
    d = minimum_detectable_difference(n, n, 0.10, sequential=True)
    d_fewer = minimum_detectable_difference(n - 1, n - 1, 0.10, sequential=True)
    assert d is not None and d_fewer is not None
    assert d <= 0.05 + 1e-9 < d_fewer
    # About (3.035 + 0.842)^2 / (1.960 + 0.842)^2 = 1.92 times the fixed-horizon 686.
    assert n / 686 == pytest.approx(((3.0351 + 0.8416) / (1.9600 + 0.8416)) ** 2, rel=0.01)


def test_verdict_says_how_many_more_recipients_are_needed() -> None:
    text = sequential_verdict("Donated", 6, 100, 3, 100, planned_rate=0.05)
    extra = required_sample_size_always_valid(0.06, 0.03) - 100
    assert f"About {extra:,} more recipients per arm would be needed" in text
    equal = sequential_verdict("Donated", 5, 100, 5, 100, planned_rate=0.05)
    assert "The rates are equal so far." in equal


def test_adjusted_revenue_sequence_without_prior_giving_is_the_plain_one() -> None:
    amounts_a, amounts_b = [1000, 2500, 400], [700]
    plain = revenue_difference_sequence(amounts_a, 50, amounts_b, 40, planned_rate=0.05)
    a = moments_from_totals(50, dict(enumerate(amounts_a)), {})
    b = moments_from_totals(40, dict(enumerate(amounts_b)), {})
    adjusted = adjusted_revenue_sequence(cuped_revenue(a, b), (3, 1), planned_rate=0.05)
    assert plain is not None
    assert adjusted.value == pytest.approx(plain.value)
    assert adjusted.interval.low == pytest.approx(plain.interval.low)
    assert adjusted.progress == pytest.approx(plain.progress)


def test_adjusted_revenue_sequence_is_narrower_when_last_year_predicts() -> None:
    # Donors this year gave about what they gave last year: theta near 1, a much tighter band.
    during = {k: 1000 + 10 * k for k in range(40)}
    before_a = {k: 1000 + 10 * k for k in range(40)}
    a = moments_from_totals(500, during, before_a)
    b = moments_from_totals(500, {k: 1000 for k in range(30)}, {k: 1000 for k in range(30)})
    c = cuped_revenue(a, b)
    adjusted = adjusted_revenue_sequence(c, (40, 30), planned_rate=0.05)
    plain = revenue_difference_sequence(
        list(during.values()), 500, [1000] * 30, 500, planned_rate=0.05
    )
    assert plain is not None and c.variance_reduction > 0.5
    assert (
        adjusted.interval.high - adjusted.interval.low < plain.interval.high - plain.interval.low
    )
