"""Staff's view of community value: /community (report and chart), /trust (clear flags)."""

from __future__ import annotations

import asyncio
import html

from telegram import InputFile, Update
from telegram.ext import CommandHandler

from bot.community_chart import render_community_chart
from bot.domain.flags import MEANINGS
from bot.domain.message_length import fit_lines
from bot.services.community_report import build_community_report, report_lines
from bot.services.flags import TRUST_USAGE, trust
from bot.services.supporters import SupporterNotFound
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.staff_guard import AuditNote, staff_command

FLAGS_MENU = [
    ("community", "What the community is worth, and where valuable members came from"),
    ("trust", "@user|id: clear a member's flags so campaigns reach them again"),
]


@staff_command("community")
async def community_command(update: Update, context: BotContext) -> str | None:
    """Show the community report: a short message and the value-by-source chart."""
    message = update.effective_message
    assert message is not None
    report = await build_community_report(
        context.sessions, now=context.now(), currency=context.settings.main_currency.upper()
    )
    lines = [html.escape(line) for line in report_lines(report)]
    lines[0] = f"<b>{lines[0]}</b>"
    more = "… (the rest: campaign-bot community report)"
    await message.reply_html(fit_lines(lines, more))
    png = await asyncio.to_thread(render_community_chart, report.sources, "Value by way in")
    await message.reply_photo(InputFile(png, filename="community.png"))
    return f"{len(report.sources)} ways in"


@staff_command("trust")
async def trust_command(update: Update, context: BotContext) -> str | AuditNote | None:
    """Clear a member's flags: /trust @username or /trust TELEGRAM_ID."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    if not context.args:
        await message.reply_html(html.escape(TRUST_USAGE))
        return "no member named"
    by = (user.full_name if user is not None else "") or "staff"
    try:
        supporter_id, cleared = await trust(
            context.sessions, who=context.args[0], by=by, now=context.now()
        )
    except SupporterNotFound as exc:
        await message.reply_html(f"{html.escape(str(exc))}.\n{html.escape(TRUST_USAGE)}")
        return "not found"
    if not cleared:
        await message.reply_html(f"{html.escape(context.args[0])} had no flags to clear.")
        return AuditNote("no flags", supporter_id=supporter_id)
    why = "; ".join(f"{reason} ({MEANINGS.get(reason, reason)})" for reason in cleared)
    await message.reply_html(
        f"Trusted {html.escape(context.args[0])}: cleared {html.escape(why)}. "
        "Campaigns may reach them again."
    )
    return AuditNote(f"cleared {', '.join(cleared)}", supporter_id=supporter_id)


def add_handlers(application: BotApplication) -> None:
    """Register /community and /trust."""
    application.add_handler(CommandHandler("community", community_command))
    application.add_handler(CommandHandler("trust", trust_command))
