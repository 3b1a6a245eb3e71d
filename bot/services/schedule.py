"""When delivery is next due: the times the scheduler derives its date jobs from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage import outbox, posts


@dataclass(frozen=True)
class NextDue:
    """The earliest due pending ask and broadcast post of running campaigns, if any."""

    ask: datetime | None
    post: datetime | None


async def next_due(sessions: async_sessionmaker[AsyncSession]) -> NextDue:
    """Return when the next ask and the next broadcast post are due."""
    async with sessions() as session:
        ask = await outbox.next_due_at(session=session)
        post = await posts.next_post_due(session=session)
    return NextDue(ask=ask, post=post)
