"""CUPED: revenue per recipient with the noise of last year's giving taken out.

Deng, Xu, Kohavi and Walker, "Improving the sensitivity of online controlled experiments by
utilizing pre-experiment data" (WSDM 2013). Y is what a recipient gave during the campaign and
X what they gave in the year before launch (both minor units). Arms are randomised, so X has
the same mean in every arm and

    Y' = Y - theta (X - mean(X)),    theta = cov(Y, X) / var(X)

has the same expected difference between arms as Y but variance var(Y) (1 - corr(Y, X)^2).
theta is estimated once from both arms together (pooled), so both arms are shifted by the same
line. The adjusted difference is (mean Y_a - mean Y_b) - theta (mean X_a - mean X_b), with
variance var(Y'_a) / n_a + var(Y'_b) / n_b from the per-arm variances of the adjusted values.

Everything is computed from six integer sums per arm (n, sum Y, sum X, sum Y^2, sum X^2,
sum XY), which a database can total without sending a row per recipient; the centred sums are
formed in exact integer arithmetic before anything is divided, so a million recipients with
large gifts lose no precision to cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ArmMoments:
    """The integer sums of one arm from which means, variances and covariances follow."""

    n: int
    sum_y: int
    sum_x: int
    sum_yy: int
    sum_xx: int
    sum_xy: int

    def __add__(self, other: ArmMoments) -> ArmMoments:
        return ArmMoments(
            self.n + other.n,
            self.sum_y + other.sum_y,
            self.sum_x + other.sum_x,
            self.sum_yy + other.sum_yy,
            self.sum_xx + other.sum_xx,
            self.sum_xy + other.sum_xy,
        )

    def _centred(self, s_uv: int, s_u: int, s_v: int) -> float:
        # n * sum(uv) - sum(u) sum(v) is n^2 times the biased covariance, exact in integers.
        if self.n < 2:
            return 0.0
        return (self.n * s_uv - s_u * s_v) / (self.n * (self.n - 1))

    @property
    def var_y(self) -> float:
        """Sample variance of Y (n - 1 in the denominator); 0 below two recipients."""
        return self._centred(self.sum_yy, self.sum_y, self.sum_y)

    @property
    def var_x(self) -> float:
        """Sample variance of X."""
        return self._centred(self.sum_xx, self.sum_x, self.sum_x)

    @property
    def cov_xy(self) -> float:
        """Sample covariance of Y and X."""
        return self._centred(self.sum_xy, self.sum_x, self.sum_y)

    @property
    def mean_y(self) -> float:
        """Mean of Y."""
        return self.sum_y / self.n

    @property
    def mean_x(self) -> float:
        """Mean of X."""
        return self.sum_x / self.n


@dataclass(frozen=True)
class CupedComparison:
    """Revenue per recipient, plain and CUPED-adjusted, of arm a against arm b."""

    n_a: int
    n_b: int
    theta: float
    plain_a: float
    plain_b: float
    plain_variance_a: float  # per-recipient variance of Y in each arm
    plain_variance_b: float
    adjusted_a: float
    adjusted_b: float
    adjusted_variance_a: float  # per-recipient variance of Y' in each arm
    adjusted_variance_b: float

    @property
    def plain_difference(self) -> float:
        """The plain difference of revenue per recipient, a - b."""
        return self.plain_a - self.plain_b

    @property
    def plain_variance(self) -> float:
        """Variance of the plain difference."""
        return self.plain_variance_a / self.n_a + self.plain_variance_b / self.n_b

    @property
    def adjusted_difference(self) -> float:
        """The CUPED-adjusted difference of revenue per recipient, a - b."""
        return self.adjusted_a - self.adjusted_b

    @property
    def adjusted_variance(self) -> float:
        """Variance of the adjusted difference."""
        return self.adjusted_variance_a / self.n_a + self.adjusted_variance_b / self.n_b

    @property
    def variance_reduction(self) -> float:
        """Share of the plain difference's variance that the adjustment removed (0 if none)."""
        if self.plain_variance == 0:
            return 0.0
        return 1.0 - self.adjusted_variance / self.plain_variance


def arm_moments(during: Sequence[int], before: Sequence[int]) -> ArmMoments:
    """Total one arm's sums from per-recipient giving during the campaign and the year before."""
    if len(during) != len(before):
        raise ValueError(f"{len(during)} campaign totals but {len(before)} prior-year totals")
    if any(v < 0 for v in during) or any(v < 0 for v in before):
        raise ValueError("giving must not be negative")
    return ArmMoments(
        len(during),
        sum(during),
        sum(before),
        sum(y * y for y in during),
        sum(x * x for x in before),
        sum(x * y for x, y in zip(before, during, strict=True)),
    )


def moments_from_totals(n: int, during: dict[int, int], before: dict[int, int]) -> ArmMoments:
    """Total one arm of n recipients from the non-zero giving of some, keyed by supporter."""
    if len(during) > n or len(before) > n:
        raise ValueError(f"more givers than the {n} recipients")
    if any(v < 0 for v in during.values()) or any(v < 0 for v in before.values()):
        raise ValueError("giving must not be negative")
    return ArmMoments(
        n,
        sum(during.values()),
        sum(before.values()),
        sum(y * y for y in during.values()),
        sum(x * x for x in before.values()),
        sum(y * before[k] for k, y in during.items() if k in before),
    )


def cuped_theta(a: ArmMoments, b: ArmMoments) -> float:
    """Return theta = cov(Y, X) / var(X) over both arms together; 0 when X does not vary."""
    pooled = a + b
    var_x = pooled.var_x
    return pooled.cov_xy / var_x if var_x > 0 else 0.0


def cuped_revenue(a: ArmMoments, b: ArmMoments) -> CupedComparison:
    """Compare revenue per recipient of two arms, plain and adjusted for last year's giving."""
    if a.n < 1 or b.n < 1:
        raise ValueError("both arms need recipients")
    theta = cuped_theta(a, b)
    pooled_mean_x = (a.sum_x + b.sum_x) / (a.n + b.n)

    def adjusted(arm: ArmMoments) -> tuple[float, float]:
        mean = arm.mean_y - theta * (arm.mean_x - pooled_mean_x)
        # var(Y - theta X) expanded, so no per-recipient values are needed.
        variance = arm.var_y - 2.0 * theta * arm.cov_xy + theta * theta * arm.var_x
        return mean, max(0.0, variance)

    adjusted_a, adjusted_var_a = adjusted(a)
    adjusted_b, adjusted_var_b = adjusted(b)
    return CupedComparison(
        n_a=a.n,
        n_b=b.n,
        theta=theta,
        plain_a=a.mean_y,
        plain_b=b.mean_y,
        plain_variance_a=a.var_y,
        plain_variance_b=b.var_y,
        adjusted_a=adjusted_a,
        adjusted_b=adjusted_b,
        adjusted_variance_a=adjusted_var_a,
        adjusted_variance_b=adjusted_var_b,
    )
