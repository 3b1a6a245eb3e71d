"""Tracked links: find the ask or broadcast post a token belongs to, and count a tap on it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.clicks import LinkTarget, find_link_target, record_click

__all__ = ["LinkTarget", "count_click", "link_target"]


async def link_target(sessions: async_sessionmaker[AsyncSession], token: str) -> LinkTarget | None:
    """Return the ask, else the broadcast post, that carries a link token."""
    async with sessions() as session:
        return await find_link_target(session=session, token=token)


async def count_click(
    sessions: async_sessionmaker[AsyncSession],
    target: LinkTarget,
    *,
    clicked_at: datetime,
    user_agent: str | None,
    dedup: timedelta,
    client: str,
) -> bool:
    """Record a tap in its own transaction unless it repeats one within `dedup`; tell if so.

    A tap on the link of someone since forgotten is not recorded at all: no click, browser
    or reader key may attach to their erased record again.
    """
    if target.forgotten:
        return False
    async with sessions() as session, session.begin():
        return await record_click(
            session=session,
            target=target,
            clicked_at=clicked_at,
            user_agent=user_agent,
            dedup=dedup,
            client=client,
        )
