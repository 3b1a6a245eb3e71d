"""Commands for the community chats the bot listens to: the notice to pin, the report."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.clock import utcnow
from bot.commands.common import database_errors, fail, settings, write_report
from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.community_report import CommunityReport

community_app = typer.Typer(help="The community chats the bot listens to.")


async def _bot_username(current: Settings) -> str:
    """Ask Telegram for the bot's @username."""
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        async with Bot(current.telegram_bot_token, base_url=current.telegram_base_url) as bot:
            return f"@{bot.username}"
    except TelegramError as error:
        fail(f"TELEGRAM_BOT_TOKEN: could not ask Telegram for the bot's name ({error.message})")


@community_app.command("notice")
def notice(
    language: str = typer.Option("en", "--language", help="en or nl."),
    bot: str | None = typer.Option(
        None, "--bot", help="The bot's @username; asked from Telegram when left out."
    ),
) -> None:
    """Print a short text for staff to pin in a community chat: what the bot keeps, and why."""
    from bot.domain.i18n import text

    name = bot
    if name is None:
        current = settings()
        if not current.telegram_bot_token:
            fail("Give --bot @username, or set TELEGRAM_BOT_TOKEN so it can be asked.")
        name = asyncio.run(_bot_username(current))
    name = name if name.startswith("@") else f"@{name}"
    # Plain and unwrapped: staff copy it into Telegram as it is.
    typer.echo(html.unescape(text("community_notice", language, bot=name)))


class Format(StrEnum):
    """The community report's output formats."""

    text = "text"
    json = "json"
    html = "html"


async def render_community_report(
    sessions: async_sessionmaker[AsyncSession],
    fmt: Format,
    *,
    now: datetime,
    currency: str,
    chart: bool,
) -> tuple[str, bytes | None, CommunityReport]:
    """Build the community report at `now` in one format, with its chart when asked.

    The command and the demo both write their files from this.
    """
    from bot.community_chart import render_community_chart
    from bot.services.community_report import (
        build_community_report,
        report_html,
        report_json,
        report_lines,
    )

    report = await build_community_report(sessions, now=now, currency=currency)
    png = render_community_chart(report.sources, "Value by way in") if chart else None
    if fmt is Format.json:
        body = json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
    elif fmt is Format.html:
        body = report_html(report) + "\n"
    else:
        body = "\n".join(report_lines(report)) + "\n"
    return body, png, report


async def _community_report(
    current: Settings, fmt: Format, *, chart: bool
) -> tuple[str, bytes | None]:
    """Open the database and build the community report as it stands now."""
    from bot.storage.db import open_database

    async with open_database(current.database_url) as sessions:
        body, png, _ = await render_community_report(
            sessions, fmt, now=utcnow(), currency=current.main_currency.upper(), chart=chart
        )
    return body, png


@community_app.command("report")
def report(
    fmt: Format = typer.Option(
        Format.text, "--format", "-f", help="text, json (schema in the README) or html."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the report to this file instead of the terminal."
    ),
    chart: Path | None = typer.Option(
        None, "--chart", help="Also write the PNG chart (value by way in)."
    ),
) -> None:
    """Show what the community is worth: members, activity, concentration, value by way in."""
    current = settings()
    with database_errors():
        body, png = asyncio.run(_community_report(current, fmt, chart=chart is not None))
    write_report(body, png, out=out, chart=chart, what="community report")
