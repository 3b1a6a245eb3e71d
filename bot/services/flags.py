"""Flag low-value and fake followers: time-based rules, the CAS check, and /trust."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.supporters import SupporterNotFound, find_supporter
from bot.storage import flags as store

log = logging.getLogger(__name__)

TRUST_USAGE = "Usage: /trust @username or /trust TELEGRAM_ID"


async def evaluate_flags(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime
) -> dict[str, int]:
    """Raise the flags that time reveals (inactive, left_fast); count the new ones."""
    async with sessions() as session, session.begin():
        return await store.flag_time_based(session=session, now=now)


async def trust(
    sessions: async_sessionmaker[AsyncSession], *, who: str, by: str, now: datetime
) -> tuple[int, list[str]]:
    """Clear the flags of the supporter named by @username or Telegram id.

    Returns the supporter id and the reasons cleared; raises SupporterNotFound saying why.
    """
    lookup: dict[str, str | int]
    if who.startswith("@") and len(who) > 1:
        lookup = {"username": who[1:]}
    elif who.lstrip("-").isdigit():
        lookup = {"telegram_id": int(who)}
    else:
        raise SupporterNotFound(f"{who!r} is neither @username nor a Telegram id")
    async with sessions() as session, session.begin():
        supporter = await find_supporter(session, **lookup)  # type: ignore[arg-type]
        assert supporter.id is not None
        cleared = await store.clear_flags(
            session=session, supporter_id=supporter.id, by=by, now=now
        )
        return supporter.id, cleared


class CasCheck:
    """Ask the Combot Anti-Spam list whether a Telegram user is banned there.

    The answer is True (listed), False (not listed) or None when the service is slow, down
    or says something else: then nothing is flagged. At most `parallel` questions at once,
    so a burst of joins does not open hundreds of connections.
    """

    def __init__(self, url: str, *, timeout: float, parallel: int = 8) -> None:
        self.url = url
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=timeout)
        self._slots = asyncio.Semaphore(parallel)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def banned(self, user_id: int) -> bool | None:
        """Return whether CAS lists the user, or None when it gave no usable answer in time."""
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._client.get(self.url, params={"user_id": user_id})
                    body = response.json()
            except (TimeoutError, httpx.HTTPError, ValueError) as error:
                log.info("CAS gave no answer for a join (%s)", type(error).__name__)
                return None
        if response.status_code != 200 or not isinstance(body, dict) or "ok" not in body:
            return None
        return body["ok"] is True
