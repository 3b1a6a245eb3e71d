"""The demo's world: its people and chats, its clock, the staff chat, and the stage of scenes."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotRuntime
from bot.config import Settings, load_settings
from bot.demo.behaviour import BehaviourModel
from bot.demo.population import SimulatedSupporter
from bot.domain.spec import Campaign
from bot.sandbox import Sandbox

T = TypeVar("T")
CAMPAIGN = "museum-winter-appeal"
# The second campaign: a public reply in the group against a private message, both personal.
COMMUNITY_CAMPAIGN = "museum-community-ask"
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
            # The sandbox lets a group take a week of public replies in seconds of real time.
            "group_sends_per_minute": 100_000,
            "timezone": "Europe/Amsterdam",
            "weekly_summary_cron": "mon 09:00",
            "log_level": "WARNING",
        },
        env_file=None,
    )


class StaffChat:
    """Marieke in the staff chat: she types, presses buttons, and waits for the bot's answers."""

    def __init__(self, sandbox: Sandbox, clock: SimClock) -> None:
        self.sandbox = sandbox
        self.clock = clock
        # What staff did, with the sandbox's record position at that moment, for the transcript.
        self.log: list[tuple[int, datetime, str]] = []

    async def last_seq(self) -> int:
        """Return the position of the bot's latest message in the staff chat."""
        sent = await self.sandbox.client.sent(STAFF_CHAT_ID)
        return int(sent[-1]["seq"]) if sent else 0

    async def note(self, action: str) -> None:
        """Put something staff did outside the chat into the transcript, in brackets."""
        self.log.append((await self.last_seq(), self.clock(), f"[{action}]"))

    async def says(self, text: str, reply_to: int | None = None) -> None:
        """Type a message (or command) in the staff chat."""
        self.log.append((await self.last_seq(), self.clock(), text))
        await self.sandbox.client.send_text(
            STAFF_ID, text, reply_to_message_id=reply_to, chat_id=STAFF_CHAT_ID
        )

    async def answer(self, contains: str, after: int) -> dict[str, Any]:
        """Wait for the bot's message in the staff chat after a position, holding some text."""

        async def check() -> dict[str, Any] | None:
            for entry in await self.sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
                text = entry.get("text") or entry.get("caption") or ""
                if entry["seq"] > after and contains in text:
                    return entry
            return None

        return await wait_until(check, f"the bot to say {contains!r} in the staff chat")

    async def command(self, text: str, contains: str = "") -> dict[str, Any]:
        """Type a command and return the bot's answer."""
        seq = await self.last_seq()
        await self.says(text)
        return await self.answer(contains, seq)

    async def press(self, entry: dict[str, Any], data: str, what: str) -> None:
        """Press a button under one of the bot's messages."""
        self.log.append((await self.last_seq(), self.clock(), f"[presses {what}]"))
        await self.sandbox.client.press(STAFF_ID, entry["message_id"], data, STAFF_CHAT_ID)

    async def transcript(self) -> str:
        """Return the staff chat as plain text, staff and bot in order."""
        # (position, 0 for the bot or 1 + the order staff acted in, text)
        events: list[tuple[int, int, str]] = []
        for entry in await self.sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
            body = plain(entry.get("text") or entry.get("caption") or "")
            if entry.get("method") == "sendPhoto":
                picture = "[QR code]" if "?start=" in body else "[chart]"
                body = f"{picture} {body}"
            labels = [label for label, _ in buttons(entry)]
            if not body:
                continue  # a keyboard changed under an earlier message
            if labels:
                body += "\n[" + " | ".join(labels) + "]"
            events.append((int(entry["seq"]), 0, f"bot:\n{body}"))
        for order, (seq, when, text) in enumerate(self.log, start=1):
            events.append((seq, order, f"{STAFF_NAME} ({when:%a %d %b %H:%M} UTC):\n{text}"))
        header = "Staff chat, simulated week (the bot's HTML shown as plain text)\n\n"
        return header + "\n\n".join(text for *_, text in sorted(events)) + "\n"


def buttons(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (label, callback data) of a sent message's inline buttons."""
    rows = (entry.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def plain(html: str) -> str:
    """Strip Telegram HTML tags for the transcript."""
    return unescape(re.sub(r"<[^>]+>", "", html))


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
    # Every campaign the demo may launch, by name (the winter appeal and the community ask).
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "asks_sent",
                "replies",
                "opt_outs",
                "clicks",
                "gifts",
                "channel_clicks",
                "public_asks",
                "public_opened",
            ),
            0,
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
