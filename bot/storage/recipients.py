"""What the outbox reads about the supporters it is about to ask, to decide and to render."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import chunks
from bot.storage.tables import ASK, INTERACTION, SUPPORTER


@dataclass(frozen=True)
class SupporterFacts:
    """The supporter fields a send decision and a message need."""

    id: int
    chat_id: int | None
    first_name: str
    last_name: str
    username: str | None
    language: str
    timezone: str | None
    consented_at: datetime | None
    opted_out_at: datetime | None
    blocked_at: datetime | None
    forgotten_at: datetime | None
    telegram_user_id: int | None = None


async def supporter_facts(
    *, session: AsyncSession, ids: Collection[int]
) -> dict[int, SupporterFacts]:
    """Return the send-time facts of these supporters."""
    s = SUPPORTER.c
    columns = (
        s.id, s.chat_id, s.first_name, s.last_name, s.username, s.language, s.timezone,
        s.consented_at, s.opted_out_at, s.blocked_at, s.forgotten_at, s.telegram_user_id,
    )  # fmt: skip
    found: dict[int, SupporterFacts] = {}
    for chunk in chunks(ids):
        rows = await session.execute(select(*columns).where(s.id.in_(chunk)))
        found.update({row.id: SupporterFacts(*row) for row in rows})
    return found


async def interaction_history(
    *, session: AsyncSession, ids: Collection[int]
) -> dict[int, list[tuple[str, str | None, datetime]]]:
    """Return (kind, detail, occurred_at) of every interaction of these supporters."""
    i = INTERACTION.c
    found: dict[int, list[tuple[str, str | None, datetime]]] = {}
    for chunk in chunks(ids):
        stmt = select(i.supporter_id, i.kind, i.detail, i.occurred_at).where(
            i.supporter_id.in_(chunk)
        )
        for row in await session.execute(stmt):
            found.setdefault(row.supporter_id, []).append((row.kind, row.detail, row.occurred_at))
    return found


async def recent_sends(
    *, session: AsyncSession, supporter_ids: Collection[int], since: datetime
) -> list[tuple[int, int, datetime]]:
    """List (supporter_id, campaign_id, sent_at) of asks sent to these supporters since `since`."""
    found: list[tuple[int, int, datetime]] = []
    for chunk in chunks(supporter_ids):
        stmt = select(ASK.c.supporter_id, ASK.c.campaign_id, ASK.c.sent_at).where(
            ASK.c.supporter_id.in_(chunk), ASK.c.sent_at >= since
        )
        found += [(r.supporter_id, r.campaign_id, r.sent_at) for r in await session.execute(stmt)]
    return found


async def said_not_now(
    *, session: AsyncSession, supporter_ids: Collection[int], campaign_name: str
) -> set[int]:
    """Return the supporters who pressed "Not now" on this campaign."""
    i = INTERACTION.c
    found: set[int] = set()
    for chunk in chunks(supporter_ids):
        stmt = select(i.supporter_id).where(
            i.supporter_id.in_(chunk), i.kind == "not_now", i.detail == campaign_name
        )
        found.update((await session.execute(stmt)).scalars())
    return found
