"""Build the python-telegram-bot Application: include every handler module, publish the menus."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Update,
)
from telegram.error import Forbidden, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes

from bot.config import Settings, use_timedelta_durations
from bot.domain.i18n import DEFAULT_LANGUAGE, LANGUAGES, command_descriptions
from bot.services import conversation
from bot.telegram import community, desk, flags, payments, relay, sources, staff, supporters
from bot.telegram.context import SERVICES, BotApplication, BotContext, BotServices

log = logging.getLogger(__name__)

# Every kind of update, asked for by name in polling and webhook mode alike: Telegram's default
# leaves out chat_member, message_reaction and message_reaction_count, which community
# listening needs (and an empty list would keep whatever an earlier deployment asked for).
ALLOWED_UPDATES: list[str] = list(Update.ALL_TYPES)
# How often a handler's request is tried again after Telegram's "retry after" (429).
HANDLER_RETRIES = 3


def build_application(services: BotServices, *, polling: bool = True) -> BotApplication:
    """Build the Application with every handler; polling=False leaves out the updater."""
    use_timedelta_durations()
    settings = services.settings
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .context_types(ContextTypes(context=BotContext))
        .job_queue(None)
        .rate_limiter(
            # Handlers answer at once (a greeting, an opt-out confirmation, a relay): in a
            # burst Telegram answers 429, and without a retry that answer was simply lost
            # (the demo lost an opt-out confirmation so). Only the retry is wanted: asks keep
            # their own pacing in the outbox, and pacing here by group would hold every relay
            # to the staff chat (itself a group) at 20 a minute.
            AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=HANDLER_RETRIES)
        )
    )
    if not polling:
        builder = builder.updater(None)
    application: BotApplication = builder.build()
    application.bot_data[SERVICES] = services
    staff.add_handlers(application)
    sources.add_handlers(application)
    desk.add_handlers(application)
    flags.add_handlers(application)
    relay.add_handlers(application)
    supporters.add_handlers(application)
    payments.add_handlers(application)
    community.add_handlers(application)
    application.add_error_handler(_log_error)
    return application


async def _log_error(update: object, context: BotContext) -> None:
    """Log a handler failure and keep running; a supporter who blocked us is marked blocked."""
    user = update.effective_user if isinstance(update, Update) else None
    if isinstance(context.error, Forbidden) and user is not None:
        # They blocked the bot between writing and our answer: not a bug, just a fact.
        log.info("user %s blocked the bot: %s", user.id, context.error.message)
        await conversation.set_blocked(
            context.sessions, telegram_user_id=user.id, blocked=True, now=context.now()
        )
        return
    log.error("handler failed for update %s", update, exc_info=context.error)


def staff_commands() -> list[BotCommand]:
    """Return the staff command menu."""
    return [BotCommand(name, description) for name, description in staff.STAFF_MENU]


async def register_commands(bot: Bot, settings: Settings) -> None:
    """Publish the command menus: supporters' by default and per language, staff's per chat."""
    for language in LANGUAGES:
        commands = [BotCommand(c, d) for c, d in command_descriptions(language)]
        code = None if language == DEFAULT_LANGUAGE else language
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code)
    staff_menu = staff_commands()
    chats = sorted(settings.staff_user_ids)
    if settings.staff_chat_id is not None:
        chats.append(settings.staff_chat_id)
    for chat_id in chats:
        try:
            await bot.set_my_commands(staff_menu, scope=BotCommandScopeChat(chat_id))
        except TelegramError as exc:
            # A staff member who never opened a chat with the bot has no chat scope yet.
            log.warning("could not set staff commands for chat %s: %s", chat_id, exc)
