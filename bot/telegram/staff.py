"""Staff commands in Telegram, from /campaigns to /donation; staff_guard.py decides who may."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.domain.campaign_state import CampaignStateError
from bot.domain.message_length import split_lines
from bot.domain.money import format_amount
from bot.domain.spec import Campaign
from bot.services.campaigns import (
    campaign_status,
    cancel_campaign,
    list_campaigns,
    pause_campaign,
    resume_campaign,
)
from bot.services.donations import StaffGiftInvalid, staff_gift
from bot.services.launch import launch_campaign, launch_outlook
from bot.services.preview import preview_campaign
from bot.services.report_chat import format_telegram_html, report_chart
from bot.services.reporting import build_report
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.desk import DESK_MENU
from bot.telegram.flags import FLAGS_MENU
from bot.telegram.staff_guard import AuditNote, Handler, is_staff, staff_command
from bot.telegram.staff_text import (
    campaign_line,
    launch_question,
    launch_text,
    preview_messages,
    status_text,
)
from bot.telegram.supporters import supporter_help

log = logging.getLogger(__name__)

# bot_data key: campaigns whose launch is under way, so a double press launches once.
_LAUNCHING = "campaign_bot.launching"

STAFF_MENU: list[tuple[str, str]] = [
    ("help", "What staff can do here"),
    ("campaigns", "Campaigns with state, audience, sent, replies, gifts"),
    ("preview", "NAME: audience per arm and sample messages"),
    ("launch", "NAME: start a campaign (asks to confirm)"),
    ("pause", "NAME: hold a running campaign"),
    ("resume", "NAME: continue a paused campaign"),
    ("cancel", "NAME: stop a campaign for good"),
    ("status", "NAME: progress of a campaign"),
    ("report", "NAME: results per arm, with a chart"),
    ("reload", "Re-read the campaign files"),
    ("donation", "@user|id AMOUNT CURRENCY [CAMPAIGN]: record a gift"),
    ("source", "NAME [KIND [DETAIL]]: a deep link, invite link and QR code"),
    ("sources", "Named sources with how many started or joined through each"),
    *DESK_MENU,
    *FLAGS_MENU,
]

STAFF_HELP = (
    "<b>Staff commands</b>\n"
    + "\n".join(f"/{name}: {html.escape(description)}" for name, description in STAFF_MENU)
    + "\n\nSupporters' replies appear in the staff chat; press Answer under one (or reply to "
    "it) to answer the supporter. Every staff action is written to the audit log."
)


async def send_html(message: Message, body: str) -> None:
    """Reply with HTML, split between whole lines so no part passes Telegram's length limit."""
    for part in split_lines(body.split("\n")):
        await message.reply_html(part)


def _usage(command: str, context: BotContext) -> str:
    names = context.registry.names()
    listed = ", ".join(html.escape(n) for n in names) if names else "none loaded"
    return f"Usage: /{command} NAME\nCampaigns: {listed}"


async def _campaign_arg(update: Update, context: BotContext, command: str) -> Campaign | None:
    """Return the loaded campaign named by the first argument, or reply with the usage."""
    message = update.effective_message
    name = context.args[0] if context.args else None
    campaign = context.registry.get(name) if name else None
    if campaign is None and message is not None:
        problem = f"No campaign called <b>{html.escape(name)}</b>.\n" if name else ""
        await message.reply_html(problem + _usage(command, context))
    return campaign


async def _known_name(update: Update, context: BotContext, command: str) -> str | None:
    """Return the campaign named by the first argument, loaded or launched; else reply usage."""
    message = update.effective_message
    name = context.args[0] if context.args else None
    if name is not None and context.registry.get(name) is not None:
        return name
    known = [
        row.name for row in await list_campaigns(context.sessions, context.registry.campaigns)
    ]
    if name is not None and name in known:
        return name
    if message is not None:
        problem = f"No campaign called <b>{html.escape(name)}</b>.\n" if name else ""
        listed = ", ".join(html.escape(n) for n in known) or "none loaded"
        await message.reply_html(f"{problem}Usage: /{command} NAME\nCampaigns: {listed}")
    return None


# --- commands ------------------------------------------------------------------------------


@staff_command("help")
async def staff_help(update: Update, context: BotContext) -> str | None:
    """List the staff commands."""
    if update.effective_message is not None:
        await update.effective_message.reply_html(STAFF_HELP)
    return None


async def help_command(update: Update, context: BotContext) -> None:
    """Show staff their commands and supporters theirs."""
    chat = update.effective_chat
    if is_staff(context, update.effective_user):
        await staff_help(update, context)
    elif chat is not None and chat.type == ChatType.PRIVATE:
        await supporter_help(update, context)


@staff_command("campaigns")
async def campaigns(update: Update, context: BotContext) -> str | None:
    """List every campaign with its state, audience, sends, replies and gifts."""
    message = update.effective_message
    assert message is not None
    rows = await list_campaigns(context.sessions, context.registry.campaigns)
    if not rows:
        await message.reply_html(
            f"No campaigns yet: add YAML files to {html.escape(str(context.registry.directory))} "
            "and send /reload."
        )
        return "0 campaigns"
    lines = ["<b>Campaigns</b>"] + [campaign_line(row) for row in rows]
    await send_html(message, "\n".join(lines))
    return f"{len(rows)} campaigns"


@staff_command("preview")
async def preview(update: Update, context: BotContext) -> str | None:
    """Show a campaign's audience per arm and three messages as they would be sent."""
    message = update.effective_message
    campaign = await _campaign_arg(update, context, "preview")
    if campaign is None or message is None:
        return "no campaign"
    result = await preview_campaign(
        context.sessions, campaign, now=context.now(), settings=context.settings, count=3
    )
    for part in preview_messages(result):
        await message.reply_html(part)
    return f"audience {result.audience_size}"


# The launch confirmation's buttons: the callback data each carries, beside the pattern that
# routes its press to launch_confirmed or launch_cancelled (registered in add_handlers).
LAUNCH = "launch:"
LAUNCH_PATTERN = f"^{LAUNCH}"
CANCEL_LAUNCH = "cancel-launch"
CANCEL_LAUNCH_PATTERN = f"^{CANCEL_LAUNCH}$"
# Telegram refuses callback data over 64 bytes.
CALLBACK_LIMIT = 64


@staff_command("launch")
async def launch(update: Update, context: BotContext) -> str | None:
    """Ask for confirmation before launching a campaign."""
    message = update.effective_message
    campaign = await _campaign_arg(update, context, "launch")
    if campaign is None or message is None:
        return "no campaign"
    data = LAUNCH + campaign.name
    if len(data.encode()) > CALLBACK_LIMIT:
        await message.reply_html("This campaign name is too long for a button; shorten it.")
        return "name too long"
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🚀 Launch", callback_data=data),
                InlineKeyboardButton("Cancel", callback_data=CANCEL_LAUNCH),
            ]
        ]
    )
    outlook = await launch_outlook(
        context.sessions, campaign, now=context.now(), settings=context.settings
    )
    await message.reply_html(
        launch_question(campaign.name, campaign.title, outlook), reply_markup=buttons
    )
    return "asked for confirmation"


@staff_command("launch-confirmed")
async def launch_confirmed(update: Update, context: BotContext) -> str | None:
    """Launch a campaign after a member of staff pressed the confirmation button."""
    query = update.callback_query
    assert query is not None
    name = (query.data or "").removeprefix(LAUNCH)
    context.args = [name]  # so the audit entry names the campaign
    launching: set[str] = context.application.bot_data.setdefault(_LAUNCHING, set())
    if name in launching:
        await query.answer("This launch is already under way.")
        return "already launching"
    # Marked before the first await: presses handled side by side must see the mark.
    launching.add(name)
    try:
        await query.answer()
        campaign = context.registry.get(name)
        if campaign is None:
            await query.edit_message_text(
                f"No campaign called <b>{html.escape(name)}</b> is loaded any more.",
                parse_mode=ParseMode.HTML,
            )
            return "no campaign"
        await query.edit_message_text(
            f"Launching <b>{html.escape(name)}</b>…", parse_mode=ParseMode.HTML
        )
        result = await launch_campaign(
            context.sessions, campaign, now=context.now(), settings=context.settings
        )
    except CampaignStateError as exc:
        await query.edit_message_text(
            f"Not launched: {html.escape(str(exc))}.", parse_mode=ParseMode.HTML
        )
        return f"refused: {exc}"
    finally:
        launching.discard(name)
    context.services.wake_outbox()
    summary = launch_text(result)
    await query.edit_message_text(summary, parse_mode=ParseMode.HTML)
    return summary


@staff_command("launch-cancelled")
async def launch_cancelled(update: Update, context: BotContext) -> str | None:
    """Drop a launch request."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text("Launch cancelled; nothing was sent.")
    return None


def _state_command(action: str, change: Callable[..., Awaitable[object]], done: str) -> Handler:
    """Build a handler for pause, resume and cancel."""

    async def handler(update: Update, context: BotContext) -> str | None:
        message = update.effective_message
        name = await _known_name(update, context, action)
        if name is None or message is None:
            return "no campaign"
        try:
            await change(context.sessions, name, now=context.now())
        except CampaignStateError as exc:
            await message.reply_html(f"Cannot {action} it: {html.escape(str(exc))}.")
            return f"refused: {exc}"
        if action == "resume":
            context.services.wake_outbox()
        await message.reply_html(f"<b>{html.escape(name)}</b> {done}.")
        return done

    handler.__doc__ = f"{action.capitalize()} a campaign."
    return staff_command(action)(handler)


pause = _state_command("pause", pause_campaign, "is paused; no asks go out until /resume")
resume = _state_command("resume", resume_campaign, "is running again")
cancel = _state_command("cancel", cancel_campaign, "is cancelled; its unsent asks are dropped")


@staff_command("status")
async def status(update: Update, context: BotContext) -> str | None:
    """Show a campaign's progress."""
    message = update.effective_message
    name = await _known_name(update, context, "status")
    if name is None or message is None:
        return "no campaign"
    result = await campaign_status(context.sessions, name, now=context.now())
    await send_html(message, status_text(result))
    return f"{result.state}: {result.sent} sent, {result.queued} queued"


@staff_command("report")
async def report(update: Update, context: BotContext) -> str | None:
    """Send a campaign's report as text and, once it has results, a chart."""
    message = update.effective_message
    campaign = await _campaign_arg(update, context, "report")
    if campaign is None or message is None:
        return "no campaign"
    result = await build_report(
        context.sessions,
        campaign,
        now=context.now(),
        baseline_rate=context.settings.baseline_donation_rate,
    )
    await send_html(message, format_telegram_html(result))
    if not result.launched:
        return "not launched"
    try:
        # Drawing takes a moment of CPU; keep the event loop answering meanwhile.
        png = await asyncio.to_thread(report_chart, result)
        await message.reply_photo(
            InputFile(png, filename=f"{campaign.name}.png"),
            caption=f"{campaign.name}: conversion per arm and gifts over time",
        )
    except Exception as exc:  # the text report is out already; the chart is a bonus
        log.warning("report chart for %s not sent: %s", campaign.name, exc)
        return "text only; chart failed"
    return "text and chart"


@staff_command("reload")
async def reload(update: Update, context: BotContext) -> str | None:
    """Re-read the campaign files; problems are listed and the last good versions stay."""
    message = update.effective_message
    assert message is not None
    # Validating renders every template; a thread keeps the web app and other updates answered.
    errors = await asyncio.to_thread(context.registry.reload)
    names = context.registry.names()
    lines = [
        f"Loaded {len(names)} campaign(s): " + (", ".join(html.escape(n) for n in names) or "none")
    ]
    if context.registry.answers:
        lines.append(f"Saved answers: {len(context.registry.answers)} (see /answers)")
    if errors:
        lines.append(f"\n<b>{len(errors)} problem(s)</b>; nothing from those files changed:")
        lines += [f"<code>{html.escape(str(error))}</code>" for error in errors]
        kept = context.registry.kept_after_errors()
        if kept:
            lines.append(
                "Still using the last good version of: " + ", ".join(html.escape(n) for n in kept)
            )
    await send_html(message, "\n".join(lines))
    return f"{len(names)} loaded, {len(errors)} problems"


@staff_command("donation")
async def donation(update: Update, context: BotContext) -> AuditNote:
    """Record a gift reported by staff: /donation @user|id AMOUNT CURRENCY [CAMPAIGN]."""
    message = update.effective_message
    assert message is not None
    try:
        gift = staff_gift(
            context.args or [], now=context.now(), campaigns=context.registry.campaigns
        )
    except StaffGiftInvalid as exc:
        await message.reply_html(html.escape(str(exc)))
        return AuditNote("bad arguments")
    outcome = await context.record_gift(gift)
    shown = format_amount(gift.amount_minor, gift.currency)
    if message.chat_id != context.settings.staff_chat_id:
        where = html.escape(outcome.campaign_name or "no campaign")
        await message.reply_html(f"Recorded {html.escape(shown)} ({where}).")
    # The giver by their record, never their handle: forget pseudonymises by supporter.
    who = f"supporter #{outcome.supporter_id}" if outcome.supporter_id else "an unknown giver"
    return AuditNote(
        f"{shown} from {who}: donation {outcome.donation_id}, {outcome.attribution}",
        supporter_id=outcome.supporter_id,
        campaign=outcome.campaign_name,
    )


def add_handlers(application: BotApplication) -> None:
    """Register the staff handlers; they run before the supporter handlers."""
    commands: list[tuple[str, Handler]] = [
        ("help", help_command),
        ("campaigns", campaigns),
        ("preview", preview),
        ("launch", launch),
        ("pause", pause),
        ("resume", resume),
        ("cancel", cancel),
        ("status", status),
        ("report", report),
        ("reload", reload),
        ("donation", donation),
    ]
    for name, handler in commands:
        # Slow, read-only commands run beside other updates instead of holding them up.
        application.add_handler(CommandHandler(name, handler, block=name not in _BACKGROUND))
    application.add_handler(
        CallbackQueryHandler(launch_confirmed, pattern=LAUNCH_PATTERN, block=False)
    )
    application.add_handler(CallbackQueryHandler(launch_cancelled, pattern=CANCEL_LAUNCH_PATTERN))


_BACKGROUND = frozenset({"campaigns", "preview", "status", "report"})
