"""Write a campaign report as plain text, in the words every report format shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.money import format_amount
from bot.domain.stats import Estimate
from bot.services.report_compare import arm_pairs
from bot.services.report_model import (
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

DASH = "—"
SHORTENED = "…(shortened; use the CLI for the full report)"


# --- shared wording ---


def percent(value: float | None) -> str:
    """Write a share as a percentage, with more decimals for small ones."""
    if value is None:
        return DASH
    digits = 2 if 0 < abs(value) < 0.01 else 1
    return f"{100 * value:.{digits}f}%"


def rate_text(rate: Rate | None) -> str:
    """Write a rate as "2.7% (25/930, 95% CI 1.8-3.9%)"."""
    if rate is None or rate.base == 0:
        return DASH
    return (
        f"{percent(rate.value)} ({rate.count:,}/{rate.base:,}, "
        f"95% CI {percent(rate.low)}–{percent(rate.high)})"
    )


def short_rate(rate: Rate | None) -> str:
    """Write a rate with its interval only, as "2.7% (1.8–3.9%)", for table cells."""
    if rate is None or rate.base == 0:
        return DASH
    return f"{percent(rate.value)} ({percent(rate.low)}–{percent(rate.high)})"


def _money(amount: float, currency: str) -> str:
    return format_amount(round(amount), currency)


def amounts_text(amounts: dict[str, int] | dict[str, float]) -> str:
    """Write amounts per currency as "€40.00, $10.00"."""
    return ", ".join(_money(v, c) for c, v in amounts.items()) or DASH


def p_text(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def points_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return DASH
    return (
        f"{100 * estimate.value:+.1f} pts (95% CI {100 * estimate.interval.low:+.1f} to "
        f"{100 * estimate.interval.high:+.1f})"
    )


def _lift(estimate: Estimate | None) -> str:
    if estimate is None:
        return DASH
    return (
        f"{100 * estimate.value:+.0f}% (95% CI {100 * estimate.interval.low:+.0f}% to "
        f"{100 * estimate.interval.high:+.0f}%)"
    )


def duration_text(seconds: float | None) -> str:
    """Write a duration in seconds as "2d 3h", "5h 10m" or "12m"."""
    if seconds is None:
        return DASH
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def response_text(response: ArmResponse) -> str:
    """Say how fast staff answered one arm's supporters, in one line."""
    t = response.times
    line = (
        f"{response.arm}: {t.answered:,} of {t.messages:,} messages answered, median "
        f"{duration_text(t.median_seconds)}, 90th percentile {duration_text(t.p90_seconds)} "
        f"to the first staff answer; {t.waited_over_day:,} waited over 24 hours"
    )
    return line + (f"; {t.still_waiting:,} still waiting" if t.still_waiting else "")


def stamp(value: datetime | None) -> str:
    """Write a moment as "2026-03-02 09:00 UTC"."""
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else DASH


def _holdout(arm: ArmReport, value: Callable[[ArmReport], str]) -> str:
    return DASH if arm.is_holdout else value(arm)


def funnel_rows(report: Report) -> list[tuple[str, list[str]]]:
    """Give the funnel as (label, one cell per arm) rows, shared by the text and HTML."""
    arms = report.arms
    currencies = sorted({c for arm in arms for c in arm.amounts})
    rows: list[tuple[str, list[str]]] = [
        ("Kind", [arm.kind for arm in arms]),
        ("Via", [arm.via for arm in arms]),
        ("Intended share", [percent(arm.weight) for arm in arms]),
        ("Assigned", [f"{arm.assigned:,}" for arm in arms]),
        ("Sent (first ask)", [_holdout(arm, lambda a: f"{a.sent:,}") for arm in arms]),
        ("Failed", [_holdout(arm, lambda a: f"{a.failed:,}") for arm in arms]),
        ("Unknown outcome", [_holdout(arm, lambda a: f"{a.unknown:,}") for arm in arms]),
        ("Not sent yet", [_holdout(arm, lambda a: f"{a.waiting:,}") for arm in arms]),
        ("Follow-ups sent", [_holdout(arm, lambda a: f"{a.follow_ups_sent:,}") for arm in arms]),
        (
            "Replied (positive)",
            [_holdout(arm, lambda a: f"{a.replied:,} ({a.positive_replies:,})") for arm in arms],
        ),
        ("Clicked", [_holdout(arm, lambda a: f"{a.clicked:,}") for arm in arms]),
        ("Donors", [f"{arm.donors:,}" for arm in arms]),
        ("Recipients (rate base)", [f"{arm.recipients:,}" for arm in arms]),
        ("Donation rate, 95% CI", [short_rate(arm.donation_rate) for arm in arms]),
        ("Click rate", [short_rate(arm.click_rate) for arm in arms]),
        ("Reply rate", [short_rate(arm.reply_rate) for arm in arms]),
        ("Gave in period (of all)", [short_rate(arm.period_rate) for arm in arms]),
        ("Gifts", [f"{arm.gifts:,}" for arm in arms]),
    ]
    for currency in currencies:
        rows.append(
            (f"Amount {currency}", [_money(a.amounts.get(currency, 0), currency) for a in arms])
        )
        rows.append(
            (
                f"Average gift {currency}",
                [_opt_money(a.average_gift_minor.get(currency), currency) for a in arms],
            )
        )
        rows.append(
            (
                f"Revenue/recipient {currency}",
                [
                    _opt_money(a.revenue_per_recipient_minor.get(currency, 0.0), currency)
                    for a in arms
                ],
            )
        )
    rows.append(("Opted out after ask", [_holdout(a, lambda x: f"{x.opted_out:,}") for a in arms]))
    rows.append(
        (
            "Median time to 1st gift",
            [duration_text(arm.median_seconds_to_first_gift) for arm in arms],
        )
    )
    return rows


def _opt_money(amount: float | None, currency: str) -> str:
    if amount is None:
        return DASH
    # Revenue per recipient is often a fraction of a unit: keep cents of cents visible.
    if 0 < amount < 100:
        return f"{amount / 100:.4f} {currency}" if currency != "JPY" else f"{amount:.2f} JPY"
    return _money(amount, currency)


def revenue_text(r: RevenueReport) -> str:
    """Write the revenue-per-recipient comparison as one sentence."""

    def money(value: float | None) -> str:
        return DASH if value is None else _opt_money(abs(value), r.currency)

    sign = "" if r.difference is None or r.difference >= 0 else "-"
    interval = DASH
    if r.interval is not None:
        interval = (
            f"{'-' if r.interval.low < 0 else ''}{money(r.interval.low)} to "
            f"{'-' if r.interval.high < 0 else ''}{money(r.interval.high)}"
        )
    outcome = "significant" if r.significant else "not significant"
    av = r.always_valid
    sequence = ""
    if av is not None:
        low, high = av.estimate.interval.low, av.estimate.interval.high
        sequence = (
            f"; always-valid 95% CI {'-' if low < 0 else ''}{money(low)} to "
            f"{'-' if high < 0 else ''}{money(high)} (this comparison alone), p "
            f"{p_text(av.estimate.p_value)}, Holm-adjusted p {p_text(av.p_adjusted)}"
        )
    cuped = ""
    if r.cuped is not None and r.cuped.theta == 0:
        cuped = "; no recipient gave in the year before launch, so CUPED adjusts nothing"
    elif r.cuped is not None:
        c = r.cuped
        diff = c.adjusted_difference
        cuped = (
            f"; adjusted for giving in the year before launch (CUPED): {r.arm_a} "
            f"{money(c.adjusted_a)} vs {r.arm_b} {money(c.adjusted_b)}, difference "
            f"{'-' if diff < 0 else ''}{money(diff)}, {100 * c.variance_reduction:.0f}% less "
            "variance"
        )
    return (
        f"Revenue per recipient ({r.currency}): {r.arm_a} {money(r.per_recipient_a)} vs "
        f"{r.arm_b} {money(r.per_recipient_b)}, difference {sign}{money(r.difference)} "
        f"(fixed-horizon: 95% bootstrap CI {interval}; Welch p {p_text(r.p_value)}, adjusted p "
        f"{p_text(r.p_adjusted)}){cuped}{sequence}: {outcome}."
    )


def srm_text(srm: SrmReport) -> str:
    """Write the sample-ratio check as one sentence."""
    pairs = ", ".join(
        f"{arm} {count:,} (expected {srm.expected.get(arm, 0.0):,.0f})"
        for arm, count in srm.observed.items()
    )
    if srm.flagged:
        return (
            f"MISMATCH (p {p_text(srm.p_value)}): {pairs}. The arms are not the sizes their "
            "weights set, so the assignment may be broken: treat the comparisons with suspicion."
        )
    return f"OK (p {p_text(srm.p_value)}): {pairs}."


def _always_valid(av: AlwaysValid | None) -> str:
    if av is None:
        return DASH
    return f"p {p_text(av.estimate.p_value)}, Holm-adjusted p {p_text(av.p_adjusted)}"


def comparison_detail(c: Comparison) -> str:
    """Write a comparison's lift, chance to beat and tests as one sentence."""
    outcome = "significant" if c.significant else "not significant"
    return (
        f"Lift {_lift(c.lift)}; chance {c.arm_a} beats {c.arm_b} "
        f"{percent(c.chance_a_beats_b)}; fixed-horizon (one planned look) "
        f"{points_text(c.difference)}, {c.test} p {p_text(c.p_value)}, Holm-adjusted p "
        f"{p_text(c.p_adjusted)}; always-valid {_always_valid(c.always_valid)}: {outcome}."
    )


def segment_table(report: Report, dimension: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Give one segment dimension as arm headers and (value, cell per arm) rows."""
    arms = [arm.name for arm in report.arms]
    cells: dict[str | None, dict[str, SegmentReport]] = {}
    for segment in report.segments:
        if segment.dimension == dimension:
            cells.setdefault(segment.value, {})[segment.arm] = segment
    rows = []
    for value, by_arm in cells.items():
        row = []
        for arm in arms:
            s = by_arm.get(arm)
            if s is None:
                row.append(DASH)
            elif s.recipients == 0:
                row.append(f"{s.assigned:,} assigned, none sent")
            else:
                row.append(f"{s.donors:,}/{s.recipients:,} ({percent(s.conversion.value)})")
        rows.append((value if value is not None else "(none)", row))
    return arms, rows


# --- plain text ---


def _table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    widths = (
        [max(len(header[0]), *(len(label) for label, _ in rows))] if rows else [len(header[0])]
    )
    for i in range(1, len(header)):
        widths.append(max(len(header[i]), *(len(cells[i - 1]) for _, cells in rows)))
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        ).rstrip()
    ]
    for label, cells in rows:
        parts = [label.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(cells, widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return lines


def format_text(report: Report) -> str:
    """Write the whole report as plain text for a terminal."""
    out = [f"{report.title} ({report.name}): {report.state}"]
    if not report.launched:
        out += ["", *report.notes]
        return "\n".join(out) + "\n"
    ended = f", ended {stamp(report.ended_at)}" if report.ended_at else ""
    out.append(
        f"Launched {stamp(report.launched_at)}{ended}; report at {stamp(report.generated_at)}"
    )
    out += ["", "FUNNEL PER ARM (randomised)"]
    out += _table(["", *(arm.name for arm in report.arms)], funnel_rows(report))
    for arm in report.arms:
        if arm.failed_by_reason:
            reasons = "; ".join(f"{reason}: {n:,}" for reason, n in arm.failed_by_reason.items())
            out.append(f"Failed in {arm.name}: {reasons}")
    if report.posts:
        out += ["", "BROADCAST POSTS (observational: not randomised, not tested against the arms)"]
        for post in report.posts:
            out.append(_post_line(post))
    out += [
        "",
        f"COMPARISONS (randomised; verdicts always-valid, however often read; p-values "
        f"Holm-adjusted across all {family_text(report)} shown)",
    ]
    if not report.comparisons and not report.revenue:
        out.append(comparisons_missing(report))
    for c in report.comparisons:
        out += [
            f"{c.arm_a} vs {c.arm_b}, {c.label}:",
            f"  {c.verdict}",
            f"  {comparison_detail(c)}",
        ]
    for r in report.revenue:
        out.append(revenue_text(r))
    if report.srm is not None:
        out += ["", f"SAMPLE RATIO: {srm_text(report.srm)}"]
    if report.referrals:
        out += ["", "REFERRALS (peer-to-peer credit, all campaigns; never the referrer's giving)"]
        out += _table(*referral_table(report))
    if report.response_times:
        out += ["", "RESPONSE TIMES (supporter messages to the first staff answer)"]
        out += [response_text(r) for r in report.response_times]
    for dimension in ("rule", "language", "source"):
        arms, rows = segment_table(report, dimension)
        if rows:
            out += ["", f"SEGMENTS BY {dimension.upper()} (donors/recipients)"]
            out += _table([dimension, *arms], rows)
    if report.notes:
        out += ["", "HOW TO READ THIS"]
        out += [f"- {note}" for note in report.notes]
    return "\n".join(out) + "\n"


def referral_table(report: Report) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Give the referrals section as a header and rows, shared by the text and HTML."""
    header = ["Referrer", "Starts", "Re-engaged", "Donors", "Amount"]
    rows = [
        (
            r.name or f"#{r.referrer_id}",
            [f"{r.starts:,}", f"{r.re_engaged:,}", f"{r.donors:,}", amounts_text(r.amounts)],
        )
        for r in report.referrals
    ]
    return header, rows


def comparisons_missing(report: Report) -> str:
    """Say why a report shows no comparison: no pair of arms to test, or too few recipients."""
    if not arm_pairs(report.arms) and not any(arm.is_holdout for arm in report.arms):
        return (
            "Nothing to compare: the report tests specific against broadcast-style asks, "
            "public replies against private asks, and asked arms against a holdout."
        )
    return "Not enough data yet: every compared arm needs recipients."


def family_text(report: Report) -> str:
    """Say how many tests the Holm adjustment covered, as "6 tests"."""
    n = len(report.comparisons) + sum(1 for r in report.revenue if r.p_value is not None)
    return f"{n} test{'s' if n != 1 else ''}"


def _post_line(post: PostReport) -> str:
    reach = f"reach {post.reach:,}" if post.reach is not None else "reach unknown"
    return (
        f"{post.chat} ({post.state}, {stamp(post.sent_at)}): {reach}; {post.clicks:,} clicks; "
        f"{post.donors:,} donors, conversion {rate_text(post.conversion)}; "
        f"{amounts_text(post.amounts)}"
    )
