"""The handlers' typed context: the services a running bot holds, and how handlers reach them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import utcnow
from bot.config import Settings
from bot.services.donations import DonationOutcome, IncomingGift, announce_gift, record_donation
from bot.services.registry import CampaignRegistry
from bot.telegram.sender import TelegramSender

# bot_data key under which build_application stores the services.
SERVICES = "campaign_bot.services"


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


# ExtBot[int]: the bot carries an AIORateLimiter, whose per-call argument is an int.
class BotContext(CallbackContext[ExtBot[int], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
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
    return cast(BotServices, application.bot_data[SERVICES])


BotApplication: TypeAlias = Application[
    ExtBot[int], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]
