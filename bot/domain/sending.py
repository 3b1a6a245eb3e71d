"""The one way services reach Telegram: the sender protocol and the values it speaks in."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Result(enum.StrEnum):
    """What Telegram did with one message, in the terms the outbox acts on."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"  # 429: nothing sent; wait retry_after, then try again
    BLOCKED = "blocked"  # 403: the user blocked the bot
    UNREACHABLE = "unreachable"  # 403: the bot may not open this chat (never started, deleted)
    REJECTED = "rejected"  # 400 and the like: this message will never go; do not retry
    TRANSIENT = "transient"  # 5xx or no connection made: nothing sent; retry with backoff
    AMBIGUOUS = "ambiguous"  # the request went out but no answer came: it may have arrived
    HALT = "halt"  # the bot token is refused: stop sending rather than fail every ask


@dataclass(frozen=True)
class SendOutcome:
    """One send's result, with the message id when sent and Telegram's words otherwise."""

    result: Result
    message_id: int | None = None
    retry_after: float = 0.0
    description: str = ""


@dataclass(frozen=True)
class Button:
    """An inline button: a URL to open or callback data to send back."""

    text: str
    url: str | None = None
    callback_data: str | None = None


class SendRefused(Exception):
    """Telegram refused a request other than a message; the text says what it answered."""


class Sender(Protocol):
    """What services need from Telegram (bot.telegram.sender.TelegramSender implements it)."""

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] = (),
        paid: bool = False,
        reply_to: int | None = None,
    ) -> SendOutcome:
        """Send one HTML message and report what became of it; never raise for the answer.

        With reply_to, reply to that message, or send without the reply when it is gone.
        """
        ...

    async def member_count(self, chat_id: int | str) -> int | None:
        """Return how many members a group or channel has, or None if Telegram will not say."""
        ...

    async def bot_username(self) -> str | None:
        """Return the bot's @username (for t.me deep links), or None if it has none."""
        ...

    async def create_invite_link(self, chat_id: int, *, name: str) -> str:
        """Create a named invite link to a chat and return it; raise SendRefused if refused."""
        ...
