"""Staff commands for named sources: /source makes the links and QR code, /sources counts them."""

from __future__ import annotations

import asyncio
import html

from telegram import InputFile, Update
from telegram.ext import CommandHandler

from bot.services.sources import (
    SourceLinks,
    SourceRefused,
    SourceTally,
    create_source,
    list_sources,
    parse_source_args,
    qr_png,
)
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.sender import TelegramSender
from bot.telegram.staff import send_html
from bot.telegram.staff_guard import staff_command


def _what(kind: str | None, detail: str | None) -> str:
    if kind is None:
        return "records joined only"
    return f"records {kind}: {detail}" if detail else f"records {kind}"


def links_caption(links: SourceLinks) -> str:
    """Describe a named source's links in plain text, for the QR code's caption."""
    lines = [
        f"{links.name} ({'already existed' if links.existed else 'created'}): "
        + _what(links.kind, links.detail),
        f"Start link (this QR code): {links.deep_link}",
    ]
    if links.invite_link is not None:
        lines.append(f"Invite link to chat {links.chat_id}: {links.invite_link}")
    else:
        lines.append("No invite link: set COMMUNITY_CHAT_IDS to one community chat for one.")
    return "\n".join(lines)


def tally_line(tally: SourceTally) -> str:
    """Return one HTML line about a named source and who came through it."""
    what = html.escape(_what(tally.kind, tally.detail))
    return (
        f"<code>{html.escape(tally.name)}</code>: {tally.starts} started, {tally.joins} joined"
        f" ({what})"
    )


@staff_command("source")
async def source(update: Update, context: BotContext) -> str | None:
    """Create a named source and send its QR code: /source NAME [KIND [DETAIL...]]."""
    message = update.effective_message
    assert message is not None
    try:
        links = await create_source(
            context.sessions,
            TelegramSender(context.bot),
            parse_source_args(context.args or []),
            community_chat_ids=context.settings.community_chat_ids,
            now=context.now(),
        )
    except SourceRefused as exc:
        await message.reply_html(f"No source made: {html.escape(str(exc), quote=False)}")
        return f"refused: {exc}"
    png = await asyncio.to_thread(qr_png, links.deep_link)
    await message.reply_photo(
        InputFile(png, filename=f"{links.name}.png"), caption=links_caption(links)
    )
    return f"{'shown' if links.existed else 'created'} {links.name}"


@staff_command("sources")
async def sources(update: Update, context: BotContext) -> str | None:
    """List the named sources with how many started the bot or joined through each."""
    message = update.effective_message
    assert message is not None
    tallies = await list_sources(context.sessions)
    if not tallies:
        await message.reply_html("No named sources yet: make one with /source NAME.")
        return "0 sources"
    await send_html(message, "\n".join(["<b>Named sources</b>", *map(tally_line, tallies)]))
    return f"{len(tallies)} sources"


def add_handlers(application: BotApplication) -> None:
    """Register the named source commands."""
    application.add_handler(CommandHandler("source", source))
    application.add_handler(CommandHandler("sources", sources))
