"""The campaign report as the staff chat sees it: a short Telegram message and the chart."""

from __future__ import annotations

from datetime import datetime
from html import escape

from bot.charts import ArmSeries, render_report_chart
from bot.domain.message_length import fit_lines
from bot.services.report_format import (
    DASH,
    SHORTENED,
    amounts_text,
    comparisons_missing,
    p_text,
    percent,
    points_text,
    response_text,
    revenue_text,
    srm_text,
)
from bot.services.report_model import Comparison, Report


def _b(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def format_telegram_html(report: Report) -> str:
    """Write a short report for the staff chat in Telegram HTML that fits one message."""
    lines = [f"{_b(report.title)} (<code>{escape(report.name)}</code>): {escape(report.state)}"]
    if not report.launched:
        lines += [escape(note) for note in report.notes]
        return fit_lines(lines, SHORTENED)
    for arm in report.arms:
        if arm.is_holdout:
            lines.append(
                f"{_b(arm.name)}: {arm.assigned:,} held out (never asked), "
                f"{arm.period_rate.count:,} gave in the period ({percent(arm.period_rate.value)})"
            )
            continue
        lines.append(
            f"{_b(arm.name)}: {arm.sent:,} sent, {arm.clicked:,} clicked, "
            f"{arm.replied:,} replied, {_donors(arm.donation_rate.count)} "
            f"({percent(arm.donation_rate.value)}), {escape(amounts_text(arm.amounts))}"
        )
    for post in report.posts:
        conversion = percent(post.conversion.value) if post.conversion else DASH
        reach = f"{post.reach:,}" if post.reach is not None else "unknown"
        lines.append(
            f"{_b(post.chat)} (post, observational): reach {reach}, {post.clicks:,} clicks, "
            f"{_donors(post.donors)} ({conversion}), {escape(amounts_text(post.amounts))}"
        )
    if report.comparisons:
        lines.append("")
    for c in report.comparisons:
        lines.append(escape(c.verdict) if c.metric == "donation" else escape(_short(c)))
    for r in report.revenue:
        lines.append(escape(revenue_text(r)))
    if report.srm is not None and report.srm.flagged:
        lines.append(_b("Sample ratio mismatch: ") + escape(srm_text(report.srm)))
    if not report.comparisons:
        lines.append(escape(comparisons_missing(report)))
    lines += [f"⏱ {escape(response_text(r))}" for r in report.response_times]
    return fit_lines(lines, SHORTENED)


def _donors(n: int) -> str:
    return "1 donor" if n == 1 else f"{n:,} donors"


def _short(c: Comparison) -> str:
    outcome = "significant" if c.significant else "not significant"
    p_adjusted = c.always_valid.p_adjusted if c.always_valid is not None else c.p_adjusted
    return (
        f"{c.label.capitalize()}: {c.arm_a} {percent(c.a.value)} vs {c.arm_b} "
        f"{percent(c.b.value)}, {points_text(c.difference)} for one look; always-valid "
        f"Holm-adjusted p {p_text(p_adjusted)}, {outcome}."
    )


# --- the chart ---


def chart_series(report: Report) -> list[ArmSeries]:
    """Turn the report's arms and posts into the chart's input."""
    currency = report.main_currency or ""
    times: dict[str, list[datetime]] = {}
    amounts: dict[str, list[int]] = {}
    for point in report.timeline:
        times.setdefault(point.source, []).append(point.donated_at)
        amounts.setdefault(point.source, []).append(point.amount_minor)
    series = []
    for arm in report.arms:
        rate = arm.period_rate if arm.is_holdout else arm.donation_rate
        clicks = arm.click_rate.count if arm.click_rate is not None else 0
        series.append(
            ArmSeries(
                name=arm.name,
                recipients=rate.base,
                donors=rate.count,
                clickers=clicks,
                currency=currency,
                gift_times=times.get(arm.name, []),
                gift_amounts=amounts.get(arm.name, []),
            )
        )
    for post in report.posts:
        reach = post.conversion.base if post.conversion is not None else 0
        key = f"post:{post.id}"
        series.append(
            ArmSeries(
                name=f"post {post.chat}",
                recipients=reach,
                donors=post.conversion.count if post.conversion is not None else 0,
                # Post clicks are taps, not distinct people; capped so the share stays a share.
                clickers=min(post.clicks, reach),
                currency=currency,
                gift_times=times.get(key, []),
                gift_amounts=amounts.get(key, []),
            )
        )
    return series


def report_chart(report: Report) -> bytes:
    """Render the report's PNG chart: conversion per arm and cumulative gifts."""
    return render_report_chart(
        chart_series(report), f"{report.title}: results so far", currency=report.main_currency
    )
