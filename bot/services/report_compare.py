"""Compare a report's randomised arms: tests, intervals, lift, revenue and sample ratio."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain import stats
from bot.domain.cuped import CupedComparison, cuped_revenue, moments_from_totals
from bot.domain.sequential import (
    SequentialEstimate,
    adjusted_revenue_sequence,
    rate_difference_sequence,
    sequential_verdict,
)
from bot.services.report_model import (
    ALPHA,
    METRIC_LABELS,
    MIN_PER_ARM,
    RANDOMISED,
    AlwaysValid,
    ArmReport,
    Comparison,
    Rate,
    RevenueReport,
    SrmReport,
)


@dataclass(frozen=True)
class _Pending:
    metric: str
    a: ArmReport
    b: ArmReport
    rate_a: Rate
    rate_b: Rate
    test: stats.TestResult
    sequence: SequentialEstimate
    planned_rate: float


def arm_pairs(arms: tuple[ArmReport, ...]) -> list[tuple[ArmReport, ArmReport]]:
    """Return the pairs of asked arms the report tests, each once: (a, b) compares a with b.

    Specific asks against broadcast-style ones, and public replies in the community chat
    (via group_reply) against private messages: the two questions the product is for.
    """
    treated = [arm for arm in arms if arm.kind in ("specific", "broadcast")]
    pairs: list[tuple[ArmReport, ArmReport]] = [
        (a, b) for a in treated for b in treated if a.kind == "specific" and b.kind == "broadcast"
    ]
    pairs += [
        (a, b)
        for a in treated
        for b in treated
        if a.via == "group_reply" and b.via == "private" and (a, b) not in pairs
    ]
    return pairs


def _rates_to_compare(arms: tuple[ArmReport, ...]) -> list[tuple[str, ArmReport, ArmReport]]:
    treated = [arm for arm in arms if arm.kind in ("specific", "broadcast")]
    holdouts = [arm for arm in arms if arm.is_holdout]
    pairs = [
        (metric, a, b) for a, b in arm_pairs(arms) for metric in ("donation", "click", "reply")
    ]
    pairs += [("gave_in_period", a, h) for a in treated for h in holdouts]
    return pairs


def _metric_rate(metric: str, arm: ArmReport) -> Rate | None:
    if metric == "donation":
        return arm.donation_rate
    if metric == "click":
        return arm.click_rate
    if metric == "reply":
        return arm.reply_rate
    return arm.period_rate


def compare_arms(
    arms: tuple[ArmReport, ...],
    donor_totals: dict[str, list[int]],
    currency: str | None,
    *,
    seed: str,
    planned_rate: float,
    member_totals: Mapping[str, dict[int, int]] | None = None,
    prior: Mapping[str, dict[int, int]] | None = None,
) -> tuple[tuple[Comparison, ...], tuple[RevenueReport, ...]]:
    """Compare the randomised arms, adjusting every p-value shown together with Holm.

    donor_totals holds, per arm, one total in `currency` for each donor among its recipients:
    the input of the revenue-per-recipient comparison. planned_rate is the baseline donation
    rate the always-valid sequences are tuned for (every rate metric uses it: the tuning moves
    only where a sequence is tightest, never its guarantee). The always-valid p-values form a
    Holm family of their own, the fixed-horizon ones another. member_totals holds the same
    donor totals keyed by supporter, and prior each recipient's giving in the year before
    launch (non-zero only): with them revenue is also CUPED-adjusted, and its always-valid
    sequence is taken on the adjusted difference.
    """
    pending: list[_Pending] = []
    for metric, a, b in _rates_to_compare(arms):
        rate_a, rate_b = _metric_rate(metric, a), _metric_rate(metric, b)
        # A comparison with an empty arm says nothing and would only dilute the others.
        if rate_a is None or rate_b is None or not rate_a.base or not rate_b.base:
            continue
        test = stats.two_proportion_test(rate_a.count, rate_a.base, rate_b.count, rate_b.base)
        sequence = rate_difference_sequence(
            rate_a.count, rate_a.base, rate_b.count, rate_b.base, planned_rate=planned_rate
        )
        assert sequence is not None  # both bases are positive here
        pending.append(_Pending(metric, a, b, rate_a, rate_b, test, sequence, planned_rate))
    money: list[
        tuple[
            ArmReport,
            ArmReport,
            stats.RevenueComparison,
            SequentialEstimate | None,
            CupedComparison,
        ]
    ] = []
    if currency is not None:
        for a, b in arm_pairs(arms):
            if a.recipients and b.recipients:
                result = stats.compare_revenue(
                    donor_totals.get(a.name, []),
                    a.recipients,
                    donor_totals.get(b.name, []),
                    b.recipients,
                    seed=zlib.crc32(f"{seed}:{a.name}:{b.name}".encode()),
                )
                totals, before = member_totals or {}, prior or {}
                cuped = cuped_revenue(
                    moments_from_totals(
                        a.recipients, totals.get(a.name, {}), before.get(a.name, {})
                    ),
                    moments_from_totals(
                        b.recipients, totals.get(b.name, {}), before.get(b.name, {})
                    ),
                )
                sequence = (
                    adjusted_revenue_sequence(
                        cuped,
                        (len(donor_totals.get(a.name, [])), len(donor_totals.get(b.name, []))),
                        planned_rate=planned_rate,
                    )
                    if result.p_value is not None
                    else None
                )
                money.append((a, b, result, sequence, cuped))
    raw = [p.test.p_value for p in pending] + [
        r.p_value for _, _, r, _, _ in money if r.p_value is not None
    ]
    adjusted = iter(stats.holm(raw))
    raw_av = [p.sequence.p_value for p in pending] + [
        s.p_value for _, _, _, s, _ in money if s is not None
    ]
    adjusted_av = iter(stats.holm(raw_av))
    comparisons = tuple(_comparison(p, next(adjusted), next(adjusted_av)) for p in pending)
    revenue = tuple(
        _revenue(
            a,
            b,
            currency or "",
            result,
            next(adjusted) if result.p_value is not None else None,
            None if sequence is None else AlwaysValid(sequence, next(adjusted_av)),
            cuped,
        )
        for a, b, result, sequence, cuped in money
    )
    return comparisons, revenue


def _comparison(p: _Pending, p_adjusted: float, p_always_valid: float) -> Comparison:
    a, b = p.rate_a, p.rate_b
    result = stats.compare_proportions(a.count, a.base, b.count, b.base)
    label = METRIC_LABELS[p.metric]
    difference = result.difference
    enough = min(a.base, b.base) >= MIN_PER_ARM
    fixed_horizon = (
        p_adjusted < ALPHA
        and difference is not None
        and difference.interval.excludes_zero
        and enough
    )
    significant = p_always_valid < ALPHA and p.sequence.significant and enough
    return Comparison(
        metric=p.metric,
        label=label,
        arm_a=p.a.name,
        arm_b=p.b.name,
        design=RANDOMISED,
        a=a,
        b=b,
        difference=difference,
        lift=result.lift,
        test=p.test.test,
        p_value=p.test.p_value,
        p_adjusted=p_adjusted,
        chance_a_beats_b=result.chance_a_beats_b,
        significant=significant,
        verdict=sequential_verdict(
            label[:1].upper() + label[1:],
            a.count,
            a.base,
            b.count,
            b.base,
            planned_rate=p.planned_rate,
            p_value=p_always_valid,
            fixed_p_value=p_adjusted,
            alpha=ALPHA,
            names=(p.a.name, p.b.name),
            min_per_arm=MIN_PER_ARM,
        ),
        always_valid=AlwaysValid(p.sequence, p_always_valid),
        fixed_horizon_significant=fixed_horizon,
    )


def _revenue(
    a: ArmReport,
    b: ArmReport,
    currency: str,
    result: stats.RevenueComparison,
    p_adjusted: float | None,
    always_valid: AlwaysValid | None,
    cuped: CupedComparison,
) -> RevenueReport:
    enough = min(a.recipients, b.recipients) >= MIN_PER_ARM
    fixed_horizon = (
        p_adjusted is not None
        and p_adjusted < ALPHA
        and result.interval is not None
        and result.interval.excludes_zero
        and enough
    )
    significant = (
        always_valid is not None
        and always_valid.p_adjusted < ALPHA
        and always_valid.estimate.significant
        and enough
    )
    return RevenueReport(
        arm_a=a.name,
        arm_b=b.name,
        currency=currency,
        recipients_a=a.recipients,
        recipients_b=b.recipients,
        per_recipient_a=result.per_recipient_a,
        per_recipient_b=result.per_recipient_b,
        difference=result.difference,
        interval=result.interval,
        p_value=result.p_value,
        p_adjusted=p_adjusted,
        significant=significant,
        always_valid=always_valid,
        fixed_horizon_significant=fixed_horizon,
        cuped=cuped,
    )


def sample_ratio(arms: tuple[ArmReport, ...], weights: dict[str, float]) -> SrmReport | None:
    """Check the arms' assigned counts against the weights they were meant to have."""
    observed = {arm.name: arm.assigned for arm in arms}
    if sum(observed.values()) == 0:
        return None
    result = stats.sample_ratio_mismatch(
        observed, {name: weights.get(name, 0.0) for name in observed}
    )
    return SrmReport(
        observed=observed,
        expected=result.expected,
        chi2=result.chi2,
        p_value=result.p_value,
        flagged=result.flagged,
    )
