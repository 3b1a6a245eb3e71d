"""Read-only counts over community facts: what was recorded, and who of an audience it found."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.tables import ASK, CAMPAIGN, INTERACTION, SUPPORTER


async def event_recorded(*, session: AsyncSession, event: str) -> bool:
    """Tell whether the interaction with this event key is stored."""
    found = await session.execute(select(INTERACTION.c.id).where(INTERACTION.c.event == event))
    return found.first() is not None


async def kinds_from(*, session: AsyncSession, sources: Collection[str]) -> dict[str, int]:
    """Count the interactions of each kind with one of these sources."""
    i = INTERACTION.c
    rows = await session.execute(
        select(i.kind, func.count()).where(i.source.in_(list(sources))).group_by(i.kind)
    )
    return {str(kind): int(count) for kind, count in rows}


async def asked_found_in(
    *, session: AsyncSession, campaign: str, source: str
) -> tuple[int, int, int]:
    """Count a campaign's supporters asked, those met in `source`, and those known only there.

    Met: an interaction from that source. Known only there: never imported (no external id).
    """
    a, c, i, s = ASK.c, CAMPAIGN.c, INTERACTION.c, SUPPORTER.c
    asked = (
        select(a.supporter_id)
        .join(CAMPAIGN, c.id == a.campaign_id)
        .where(c.name == campaign, a.step == "ask")
        .distinct()
        .subquery()
    )
    met = select(i.supporter_id).where(i.source == source)
    found = select(asked.c.supporter_id).where(asked.c.supporter_id.in_(met)).subquery()
    only_there = (
        select(func.count())
        .select_from(found)
        .join(SUPPORTER, s.id == found.c.supporter_id)
        .where(s.external_id.is_(None))
    )
    total = await session.scalar(select(func.count()).select_from(asked))
    in_source = await session.scalar(select(func.count()).select_from(found))
    only = await session.scalar(only_there)
    return int(total or 0), int(in_source or 0), int(only or 0)
