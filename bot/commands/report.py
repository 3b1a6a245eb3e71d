"""`campaign-bot report NAME`: a campaign's results as text, JSON or a web page, and a chart."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path

import typer

from bot.clock import utcnow
from bot.commands.common import database_errors, fail, settings, write_report
from bot.config import Settings

app = typer.Typer()


class Format(StrEnum):
    """The report's output formats."""

    text = "text"
    json = "json"
    html = "html"


async def render_report(
    current: Settings, name: str, fmt: Format, *, chart: bool
) -> tuple[str, bytes | None] | None:
    """Build a campaign's report and write it in one format; None if the campaign is unknown."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.domain.campaign import load_campaigns
    from bot.services.report_chat import report_chart
    from bot.services.report_format import format_text
    from bot.services.report_json import to_json
    from bot.services.report_page import format_html_page
    from bot.services.reporting import report_by_name
    from bot.storage.db import open_database

    specs = load_campaigns(current.campaigns_dir).campaigns
    async with open_database(current.database_url) as sessions:
        report = await report_by_name(
            sessions, name, now=utcnow(), specs=specs, baseline_rate=current.baseline_donation_rate
        )
    if report is None:
        return None
    png = report_chart(report) if chart or fmt is Format.html else None
    if fmt is Format.json:
        body = json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif fmt is Format.html:
        body = format_html_page(report, png)
    else:
        body = format_text(report)
    return body, png


@app.command("report")
def report(
    name: str = typer.Argument(..., help="The campaign's name (its `name:` in the YAML file)."),
    fmt: Format = typer.Option(
        Format.text,
        "--format",
        "-f",
        help="text for the terminal, json (schema in the README), or html: one "
        "self-contained page with the chart.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the report to this file instead of the terminal."
    ),
    chart: Path | None = typer.Option(
        None, "--chart", help="Also write the PNG chart (conversion per arm, gifts over time)."
    ),
) -> None:
    """Show a campaign's results: funnel per arm, posts, segments and honest statistics."""
    current = settings()
    with database_errors():
        result = asyncio.run(render_report(current, name, fmt, chart=chart is not None))
    if result is None:
        fail(
            f"No campaign called {name!r}: it is neither in the database nor in "
            f"{current.campaigns_dir}/."
        )
    body, png = result
    write_report(body, png, out=out, chart=chart, what="report")
