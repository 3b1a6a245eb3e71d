"""Commands for the community chats the bot listens to: the notice to pin there."""

from __future__ import annotations

import asyncio
import html

import typer

from bot.commands.common import fail, settings
from bot.config import Settings

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
