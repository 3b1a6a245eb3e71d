"""Send messages with python-telegram-bot and say plainly what became of each (the Sender)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.config import Settings, use_timedelta_durations
from bot.domain.sending import Button, Result, SendOutcome, SendRefused

log = logging.getLogger(__name__)

# Errors raised before any byte of the request left: resending cannot duplicate a message.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    """Build Telegram's inline keyboard from rows of buttons."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, url=b.url, callback_data=b.callback_data) for b in row]
            for row in rows
        ]
    )


def classify_error(error: Exception) -> SendOutcome:
    """Map a python-telegram-bot error to what the outbox should do about it."""
    text = str(error)
    if isinstance(error, RetryAfter):
        return SendOutcome(Result.RETRY_AFTER, retry_after=_retry_seconds(error), description=text)
    if isinstance(error, Forbidden):
        blocked = "blocked" in text.lower()
        return SendOutcome(Result.BLOCKED if blocked else Result.UNREACHABLE, description=text)
    if isinstance(error, InvalidToken):
        return SendOutcome(Result.HALT, description=text)
    if isinstance(error, BadRequest | ChatMigrated):
        return SendOutcome(Result.REJECTED, description=text)
    if isinstance(error, NetworkError):  # TimedOut is a NetworkError too
        cause = error.__cause__
        if cause is None or isinstance(cause, _NEVER_SENT):
            # No httpx cause: the server answered with a 5xx. A connect/pool error: never sent.
            return SendOutcome(Result.TRANSIENT, description=text or type(cause).__name__)
        return SendOutcome(
            Result.AMBIGUOUS, description=f"{type(cause).__name__} after sending: {text}"
        )
    if isinstance(error, TelegramError):
        return SendOutcome(Result.REJECTED, description=text)
    return SendOutcome(Result.AMBIGUOUS, description=f"{type(error).__name__}: {error}")


def _retry_seconds(error: RetryAfter) -> float:
    """Read retry_after as seconds without tripping PTB's int-to-timedelta deprecation warning."""
    stored = getattr(error, "_retry_after", None)
    if isinstance(stored, timedelta):
        return stored.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Send outbox messages through one python-telegram-bot `Bot` with a sized connection pool.

    Use as `async with TelegramSender.from_settings(settings) as sender:`.
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @classmethod
    def from_settings(
        cls, settings: Settings, *, pool_size: int = 64, read_timeout: float = 10.0
    ) -> TelegramSender:
        """Build a sender for the configured bot token and Bot API base URL."""
        use_timedelta_durations()
        request = HTTPXRequest(
            connection_pool_size=pool_size,
            read_timeout=read_timeout,
            write_timeout=10.0,
            connect_timeout=5.0,
            pool_timeout=5.0,
        )
        bot = Bot(
            settings.telegram_bot_token, base_url=settings.telegram_base_url, request=request
        )
        return cls(bot)

    async def __aenter__(self) -> TelegramSender:
        await self.bot.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.bot.shutdown()

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] = (),
        paid: bool = False,
        reply_to: int | None = None,
    ) -> SendOutcome:
        """Send an HTML message with inline buttons; never raises for Telegram's answers."""
        reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        )
        try:
            message = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons) if buttons else None,
                allow_paid_broadcast=True if paid else None,
                reply_parameters=reply,
            )
        except Exception as error:  # every failure becomes an outcome the outbox records
            outcome = classify_error(error)
            log.debug("send to %s: %s (%s)", chat_id, outcome.result, outcome.description)
            return outcome
        return SendOutcome(Result.SENT, message_id=message.message_id)

    async def member_count(self, chat_id: int | str) -> int | None:
        """Return how many members a group or channel has, or None if Telegram will not say."""
        try:
            return await self.bot.get_chat_member_count(chat_id)
        except TelegramError as error:
            log.warning("getChatMemberCount for %s failed: %s", chat_id, error)
            return None

    async def bot_username(self) -> str | None:
        """Return the bot's @username (for t.me deep links), or None if it has none."""
        try:
            return (await self.bot.get_me()).username
        except TelegramError as error:
            raise SendRefused(f"Telegram did not say the bot's username: {error}") from error

    async def create_invite_link(self, chat_id: int, *, name: str) -> str:
        """Create a named invite link to a chat and return it; raise SendRefused if refused."""
        try:
            link = await self.bot.create_chat_invite_link(chat_id, name=name)
        except TelegramError as error:
            raise SendRefused(str(error)) from error
        return link.invite_link
