"""A running bot for tests: the sandbox in-process, our Application polling it, fresh SQLite.

Tests act as users through the sandbox's control client and read what the bot sent, so the
whole path (HTTP, python-telegram-bot, handlers, services, database) runs for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotRuntime, running_bot
from bot.config import Settings, load_settings
from bot.net import free_port
from bot.sandbox.client import SandboxClient
from bot.sandbox.server import Sandbox, run_sandbox
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import Supporter
from tests.factories import add_interaction
from tests.helpers import FakeClock, wait_for

T = TypeVar("T")
JsonDict = dict[str, Any]

TOKEN = "123456789:sandbox-demo-token-0123456789"
STAFF_ID = 7001
STAFF_CHAT_ID = -1007001
# A Wednesday morning in Amsterdam: inside any ordinary send window.
DEFAULT_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@dataclass
class BotHarness:
    """The running sandbox and bot, with helpers to act as users and wait for the bot."""

    sandbox: Sandbox
    runtime: BotRuntime
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    clock: FakeClock
    campaigns_dir: Path
    asks: dict[int, JsonDict] = field(default_factory=dict)
    _seen: dict[Any, int] = field(default_factory=dict)

    @property
    def client(self) -> SandboxClient:
        """Return the sandbox control client."""
        return self.sandbox.client

    async def sent(self, chat_id: int) -> list[JsonDict]:
        """Return every accepted send and edit the bot made to a chat, in order."""
        return await self.client.sent(chat_id, accepted_only=True)

    async def next_message(
        self, chat_id: int, contains: str = "", *, method: str | None = None
    ) -> JsonDict:
        """Wait for the bot's next send or edit to a chat (after the last one returned)."""
        after = self._seen.get(chat_id, 0)

        async def check() -> JsonDict | None:
            for entry in await self.sent(chat_id):
                text = entry.get("text") or entry.get("caption") or ""
                if (
                    entry["seq"] > after
                    and contains in text
                    and (method is None or entry["method"] == method)
                ):
                    return entry
            return None

        entry = await wait_for(check, what=f"a message to {chat_id} containing {contains!r}")
        self._seen[chat_id] = entry["seq"]
        return entry

    async def quiet(self, chat_id: int) -> list[JsonDict]:
        """Return what the bot sent to a chat after the last message a test waited for."""
        after = self._seen.get(chat_id, 0)
        return [e for e in await self.sent(chat_id) if e["seq"] > after]

    def advance(self, delta: timedelta) -> None:
        """Move the bot's clock forward and have the outbox look for asks now due."""
        self.clock.advance(delta)
        self.runtime.services.wake_outbox()

    async def staff_says(self, text: str, *, reply_to: int | None = None) -> JsonDict:
        """Have the staff member write in the staff chat."""
        return await self.client.send_text(
            STAFF_ID, text, reply_to_message_id=reply_to, chat_id=STAFF_CHAT_ID
        )

    async def staff_command(self, text: str, contains: str = "") -> JsonDict:
        """Send a staff command in the staff chat and wait for the bot's answer there."""
        await self.staff_says(text)
        return await self.next_message(STAFF_CHAT_ID, contains)

    async def launch(self, name: str, *, deliver_to: Sequence[int] = ()) -> JsonDict:
        """Launch a campaign as staff (command, then the confirm button); return the result.

        With deliver_to, move the clock two days on (past the campaign's spread) and wait
        until each of those users has received their ask, kept in `self.asks`.
        """
        question = await self.staff_command(f"/launch {name}", "Launch")
        await self.client.press(STAFF_ID, question["message_id"], f"launch:{name}", STAFF_CHAT_ID)
        result = await self.next_message(STAFF_CHAT_ID, "asks queued")
        if deliver_to:
            self.advance(timedelta(days=2))
            for user_id in deliver_to:
                self.asks[user_id] = await self.next_message(user_id, "href")
        return result

    async def supporter_starts(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        language: str = "en",
        payload: str | None = None,
        visited: str | None = "Ships of the Harbour",
    ) -> Supporter:
        """Have a new user start the bot; optionally give them a museum visit in their history."""
        await self.client.add_user(user_id, first_name, username=username, language_code=language)
        await self.client.start(user_id, payload)
        await self.next_message(user_id)
        (supporter,) = await self.wait_rows(Supporter, Supporter.telegram_user_id == user_id)
        if visited is not None:
            assert supporter.id is not None
            async with self.sessions() as session, session.begin():
                await add_interaction(
                    session,
                    supporter.id,
                    "visited_exhibition",
                    self.clock.now - timedelta(days=20),
                    detail=visited,
                )
        return supporter

    async def rows(self, model: type[T], *where: Any) -> list[T]:
        """Return the rows of a table matching the conditions."""
        async with self.sessions() as session:
            result = await session.execute(select(model).where(*where))  # type: ignore[call-overload]
            return list(result.scalars())

    async def wait_rows(self, model: type[T], *where: Any, count: int = 1) -> list[T]:
        """Wait until a table holds at least count rows matching the conditions."""

        async def check() -> list[T] | None:
            found = await self.rows(model, *where)
            return found if len(found) >= count else None

        return await wait_for(check, what=f"{count} {model.__name__} row(s) matching {where}")


SPRING_APPEAL = """\
name: spring-appeal
title: Keep the lights on this spring
organisation: Harbour Museum
donate_url: https://donate.example.org/harbour
audience:
  any:
    - {interaction: visited_exhibition}
arms:
  specific: {kind: specific, weight: 1, message: personal}
  broadcast: {kind: broadcast, weight: 1, message: generic}
messages:
  personal:
    en: 'Dear {{ name }}, thank you for visiting. <a href="{{ donate_link }}">Help us</a>'
    nl: 'Beste {{ name }}, bedankt voor je bezoek. <a href="{{ donate_link }}">Help ons</a>'
  generic:
    en: 'Please help the museum: <a href="{{ donate_link }}">donate</a>'
    nl: 'Help het museum: <a href="{{ donate_link }}">doneer</a>'
"""


def write_campaigns(directory: Path, files: Mapping[str, str]) -> None:
    """Write campaign files into a directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content, encoding="utf-8")


@asynccontextmanager
async def bot_harness(
    tmp_path: Path,
    *,
    campaigns: Mapping[str, str] | None = None,
    webhook: bool = False,
    serve_web: bool = False,
    now: datetime = DEFAULT_NOW,
    settings: Mapping[str, Any] | None = None,
    before_start: Callable[[SandboxClient], Awaitable[None]] | None = None,
) -> AsyncIterator[BotHarness]:
    """Start the sandbox and the bot on a fresh SQLite database; stop both afterwards.

    before_start sets the sandbox's world up (groups, channels, members) before the bot runs.
    """
    campaigns_dir = tmp_path / "campaigns"
    write_campaigns(campaigns_dir, campaigns or {})
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await create_all(engine)
    sessions = session_maker(engine)
    clock = FakeClock(now)
    try:
        async with run_sandbox(token=TOKEN, limits_enabled=False) as sandbox:
            await sandbox.client.add_chat(STAFF_CHAT_ID, "supergroup", "Museum staff")
            await sandbox.client.add_user(
                STAFF_ID, "Sam", "Staff", username="sam_staff", started=True
            )
            if before_start is not None:
                await before_start(sandbox.client)
            port = free_port() if serve_web or webhook else 0
            values: dict[str, Any] = {
                "telegram_bot_token": TOKEN,
                "telegram_base_url": sandbox.bot_base_url,
                "staff_user_ids": str(STAFF_ID),
                "staff_chat_id": STAFF_CHAT_ID,
                "campaigns_dir": str(campaigns_dir),
                "web_host": "127.0.0.1",
                "web_port": port,
                "public_base_url": f"http://127.0.0.1:{port}",
                "webhook_secret": "test-webhook-secret",
                "log_level": "WARNING",
                # Members' messages are read in the bot's process here: a worker process per
                # bot started would cost the suite a second each. tests/test_reading.py and
                # the community tests that set it run the worker.
                "community_reader_processes": 0,
            }
            values.update(settings or {})
            bot_settings = load_settings(values, env_file=None)
            async with running_bot(
                bot_settings,
                sessions,
                webhook=webhook,
                clock=clock,
                serve_web=serve_web or webhook,
                poll_timeout=1.0,
            ) as runtime:
                yield BotHarness(
                    sandbox=sandbox,
                    runtime=runtime,
                    sessions=sessions,
                    settings=bot_settings,
                    clock=clock,
                    campaigns_dir=campaigns_dir,
                )
    finally:
        await engine.dispose()
