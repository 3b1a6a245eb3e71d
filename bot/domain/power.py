"""Power before launch: the smallest difference in donation rate a campaign can detect.

For arms of n_a and n_b recipients and a baseline donation rate p0, the minimum detectable
difference (MDE) d is the increase p1 = p0 + d that a two-sided test at level alpha finds with
the given power. For one planned look this is the normal approximation of Fleiss, Levin & Paik
(Statistical Methods for Rates and Proportions, 3rd ed., eq. 4.14) generalised to unequal
arms and solved for d instead of n:

    z_(1-alpha/2) sqrt(pbar qbar (1/n_a + 1/n_b)) + z_power sqrt(p1 q1/n_a + p0 q0/n_b) = d

with pbar = (n_a p1 + n_b p0) / (n_a + n_b) and q = 1 - p; with equal arms it is exactly the
inverse of `stats.required_sample_size`. The report's verdicts use the always-valid confidence
sequence (bot.domain.sequential), which at the planned end spans m(1) = 3.03 standard errors
instead of 1.96, so the MDE that matches what the report will actually call is

    (m(1) + z_power) sqrt(p1 q1 / n_a + p0 q0 / n_b) = d.

Both are given; the sequential one is the honest headline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scipy import optimize
from scipy import stats as sps

from bot.domain.sequential import multiplier

POWER = 0.8
ALPHA = 0.05
# The donation rate to plan with when neither a setting nor past campaigns give one: the middle
# of the 2-10% typical of appeals to an organisation's own supporters.
DEFAULT_BASELINE_RATE = 0.05
# A campaign that could only see the donation rate double (or more) tells nothing useful:
# real differences between asks are far smaller than that.
TOO_SMALL_RELATIVE = 1.0
# Seeing only a 50% relative change is worth running, but only big effects will show.
COARSE_RELATIVE = 0.5


@dataclass(frozen=True)
class DetectableDifference:
    """The smallest detectable increase in donation rate, per design, with its inputs."""

    baseline: float
    n_a: int
    n_b: int
    fixed_horizon: float | None  # one planned look; None when no rate up to 100% is detectable
    sequential: float | None  # under the always-valid confidence sequence

    @property
    def relative(self) -> float | None:
        """The sequential MDE relative to the baseline rate (1.0 = the rate must double)."""
        return None if self.sequential is None else self.sequential / self.baseline


def _check(baseline: float, alpha: float, power: float) -> None:
    if not 0.0 < baseline < 1.0:
        raise ValueError(f"the baseline rate must lie in (0, 1), got {baseline}")
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise ValueError("alpha and power must lie in (0, 1)")


def _solve(gap: Callable[[float], float], baseline: float) -> float | None:
    # gap(d) < 0 means d is not yet detectable; it rises with d, so the root is unique.
    top = 1.0 - baseline
    if gap(top) < 0:
        return None
    return float(optimize.brentq(gap, 1e-12, top, xtol=1e-12))


def minimum_detectable_difference(
    n_a: int,
    n_b: int,
    baseline: float,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
    sequential: bool = False,
) -> float | None:
    """Return the smallest increase over the baseline rate detected with this power.

    sequential=True gives it for the always-valid confidence sequence read at the planned end;
    otherwise for one fixed-horizon two-proportion test. None when even a rate of 100% would
    not be detected (tiny arms).
    """
    _check(baseline, alpha, power)
    if n_a < 1 or n_b < 1:
        raise ValueError("both arms need recipients")
    z_power = float(sps.norm.ppf(power))
    p0 = baseline

    def spread(d: float) -> float:
        p1 = p0 + d
        return math.sqrt(p1 * (1 - p1) / n_a + p0 * (1 - p0) / n_b)

    if sequential:
        m = multiplier(1.0, alpha)
        return _solve(lambda d: d - (m + z_power) * spread(d), baseline)
    z_alpha = float(sps.norm.ppf(1.0 - alpha / 2.0))

    def gap(d: float) -> float:
        pbar = (n_a * (p0 + d) + n_b * p0) / (n_a + n_b)
        null = math.sqrt(pbar * (1 - pbar) * (1 / n_a + 1 / n_b))
        return d - z_alpha * null - z_power * spread(d)

    return _solve(gap, baseline)


def arm_sizes(
    audience: int, weights: Mapping[str, float], arms: tuple[str, str]
) -> tuple[int, int]:
    """Return the expected recipients of two arms when the audience is split by weight."""
    total = sum(weights.values())
    if audience < 0 or total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("need a non-negative audience and weights that are not all zero")
    first, second = arms
    return (
        math.floor(audience * weights[first] / total),
        math.floor(audience * weights[second] / total),
    )


def detectable_difference(
    n_a: int, n_b: int, baseline: float, *, alpha: float = ALPHA, power: float = POWER
) -> DetectableDifference:
    """Give both MDEs (single look and always-valid) for two arms and a baseline rate."""
    fixed = minimum_detectable_difference(n_a, n_b, baseline, alpha=alpha, power=power)
    # Near a rate of 100% the unpooled variance vanishes and the normal approximation would
    # promise the always-valid test what not even one fixed look can deliver.
    sequential = (
        None
        if fixed is None
        else minimum_detectable_difference(
            n_a, n_b, baseline, alpha=alpha, power=power, sequential=True
        )
    )
    return DetectableDifference(baseline, n_a, n_b, fixed, sequential)


def power_line(d: DetectableDifference, names: tuple[str, str] = ("specific", "broadcast")) -> str:
    """Say in plain words how small a difference the campaign can detect, and if that is enough."""
    head = (
        f"Power: {d.n_a:,} {names[0]} and {d.n_b:,} {names[1]} recipients at a "
        f"{d.baseline:.1%} baseline donation rate"
    )
    if d.sequential is None or d.relative is None:
        return (
            f"{head} cannot detect any difference with {POWER:.0%} power. Too small to learn "
            "anything: far too few recipients for this comparison."
        )
    seen = (
        f"{head} can detect a difference of {100 * d.sequential:.1f} percentage points "
        f"({d.baseline:.1%} to {d.baseline + d.sequential:.1%}) with {POWER:.0%} power, "
        "by the planned end, however often the report is read"
    )
    if d.fixed_horizon is not None:
        seen += f" ({100 * d.fixed_horizon:.1f} points if read only once, at the end)"
    if d.relative >= TOO_SMALL_RELATIVE:
        return (
            f"{seen}. Too small to learn anything: only a donation rate "
            f"{1 + d.relative:.1f} times the baseline would show. Ask more people, or put "
            "them in fewer arms."
        )
    if d.relative >= COARSE_RELATIVE:
        return f"{seen}. Only a large difference (+{d.relative:.0%} relative) will show."
    return f"{seen}."
