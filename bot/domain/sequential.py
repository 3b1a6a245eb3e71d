"""Always-valid confidence sequences for differences between two arms, however often read.

A fixed-horizon interval (estimate +- 1.96 standard errors) covers the truth 95% of the time
when it is read once, at a size fixed in advance. Read every week it is wrong far more often:
every look is another chance for noise to cross the line. A confidence sequence is a family of
intervals, one per look, that hold *all at once* with probability 1 - alpha, so staff may read
the report whenever they like and stop whenever they like.

The method is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences" (Annals of
Statistics, 2024), Theorem 2.2, the one GrowthBook uses for its sequential testing. For a
difference D whose running sum behaves like a Brownian motion at "time" s (its variance), the
normal mixture of exponential martingales, mixing the slope over N(0, rho^2), is

    M(s) = (s rho^2 + 1)^(-1/2) * exp(rho^2 W(s)^2 / (2 (s rho^2 + 1)))

and Ville's inequality gives P(M ever reaches 1/alpha) <= alpha. Solving M = 1/alpha for W
gives the two-sided boundary; divided by the number of observations t of unit variance it is
the paper's margin for a mean,

    margin(t) = sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * ln( sqrt(t rho^2 + 1) / alpha ) ),

and the interval is estimate +- sigma * margin(t) (GrowthBook: sigma = standard error times
sqrt(N) for N units so far).

Tuning. rho only moves *where* the sequence is tightest; any rho fixed before the data keeps
the guarantee. The width at a planned time t* is smallest when u = t* rho^2 + 1 solves
u - ln u = 1 - 2 ln alpha, that is u = -W_{-1}(-alpha^2 / e) with W_{-1} the lower branch of
Lambert's W. GrowthBook uses the first-order approximation u ~ 1 - 2 ln alpha +
ln(1 - 2 ln alpha) with t* = an estimated sample size; we use the exact root. With
c = u - 1 (8.21 at alpha = 0.05) the interval depends on the data only through the
standard error and the *progress* r = s / s* of the campaign towards its plan:

    half-width = standard error * m(r),
    m(r) = sqrt( 2 (c r + 1) / (c r) * ln( sqrt(c r + 1) / alpha ) )

m(1) = sqrt(u) = 3.03 at alpha = 0.05 (against 1.96 for one look), m is never below the
fixed-horizon 1.96, and m grows like sqrt(ln r) when a campaign runs far past its plan.

What "progress" means here. GrowthBook's recipients arrive one by one, so r = N / N*. Our asks
mostly go out in the first days and what accrues week by week is the outcome: gifts of people
asked long ago. The running difference in rates is then itself a sum whose variance grows as
gifts come in, so r is the variance of the difference so far over the variance planned at the
end. Both cases are one formula (see `progress`): per arm, (sent / planned)^2 times the arm's
variance of the mean, over the planned variance of the difference. The planned variance comes
from a baseline rate fixed before launch (the donation rate: a setting, or past campaigns).
Revenue per recipient is zero for everyone but donors, so its variance grows with the number
of donors: its progress is the donation rate's. A wrong baseline only moves where the
sequence is tightest (and widens it elsewhere); it never breaks the guarantee.

The always-valid p-value is min(1, 1 / M): it falls below alpha exactly when the interval
leaves zero. Like all asymptotic methods it leans on the central limit theorem, so the report
still asks for a minimum number of recipients per arm before calling anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

from bot.domain.cuped import CupedComparison
from bot.domain.stats import Estimate, Interval, newcombe_difference, two_proportion_test

ALPHA = 0.05


@dataclass(frozen=True)
class SequentialEstimate:
    """A difference with its always-valid interval and p-value at one look."""

    value: float
    interval: Interval
    confidence: float
    p_value: float  # always-valid: valid at any look, however many were taken
    progress: float  # share of the planned information reached so far (1.0 = as planned)

    @property
    def significant(self) -> bool:
        """Tell whether the sequence has left zero, so the arms differ at this confidence."""
        return self.interval.excludes_zero


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def normal_mixture_margin(t: float, rho2: float, alpha: float = ALPHA) -> float:
    """Return the two-sided normal-mixture margin for a mean of t unit-variance terms."""
    _check_alpha(alpha)
    if t <= 0 or rho2 <= 0:
        raise ValueError("t and rho^2 must be positive")
    grown = t * rho2 + 1.0
    return math.sqrt(2.0 * grown / (t * t * rho2) * math.log(math.sqrt(grown) / alpha))


def tuning_constant(alpha: float = ALPHA) -> float:
    """Return c = t* rho^2, the mixture spread that makes the sequence tightest at time t*."""
    _check_alpha(alpha)
    # u - ln u = 1 - 2 ln alpha on u > 1 is u = -W_{-1}(-alpha^2 / e).
    u = -float(special.lambertw(-alpha * alpha / math.e, k=-1).real)
    return u - 1.0


def tuned_rho2(planned: float, alpha: float = ALPHA) -> float:
    """Return the rho^2 that makes the sequence tightest after `planned` observations."""
    if planned <= 0:
        raise ValueError("the planned size must be positive")
    return tuning_constant(alpha) / planned


def multiplier(progress: float, alpha: float = ALPHA) -> float:
    """Return how many standard errors the always-valid half-width spans at this progress."""
    _check_alpha(alpha)
    if progress <= 0:
        # No information yet: every difference is still possible.
        return math.inf
    cr = tuning_constant(alpha) * progress
    return math.sqrt(2.0 * (cr + 1.0) / cr * math.log(math.sqrt(cr + 1.0) / alpha))


def always_valid_p_value(z: float, progress: float, alpha: float = ALPHA) -> float:
    """Return min(1, 1/M) for the mixture martingale M at standardised difference z."""
    if progress <= 0:
        return 1.0
    cr = tuning_constant(alpha) * progress
    log_m = cr * z * z / (2.0 * (cr + 1.0)) - 0.5 * math.log(cr + 1.0)
    return min(1.0, math.exp(-log_m))


def progress(
    variances: tuple[float, float],
    sent: tuple[int, int],
    planned: tuple[int, int],
    planned_variance: float,
) -> float:
    """Return the share of the planned information reached, from per-recipient variances.

    variances are each arm's per-recipient variance of the outcome so far, sent the recipients
    asked so far, planned the recipients each arm will have, and planned_variance the
    per-recipient variance expected at the end (p (1 - p) for a baseline rate p).
    """
    if planned_variance <= 0 or min(planned) <= 0:
        raise ValueError("the planned variance and arm sizes must be positive")
    if min(sent) < 0 or min(variances) < 0:
        raise ValueError("sizes and variances must not be negative")
    so_far = sum(
        (n / total) ** 2 * v / n for v, n, total in zip(variances, sent, planned, strict=True) if n
    )
    plan = planned_variance * (1.0 / planned[0] + 1.0 / planned[1])
    return so_far / plan


def difference_sequence(
    difference: float,
    standard_error: float,
    progress: float,
    alpha: float = ALPHA,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> SequentialEstimate:
    """Put the always-valid interval and p-value around a difference with its standard error."""
    _check_alpha(alpha)
    if standard_error < 0:
        raise ValueError("the standard error must not be negative")
    low_bound, high_bound = bounds
    if standard_error == 0:
        # No spread: either nothing happened in either arm, or every recipient in each arm
        # behaved alike. The interval collapses to the point.
        p = 1.0 if difference == 0 else 0.0
        return SequentialEstimate(
            difference, Interval(difference, difference), 1.0 - alpha, p, progress
        )
    half = standard_error * multiplier(progress, alpha)
    interval = Interval(max(low_bound, difference - half), min(high_bound, difference + half))
    p_value = always_valid_p_value(difference / standard_error, progress, alpha)
    return SequentialEstimate(difference, interval, 1.0 - alpha, p_value, progress)


def rate_difference_sequence(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    planned_rate: float,
    planned: tuple[int, int] | None = None,
    alpha: float = ALPHA,
) -> SequentialEstimate | None:
    """Give the always-valid interval of p1 - p2 (x1/n1 against x2/n2); None if an arm is empty.

    planned_rate is the rate expected at the end (the baseline donation rate, say) and planned
    the arm sizes at the end (default: the sizes so far, as when every ask has gone out).
    """
    if not 0.0 < planned_rate < 1.0:
        raise ValueError(f"the planned rate must lie in (0, 1), got {planned_rate}")
    for x, n in ((x1, n1), (x2, n2)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"need 0 <= successes <= n, got {x}/{n}")
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    v1, v2 = p1 * (1.0 - p1), p2 * (1.0 - p2)
    se = math.sqrt(v1 / n1 + v2 / n2)
    share = progress((v1, v2), (n1, n2), planned or (n1, n2), planned_rate * (1 - planned_rate))
    return difference_sequence(p1 - p2, se, share, alpha, bounds=(-1.0, 1.0))


def mean_difference_sequence(
    mean1: float,
    variance1: float,
    n1: int,
    mean2: float,
    variance2: float,
    n2: int,
    *,
    planned_variance: float,
    planned: tuple[int, int] | None = None,
    alpha: float = ALPHA,
) -> SequentialEstimate | None:
    """Give the always-valid interval of mean1 - mean2 (revenue per recipient, say).

    variance1 and variance2 are per-recipient sample variances; planned_variance the
    per-recipient variance expected at the end, for instance of last year's giving over the
    audience. None when an arm is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    se = math.sqrt(variance1 / n1 + variance2 / n2)
    share = progress((variance1, variance2), (n1, n2), planned or (n1, n2), planned_variance)
    return difference_sequence(mean1 - mean2, se, share, alpha)


def _per_recipient(amounts: Sequence[int], n: int) -> tuple[float, float]:
    # Mean and sample variance over n recipients of whom only the donors' totals are given:
    # the n - d others gave nothing, so their zeros need not be materialised.
    if len(amounts) > n or any(a < 0 for a in amounts):
        raise ValueError(f"need at most {n} non-negative donor totals")
    mean = sum(amounts) / n
    if n < 2:
        return mean, 0.0
    squares = sum((a - mean) ** 2 for a in amounts) + (n - len(amounts)) * mean * mean
    return mean, squares / (n - 1)


def revenue_difference_sequence(
    amounts_a: Sequence[int],
    n_a: int,
    amounts_b: Sequence[int],
    n_b: int,
    *,
    planned_rate: float,
    planned: tuple[int, int] | None = None,
    alpha: float = ALPHA,
) -> SequentialEstimate | None:
    """Give the always-valid interval of revenue per recipient, a - b, from donors' totals.

    amounts_x holds one total (minor units) per donor of the arm; the others gave nothing.
    Revenue's variance grows with the number of donors, so progress is the donation rate's
    (donors as successes) against planned_rate. None when an arm is empty.
    """
    if not 0.0 < planned_rate < 1.0:
        raise ValueError(f"the planned rate must lie in (0, 1), got {planned_rate}")
    if n_a <= 0 or n_b <= 0:
        return None
    mean_a, var_a = _per_recipient(amounts_a, n_a)
    mean_b, var_b = _per_recipient(amounts_b, n_b)
    rates = [len(amounts_a) / n_a, len(amounts_b) / n_b]
    share = progress(
        (rates[0] * (1 - rates[0]), rates[1] * (1 - rates[1])),
        (n_a, n_b),
        planned or (n_a, n_b),
        planned_rate * (1 - planned_rate),
    )
    se = math.sqrt(var_a / n_a + var_b / n_b)
    return difference_sequence(mean_a - mean_b, se, share, alpha)


def adjusted_revenue_sequence(
    cuped: CupedComparison,
    donors: tuple[int, int],
    *,
    planned_rate: float,
    planned: tuple[int, int] | None = None,
    alpha: float = ALPHA,
) -> SequentialEstimate:
    """Give the always-valid interval of CUPED-adjusted revenue per recipient, a - b.

    donors are each arm's number of donors: revenue's progress is the donation rate's. With
    no giving in the year before launch theta is 0 and this is the plain comparison.
    """
    if not 0.0 < planned_rate < 1.0:
        raise ValueError(f"the planned rate must lie in (0, 1), got {planned_rate}")
    n_a, n_b = cuped.n_a, cuped.n_b
    rates = (donors[0] / n_a, donors[1] / n_b)
    share = progress(
        (rates[0] * (1 - rates[0]), rates[1] * (1 - rates[1])),
        (n_a, n_b),
        planned or (n_a, n_b),
        planned_rate * (1 - planned_rate),
    )
    return difference_sequence(
        cuped.adjusted_difference, math.sqrt(cuped.adjusted_variance), share, alpha
    )


def required_sample_size_always_valid(
    p1: float, p2: float, alpha: float = ALPHA, power: float = 0.8
) -> int:
    """Return recipients per arm for the always-valid sequence to detect p1 vs p2 by its plan.

    The normal approximation (m(1) + z_power)^2 (p1 q1 + p2 q2) / (p1 - p2)^2: the sequence
    read at its planned end spans m(1) standard errors where one fixed look spans 1.96.
    """
    if not (0.0 <= p1 <= 1.0 and 0.0 <= p2 <= 1.0) or p1 == p2:
        raise ValueError("need two different rates in [0, 1]")
    if not 0.0 < power < 1.0:
        raise ValueError("power must lie in (0, 1)")
    root = multiplier(1.0, alpha) + float(special.ndtri(power))
    n = root * root * (p1 * (1 - p1) + p2 * (1 - p2)) / (p1 - p2) ** 2
    # Round away float noise before taking the ceiling.
    return max(1, math.ceil(round(n, 6)))


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def sequential_verdict(
    metric: str,
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    planned_rate: float,
    planned: tuple[int, int] | None = None,
    p_value: float | None = None,
    fixed_p_value: float | None = None,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("specific asks", "broadcast-style asks"),
    min_per_arm: int = 30,
) -> str:
    """Say in plain words whether two rates differ under repeated looks, and what one look says.

    p_value and fixed_p_value should be the Holm-adjusted always-valid and fixed-horizon
    p-values when several metrics are reported; without them the unadjusted ones are used.
    The call rests on the confidence sequence alone; the fixed-horizon test is quoted, labelled
    as such, so a reader sees when it would have claimed more than the data carry yet.
    """
    name_a, name_b = names
    empty = [name for name, n in ((name_a, n1), (name_b, n2)) if n == 0]
    if empty:
        return f"{metric}: not enough data yet ({' and '.join(empty)}: no recipients)."
    seq = rate_difference_sequence(
        x1, n1, x2, n2, planned_rate=planned_rate, planned=planned, alpha=alpha
    )
    fixed: Estimate | None = newcombe_difference(x1, n1, x2, n2, 1.0 - alpha)
    assert seq is not None and fixed is not None  # both arms are non-empty here
    p = seq.p_value if p_value is None else p_value
    fixed_p = (
        two_proportion_test(x1, n1, x2, n2).p_value if fixed_p_value is None else fixed_p_value
    )
    level = round(100 * (1.0 - alpha))
    head = (
        f"{metric}: {name_a} {x1 / n1:.1%} ({x1:,}/{n1:,}) vs {name_b} {x2 / n2:.1%} "
        f"({x2:,}/{n2:,}), {_points(seq.value)} percentage points "
        f"(always-valid {level}% CI {_points(seq.interval.low)} to {_points(seq.interval.high)})"
    )
    enough = min(n1, n2) >= min_per_arm
    if p < alpha and seq.significant and enough:
        better = name_a if seq.value > 0 else name_b
        return (
            f"{head}; significant even allowing for repeated looks ({_format_p(p)}, "
            f"always-valid): {better} did better."
        )
    if p < alpha and seq.significant:
        return f"{head}; too few recipients to conclude (fewer than {min_per_arm} in an arm)."
    if seq.significant and enough:
        # The interval is this comparison's own; the call allows for the others shown beside
        # it (Holm), so an interval clear of zero can still fall short once they count.
        return (
            f"{head}; not significant once the other comparisons shown are allowed for "
            f"({_format_p(p)}, always-valid, Holm-adjusted): the interval above, taken alone, "
            "excludes zero, but with several comparisons one such interval is expected by "
            "chance more often than 5% of the time. No conclusion yet."
        )
    if fixed_p < alpha and fixed.interval.excludes_zero and enough:
        return (
            f"{head}; not significant yet under repeated looks ({_format_p(p)}, "
            f"always-valid). A single fixed-horizon test would call it ({_format_p(fixed_p)}), "
            "but the report can be read again and again, so that is not enough: keep the "
            "campaign running before drawing a conclusion."
        )
    reason = (
        f"{head}; not significant ({_format_p(p)}, always-valid; fixed-horizon "
        f"{_format_p(fixed_p)}): no conclusion yet."
    )
    if x1 * n2 == x2 * n1:
        return f"{reason} The rates are equal so far."
    needed = max(required_sample_size_always_valid(x1 / n1, x2 / n2, alpha), min_per_arm)
    extra = needed - min(n1, n2)
    if extra > 0:
        return (
            f"{reason} About {extra:,} more recipients per arm would be needed to detect a "
            "difference this size."
        )
    # Enough recipients for a difference this size, yet no clear result: most likely the
    # true difference is smaller than the observed one.
    return f"{reason} The true difference is probably smaller than the one seen here."
