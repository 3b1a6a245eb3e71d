"""Build the python-telegram-bot Application: handlers, typed context and scoped command menus."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Update,
)
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackContext, ContextTypes, ExtBot

from bot.clock import utcnow
from bot.config import Settings
from bot.domain.i18n import DEFAULT_LANGUAGE, LANGUAGES, command_descriptions
from bot.services import conversation
from bot.services.donations import DonationOutcome, IncomingGift, announce_gift, record_donation
from bot.services.registry import CampaignRegistry
from bot.telegram.sender import TelegramSender

log = logging.getLogger(__name__)

_SERVICES = "campaign_bot.services"


def _no_wake() -> None:
    """Do nothing: used when no outbox worker runs in this process."""


@dataclass
class BotServices:
    """What handlers need: settings, the database, the campaign specs, the clock, the outbox."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    registry: CampaignRegistry
    clock: Callable[[], datetime] = utcnow
    # Called after a launch or resume so the outbox worker looks for due asks at once.
    wake_outbox: Callable[[], None] = field(default=_no_wake)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The handlers' context, with typed access to the bot's services."""

    @property
    def services(self) -> BotServices:
        """Return the services the application was built with."""
        return services_of(self.application)

    @property
    def settings(self) -> Settings:
        """Return the settings."""
        return self.services.settings

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Return the database session factory."""
        return self.services.sessions

    @property
    def registry(self) -> CampaignRegistry:
        """Return the campaign specs in force."""
        return self.services.registry

    def now(self) -> datetime:
        """Return the current time from the services' clock."""
        return self.services.clock()

    async def record_gift(self, gift: IncomingGift) -> DonationOutcome:
        """Record a gift that reached a handler, credit it, and thank the giver and staff."""
        specs = self.registry.campaigns
        outcome = await record_donation(
            self.sessions,
            gift,
            now=self.now(),
            specs=specs,
            main_currency=self.settings.main_currency,
        )
        await announce_gift(
            TelegramSender(self.bot),
            outcome,
            specs=specs,
            settings=self.settings,
            sessions=self.sessions,
        )
        return outcome


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> BotServices:
    """Return the services an application was built with."""
    return cast(BotServices, application.bot_data[_SERVICES])


BotApplication: TypeAlias = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]


def build_application(services: BotServices, *, polling: bool = True) -> BotApplication:
    """Build the Application with every handler; polling=False leaves out the updater."""
    # The handler modules import this module's types, so they are imported here.
    from bot.telegram import payments, relay, staff, supporters

    settings = services.settings
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .context_types(ContextTypes(context=BotContext))
        .job_queue(None)
    )
    if not polling:
        builder = builder.updater(None)
    application: BotApplication = builder.build()
    application.bot_data[_SERVICES] = services
    staff.add_handlers(application)
    relay.add_handlers(application)
    supporters.add_handlers(application)
    payments.add_handlers(application)
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
    from bot.telegram.staff import STAFF_MENU

    return [BotCommand(name, description) for name, description in STAFF_MENU]


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
