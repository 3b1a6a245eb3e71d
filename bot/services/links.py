"""Tracked links: find the ask or broadcast post a token belongs to, and count a tap on it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.group_commit import GroupRunner
from bot.storage.clicks import LinkTarget, Tap, find_link_targets, record_clicks

__all__ = ["LinkDesk", "LinkTarget", "Tap", "count_clicks"]


async def count_clicks(
    sessions: async_sessionmaker[AsyncSession], taps: Sequence[Tap], *, dedup: timedelta
) -> list[bool]:
    """Record taps in one transaction unless they repeat one within `dedup`; tell which counted.

    A tap on the link of someone since forgotten is not recorded at all: no click, browser
    or reader key may attach to their erased record again.
    """
    counted = [False] * len(taps)
    kept = [i for i, tap in enumerate(taps) if not tap.target.forgotten]
    if not kept:
        return counted
    async with sessions() as session, session.begin():
        stored = await record_clicks(session=session, taps=[taps[i] for i in kept], dedup=dedup)
    for i, count in zip(kept, stored, strict=True):
        counted[i] = count
    return counted


class LinkDesk:
    """Look up tokens and count taps for many concurrent requests in groups.

    A lookup and a transaction per tap held the 2-core machine to about 150 requests/s
    (benchmarks/webhooks.py). In groups a burst shares one query and one commit, a tap costs
    about as much server CPU as a bare endpoint inserting one row, and each tap is still
    answered only after the transaction holding it has committed.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        dedup: timedelta,
        writing: contextlib.AbstractAsyncContextManager[Any] | None = None,
    ) -> None:
        self._sessions = sessions
        self._dedup = dedup
        self._writing = writing or contextlib.nullcontext()
        self.find: GroupRunner[str, LinkTarget | None] = GroupRunner(self._find)
        self.count: GroupRunner[Tap, bool] = GroupRunner(self._count)

    async def _find(self, tokens: Sequence[str]) -> list[LinkTarget | None]:
        async with self._sessions() as session:
            found = await find_link_targets(session=session, tokens=tokens)
        return [found.get(token) for token in tokens]

    async def _count(self, taps: Sequence[Tap]) -> list[bool]:
        async with self._writing:
            return await count_clicks(self._sessions, taps, dedup=self._dedup)
