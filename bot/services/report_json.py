"""Write a campaign report as JSON in the documented, versioned schema (the README)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bot.domain.cuped import CupedComparison
from bot.domain.stats import Estimate, Interval
from bot.services.report_model import (
    ALPHA,
    SCHEMA_VERSION,
    AlwaysValid,
    ArmReport,
    ArmResponse,
    Comparison,
    PostReport,
    Rate,
    Report,
    RevenueReport,
    SegmentReport,
    SrmReport,
)


def _number(value: float | None) -> float | None:
    """Give a JSON-safe float: NaN and infinities become null."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def _when(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _rate_json(rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {
        "count": rate.count,
        "base": rate.base,
        "value": _number(rate.value),
        "low": _number(rate.low),
        "high": _number(rate.high),
    }


def _estimate_json(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "value": _number(estimate.value),
        "low": _number(estimate.interval.low),
        "high": _number(estimate.interval.high),
        "confidence": estimate.confidence,
    }


def _arm_json(arm: ArmReport) -> dict[str, Any]:
    return {
        "name": arm.name,
        "kind": arm.kind,
        "via": arm.via,
        "design": "randomised",
        "weight": _number(arm.weight),
        "assigned": arm.assigned,
        "states": arm.states,
        "sent": arm.sent,
        "failed": arm.failed,
        "failed_by_reason": arm.failed_by_reason,
        "unknown": arm.unknown,
        "waiting": arm.waiting,
        "follow_ups_sent": arm.follow_ups_sent,
        "recipients": arm.recipients,
        "replied": arm.replied,
        "positive_replies": arm.positive_replies,
        "clicked": arm.clicked,
        "clicks": arm.clicks,
        "donors": arm.donors,
        "gifts": arm.gifts,
        "amounts_minor": arm.amounts,
        "average_gift_minor": {c: _number(v) for c, v in arm.average_gift_minor.items()},
        "revenue_per_recipient_minor": {
            c: _number(v) for c, v in arm.revenue_per_recipient_minor.items()
        },
        "opted_out": arm.opted_out,
        "median_seconds_to_first_gift": _number(arm.median_seconds_to_first_gift),
        "donors_in_period": arm.donors_in_period,
        "rates": {
            "donation": _rate_json(arm.donation_rate),
            "click": _rate_json(arm.click_rate),
            "reply": _rate_json(arm.reply_rate),
            "gave_in_period": _rate_json(arm.period_rate),
        },
    }


def _post_json(post: PostReport) -> dict[str, Any]:
    return {
        "id": post.id,
        "chat": post.chat,
        "design": post.design,
        "state": post.state,
        "sent_at": _when(post.sent_at),
        "reach": post.reach,
        "clicks": post.clicks,
        "donors": post.donors,
        "gifts": post.gifts,
        "amounts_minor": post.amounts,
        "conversion": _rate_json(post.conversion),
    }


def _segment_json(segment: SegmentReport) -> dict[str, Any]:
    return {
        "dimension": segment.dimension,
        "value": segment.value,
        "arm": segment.arm,
        "assigned": segment.assigned,
        "recipients": segment.recipients,
        "donors": segment.donors,
        "conversion": _rate_json(segment.conversion),
    }


def _always_valid_json(av: AlwaysValid | None) -> dict[str, Any] | None:
    if av is None:
        return None
    e = av.estimate
    return {
        "value": _number(e.value),
        "low": _number(e.interval.low),
        "high": _number(e.interval.high),
        "confidence": e.confidence,
        "p_value": _number(e.p_value),
        "p_adjusted": _number(av.p_adjusted),
        "progress": _number(e.progress),
    }


def _cuped_json(c: CupedComparison | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "theta": _number(c.theta),
        "per_recipient_minor_a": _number(c.adjusted_a),
        "per_recipient_minor_b": _number(c.adjusted_b),
        "difference_minor": _number(c.adjusted_difference),
        "variance_reduction": _number(c.variance_reduction),
    }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "metric": c.metric,
        "label": c.label,
        "arm_a": c.arm_a,
        "arm_b": c.arm_b,
        "design": c.design,
        "a": _rate_json(c.a),
        "b": _rate_json(c.b),
        "difference": _estimate_json(c.difference),
        "relative_lift": _estimate_json(c.lift),
        "test": c.test,
        "p_value": _number(c.p_value),
        "p_adjusted": _number(c.p_adjusted),
        "chance_a_beats_b": _number(c.chance_a_beats_b),
        "fixed_horizon_significant": c.fixed_horizon_significant,
        "always_valid": _always_valid_json(c.always_valid),
        "significant": c.significant,
        "verdict": c.verdict,
    }


def _interval_json(interval: Interval | None) -> dict[str, Any] | None:
    if interval is None:
        return None
    return {"low": _number(interval.low), "high": _number(interval.high)}


def _revenue_json(r: RevenueReport) -> dict[str, Any]:
    return {
        "arm_a": r.arm_a,
        "arm_b": r.arm_b,
        "design": r.design,
        "currency": r.currency,
        "recipients_a": r.recipients_a,
        "recipients_b": r.recipients_b,
        "per_recipient_minor_a": _number(r.per_recipient_a),
        "per_recipient_minor_b": _number(r.per_recipient_b),
        "difference_minor": _number(r.difference),
        "interval_minor": _interval_json(r.interval),
        "test": "welch-t",
        "p_value": _number(r.p_value),
        "p_adjusted": _number(r.p_adjusted),
        "fixed_horizon_significant": r.fixed_horizon_significant,
        "cuped": _cuped_json(r.cuped),
        "always_valid": _always_valid_json(r.always_valid),
        "significant": r.significant,
    }


def _srm_json(srm: SrmReport | None) -> dict[str, Any] | None:
    if srm is None:
        return None
    return {
        "observed": srm.observed,
        "expected": {arm: _number(v) for arm, v in srm.expected.items()},
        "chi2": _number(srm.chi2),
        "p_value": _number(srm.p_value),
        "flagged": srm.flagged,
    }


def _response_json(r: ArmResponse) -> dict[str, Any]:
    t = r.times
    return {
        "arm": r.arm,
        "messages": t.messages,
        "answered": t.answered,
        "median_seconds": _number(t.median_seconds),
        "p90_seconds": _number(t.p90_seconds),
        "waited_over_day": t.waited_over_day,
        "still_waiting": t.still_waiting,
    }


def to_json(report: Report) -> dict[str, Any]:
    """Give the report as plain JSON-ready data in the documented, versioned schema."""
    period = None
    if report.period_start is not None and report.period_end is not None:
        period = {"start": _when(report.period_start), "end": _when(report.period_end)}
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": {
            "name": report.name,
            "title": report.title,
            "state": report.state,
            "launched": report.launched,
            "launched_at": _when(report.launched_at),
            "ended_at": _when(report.ended_at),
        },
        "generated_at": _when(report.generated_at),
        "period": period,
        "main_currency": report.main_currency,
        "alpha": ALPHA,
        "baseline_donation_rate": _number(report.baseline_rate),
        "baseline_source": report.baseline_source,
        "arms": [_arm_json(arm) for arm in report.arms],
        "posts": [_post_json(post) for post in report.posts],
        "segments": [_segment_json(s) for s in report.segments],
        "comparisons": [_comparison_json(c) for c in report.comparisons],
        "revenue": [_revenue_json(r) for r in report.revenue],
        "srm": _srm_json(report.srm),
        "response_times": [_response_json(r) for r in report.response_times],
        "referrals": [
            {
                "referrer_id": r.referrer_id,
                "name": r.name,
                "starts": r.starts,
                "re_engaged": r.re_engaged,
                "donors": r.donors,
                "amounts": dict(r.amounts),
            }
            for r in report.referrals
        ],
        "notes": list(report.notes),
    }
