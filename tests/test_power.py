"""Tests for bot.domain.power against textbook sample sizes and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.domain.power import (
    arm_sizes,
    detectable_difference,
    minimum_detectable_difference,
    power_line,
)
from bot.domain.sequential import rate_difference_sequence


@pytest.mark.parametrize(
    ("baseline", "other", "n"),
    [
        # JMP 13.2 documentation, "Two Sample Proportions": 0.06 vs 0.08 needs 2554 per group.
        (0.06, 0.08, 2554),
        # Fleiss, Levin & Paik eq. 4.14 by hand: 0.10 vs 0.15 needs 685.6, so 686 per group.
        (0.10, 0.15, 686),
    ],
)
def test_mde_inverts_published_sample_sizes(baseline: float, other: float, n: int) -> None:
    # n recipients per arm detect the published difference; one fewer does not quite.
    assert minimum_detectable_difference(n, n, baseline) <= other - baseline  # type: ignore[operator]
    assert minimum_detectable_difference(n - 1, n - 1, baseline) > other - baseline  # type: ignore[operator]


def test_mde_follows_lehrs_rule_of_sixteen() -> None:
    # Lehr (1992): n per arm ~ 16 p(1 - p) / d^2 for 80% power at two-sided 5%; the rule rounds
    # 2 (1.96 + 0.84)^2 = 15.7 up, so it is a few percent generous.
    n, p = 5000, 0.05
    d = minimum_detectable_difference(n, n, p)
    assert d is not None
    mid = p + d / 2
    assert 16 * mid * (1 - mid) / d**2 == pytest.approx(n, rel=0.05)


def test_fixed_horizon_mde_has_eighty_percent_power_in_simulation() -> None:
    rng = np.random.default_rng(80)
    n, p0 = 800, 0.05
    d = minimum_detectable_difference(n, n, p0)
    assert d is not None
    trials = 20_000
    x1 = rng.binomial(n, p0 + d, trials)
    x2 = rng.binomial(n, p0, trials)
    pooled = (x1 + x2) / (2 * n)
    z = (x1 - x2) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    assert (np.abs(z) > 1.959964).mean() == pytest.approx(0.80, abs=0.015)


def test_sequential_mde_has_eighty_percent_power_at_the_planned_end() -> None:
    rng = np.random.default_rng(81)
    n_a, n_b, p0 = 1200, 900, 0.06
    d = minimum_detectable_difference(n_a, n_b, p0, sequential=True)
    assert d is not None
    trials = 4000
    hits = 0
    for x1, x2 in zip(
        rng.binomial(n_a, p0 + d, trials), rng.binomial(n_b, p0, trials), strict=True
    ):
        seq = rate_difference_sequence(int(x1), n_a, int(x2), n_b, planned_rate=p0)
        hits += seq is not None and seq.significant
    assert hits / trials == pytest.approx(0.80, abs=0.025)


def test_sequential_mde_is_wider_and_balance_helps() -> None:
    both = detectable_difference(1000, 1000, 0.05)
    assert both.fixed_horizon is not None and both.sequential is not None
    # The always-valid test spans 3.03 standard errors instead of 1.96.
    assert 1.3 < both.sequential / both.fixed_horizon < 1.7
    lopsided = minimum_detectable_difference(1800, 200, 0.05)
    assert lopsided is not None and lopsided > both.fixed_horizon
    assert math.isclose(both.relative or 0.0, both.sequential / 0.05)


def test_tiny_arms_cannot_detect_anything() -> None:
    assert minimum_detectable_difference(1, 1, 0.05) is None
    tiny = detectable_difference(1, 1, 0.05)
    assert tiny.sequential is None and tiny.relative is None
    line = power_line(tiny)
    assert "cannot detect any difference" in line and "Too small to learn anything" in line


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (150, "Too small to learn anything"),
        (1350, "Only a large difference"),
        (20000, "however often the report is read"),
    ],
)
def test_power_line_in_plain_words(n: int, words: str) -> None:
    d = detectable_difference(n, n, 0.05)
    line = power_line(d)
    assert words in line
    assert f"{n:,} specific and {n:,} broadcast recipients at a 5.0% baseline" in line
    assert f"{100 * (d.sequential or 0):.1f} percentage points" in line
    if n == 20000:
        assert "Too small" not in line and "Only a large" not in line


def test_arm_sizes_split_the_audience_by_weight() -> None:
    weights = {"specific": 45.0, "broadcast": 45.0, "holdout": 10.0}
    assert arm_sizes(1000, weights, ("specific", "broadcast")) == (450, 450)
    assert arm_sizes(999, {"a": 2.0, "b": 1.0}, ("a", "b")) == (666, 333)
    with pytest.raises(ValueError, match="weights"):
        arm_sizes(10, {"a": 0.0, "b": 0.0}, ("a", "b"))


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="baseline"):
        minimum_detectable_difference(10, 10, 0.0)
    with pytest.raises(ValueError, match="recipients"):
        minimum_detectable_difference(0, 10, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        minimum_detectable_difference(10, 10, 0.1, power=1.0)
