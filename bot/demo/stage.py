"""The demo's world: its people and chats, its simulated clock, and the stage scenes act on."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotRuntime
from bot.config import Settings, load_settings
from bot.demo.behaviour import BehaviourModel
from bot.demo.population import SimulatedSupporter
from bot.domain.spec import Campaign
from bot.sandbox import Sandbox

if TYPE_CHECKING:
    from bot.demo.staff import StaffChat

T = TypeVar("T")
CAMPAIGN = "museum-winter-appeal"
STAFF_ID = 900_001
STAFF_NAME = "Marieke"
STAFF_CHAT_ID = -100_900_001
CHANNEL_ID = -100_900_002
CHANNEL_MEMBERS = 1_200
# The channel's discussion group: the community the bot listens to.
GROUP_ID = -100_900_003
GROUP_TITLE = "Harbour Museum chat"
LIVE_STARTS = 20
# The simulated week: Monday 30 November 2026, 09:00 in Amsterdam, to the next Monday's summary.
WEEK_START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WEEK_END = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
STEP = timedelta(hours=1)
WEBHOOK_SECRET = "demo-webhook-secret"
BROWSER = "Mozilla/5.0 (demo supporter)"

Progress = Callable[[str], None]


@dataclass
class SimClock:
    """The demo's clock: a simulated week that advances only when the demo says so."""

    now: datetime = WEEK_START

    def __call__(self) -> datetime:
        return self.now

    def unix(self) -> float:
        """Return the time in Unix seconds, for the dates the sandbox stamps on messages."""
        return self.now.timestamp()


async def wait_until(check: Callable[[], Awaitable[T | None]], what: str, limit: float = 30) -> T:
    """Wait for the running bot to reach a state, failing loudly if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise RuntimeError(f"the demo waited {limit:.0f}s for {what}; something is stuck")
        await asyncio.sleep(0.02)


def demo_settings(database_url: str, sandbox: Sandbox, web_port: int) -> Settings:
    """Return the demo's settings: sandbox, fresh SQLite, paid-broadcast pace, signed webhook."""
    return load_settings(
        {
            "telegram_bot_token": sandbox.token,
            "telegram_base_url": sandbox.bot_base_url,
            "database_url": database_url,
            "staff_user_ids": str(STAFF_ID),
            "staff_chat_id": STAFF_CHAT_ID,
            "community_chat_ids": str(GROUP_ID),
            "web_port": web_port,
            "public_base_url": f"http://127.0.0.1:{web_port}",
            "donation_webhook_secret": WEBHOOK_SECRET,
            "paid_broadcast": True,
            "timezone": "Europe/Amsterdam",
            "weekly_summary_cron": "mon 09:00",
            "log_level": "WARNING",
        },
        env_file=None,
    )


@dataclass
class Stage:
    """Everything a scene acts on: the running bot, the sandbox, the people and the tallies."""

    seed: int
    say: Progress
    clock: SimClock
    model: BehaviourModel
    people: list[SimulatedSupporter]
    sandbox: Sandbox
    bot: BotRuntime
    sessions: async_sessionmaker[AsyncSession]
    web: httpx.AsyncClient
    settings: Settings
    campaign: Campaign
    staff: StaffChat
    rng: random.Random = field(default_factory=random.Random)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("asks_sent", "replies", "opt_outs", "clicks", "gifts", "channel_clicks"), 0
        )
    )
    # Plain sentences a scene wants in the demo's output and at the end of report.txt.
    findings: list[str] = field(default_factory=list)
    # Everyone who may be asked, by Telegram id: the imported supporters, and the community
    # members who start the bot during the demo.
    languages: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.languages = {p.telegram_user_id: p.language for p in self.people}


Scene = Callable[[Stage], Awaitable[None]]
