"""Write a campaign report as one self-contained web page: inline CSS, chart as a data URI."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from bot.services.report_format import (
    amounts_text,
    comparison_detail,
    family_text,
    funnel_rows,
    rate_text,
    referral_table,
    response_text,
    revenue_text,
    segment_table,
    srm_text,
    stamp,
)
from bot.services.report_model import ALPHA, MIN_PER_ARM, SCHEMA_VERSION, Comparison, Report

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --accent: #0072B2;
  --good: #0b7a3e; --warn: #a15c00; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f6f7f9; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
.meta { color: var(--muted); margin: 0; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 99px;
  background: #eef3fb; color: var(--accent); margin-left: 6px; vertical-align: middle; }
.badge.obs { background: #fff4e5; color: var(--warn); }
.badge.bad { background: #fdecea; color: var(--bad); }
.badge.good { background: #e8f5ee; color: var(--good); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right;
  vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #fafbfc; font-weight: 600; }
.scroll { overflow-x: auto; }
.verdict { margin: 8px 0; padding: 10px 14px; border-left: 4px solid var(--line);
  background: #fafbfc; }
.verdict.sig { border-color: var(--good); }
.detail { color: var(--muted); font-size: 13px; margin-top: 4px; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border-radius: 6px; }
ul.notes { margin: 0; padding-left: 20px; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; text-align: center; }
"""


def _html_table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr><td>"
        + escape(label)
        + "</td>"
        + "".join(f"<td>{escape(c)}</td>" for c in cells)
        + "</tr>"
        for label, cells in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def format_html_page(report: Report, chart_png: bytes | None) -> str:
    """Write the report as one self-contained HTML page (inline CSS, chart as a data URI)."""
    title = f"{report.title} ({report.name})"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Report: {escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{escape(report.title)}</h1>",
        f'<p class="meta"><code>{escape(report.name)}</code>, {escape(report.state)}; '
        f"launched {escape(stamp(report.launched_at))}; report at "
        f"{escape(stamp(report.generated_at))}</p></header>",
    ]
    if not report.launched:
        parts.append(
            "<section>" + "".join(f"<p>{escape(n)}</p>" for n in report.notes) + "</section>"
        )
        return _close(parts, report)
    primary = [c for c in report.comparisons if c.metric == "donation"]
    if primary:
        parts.append('<section><h2>The answer so far<span class="badge">randomised</span></h2>')
        for c in primary:
            parts.append(_verdict_html(c))
        parts.append("</section>")
    if chart_png:
        data = base64.b64encode(chart_png).decode("ascii")
        parts.append(
            f'<section><figure><img src="data:image/png;base64,{data}" alt="'
            f"{escape('Conversion per arm with 95% intervals, and cumulative gifts over time')}"
            '"></figure></section>'
        )
    parts.append('<section><h2>Funnel per arm<span class="badge">randomised</span></h2>')
    parts.append(_html_table(["", *(arm.name for arm in report.arms)], funnel_rows(report)))
    for arm in report.arms:
        if arm.failed_by_reason:
            reasons = "; ".join(f"{r}: {n:,}" for r, n in arm.failed_by_reason.items())
            parts.append(f'<p class="detail">Failed in {escape(arm.name)}: {escape(reasons)}</p>')
    parts.append("</section>")
    if report.comparisons or report.revenue:
        parts.append(
            f'<section><h2>Comparisons</h2><p class="detail">P-values are Holm-adjusted across '
            f"all {family_text(report)} shown; significant means an always-valid adjusted p "
            f"&lt; {ALPHA}, an always-valid confidence sequence that leaves out zero (it holds "
            f"however often the report is read) and at least {MIN_PER_ARM} recipients per arm. "
            "Fixed-horizon figures hold only for one look planned in advance.</p>"
        )
        for c in report.comparisons:
            if c.metric != "donation":
                parts.append(_verdict_html(c))
        for r in report.revenue:
            css = "verdict sig" if r.significant else "verdict"
            parts.append(f'<div class="{css}">{escape(revenue_text(r))}</div>')
        parts.append("</section>")
    if report.srm is not None:
        badge = (
            '<span class="badge bad">mismatch</span>'
            if report.srm.flagged
            else '<span class="badge good">ok</span>'
        )
        srm = escape(srm_text(report.srm))
        parts.append(f"<section><h2>Sample ratio{badge}</h2><p>{srm}</p></section>")
    if report.posts:
        parts.append(
            '<section><h2>Broadcast posts<span class="badge obs">observational</span></h2>'
        )
        rows = [
            (
                post.chat,
                [
                    post.state,
                    stamp(post.sent_at),
                    f"{post.reach:,}" if post.reach is not None else "unknown",
                    f"{post.clicks:,}",
                    f"{post.donors:,}",
                    rate_text(post.conversion),
                    amounts_text(post.amounts),
                ],
            )
            for post in report.posts
        ]
        parts.append(
            _html_table(
                ["Chat", "State", "Posted", "Reach", "Clicks", "Donors", "Conversion", "Amount"],
                rows,
            )
        )
        parts.append(
            '<p class="detail">Readers of a channel chose to follow it; they were not assigned at '
            "random, so these rates are not tested against the arms.</p></section>"
        )
    for dimension in ("rule", "language", "source"):
        arms, rows = segment_table(report, dimension)
        if rows:
            parts.append(f"<section><h2>By {escape(dimension)}</h2>")
            parts.append(_html_table([dimension, *arms], rows))
            parts.append('<p class="detail">Donors out of recipients, per arm.</p></section>')
    if report.referrals:
        parts.append("<section><h2>Referrals</h2>")
        parts.append(_html_table(*referral_table(report)))
        parts.append(
            '<p class="detail">Peer-to-peer credit across all campaigns: gifts by the people '
            "each supporter brought in, never added to the referrer's own giving.</p></section>"
        )
    if report.response_times:
        parts.append("<section><h2>Response times</h2><ul>")
        parts += [f"<li>{escape(response_text(r))}</li>" for r in report.response_times]
        parts.append("</ul></section>")
    if report.notes:
        parts.append('<section><h2>How to read this</h2><ul class="notes">')
        parts += [f"<li>{escape(note)}</li>" for note in report.notes]
        parts.append("</ul></section>")
    return _close(parts, report)


def _verdict_html(c: Comparison) -> str:
    badge = " sig" if c.significant else ""
    return (
        f'<div class="verdict{badge}">{escape(c.verdict)}'
        f'<div class="detail">{escape(comparison_detail(c))}</div></div>'
    )


def _close(parts: list[str], report: Report) -> str:
    parts.append(
        f"<footer>campaign-bot report, schema version {SCHEMA_VERSION}, generated "
        f"{escape(stamp(report.generated_at))}</footer></main></body></html>"
    )
    return "\n".join(parts) + "\n"
