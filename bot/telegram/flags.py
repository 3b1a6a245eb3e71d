"""Staff's /trust: clear the low-value and fake follower flags of one member."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import CommandHandler

from bot.domain.flags import MEANINGS
from bot.services.flags import TRUST_USAGE, trust
from bot.services.supporters import SupporterNotFound
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.staff_guard import AuditNote, staff_command

FLAGS_MENU = [("trust", "@user|id: clear a member's flags so campaigns reach them again")]


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
    """Register /trust."""
    application.add_handler(CommandHandler("trust", trust_command))
