"""Delete a message in Telegram and say plainly why not when Telegram refuses."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, TelegramError


class BotMessageDeleter:
    """Delete messages through a python-telegram-bot `Bot` (forget's staff-chat relays).

    With initialise=True (the command line's own bot) it is initialised on first use, so
    an unreachable Telegram becomes a reason per message rather than an error before the
    erase; `close()` then shuts it down.
    """

    def __init__(self, bot: Bot, *, initialise: bool = False) -> None:
        self.bot = bot
        self._to_open = initialise
        self._opened = False

    async def delete_message(self, chat_id: int, message_id: int) -> str | None:
        """Delete one message; return None once it is gone, else why Telegram refused."""
        try:
            if self._to_open:
                self._to_open = False
                await self.bot.initialize()
                self._opened = True
            await self.bot.delete_message(chat_id, message_id)
        except BadRequest as exc:
            if "not found" in exc.message.lower():
                return None  # already deleted, by staff or by an earlier try
            return exc.message
        except TelegramError as exc:
            return str(exc) or type(exc).__name__
        return None

    async def close(self) -> None:
        """Shut down the bot if this deleter initialised it."""
        if self._opened:
            await self.bot.shutdown()
