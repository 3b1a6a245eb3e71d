"""Named source queries: the sources themselves and how many people came through each."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import chunks
from bot.storage.models import NamedSource
from bot.storage.tables import INTERACTION, NAMED_SOURCE


async def source_by_name(*, session: AsyncSession, name: str) -> NamedSource | None:
    """Return the named source with exactly this name."""
    stmt = select(NamedSource).where(NAMED_SOURCE.c.name == name)
    return (await session.execute(stmt)).scalars().first()


async def existing_names(*, session: AsyncSession, names: Collection[str]) -> set[str]:
    """Return which of these names are named sources."""
    if not names:
        return set()
    stmt = select(NAMED_SOURCE.c.name).where(NAMED_SOURCE.c.name.in_(sorted(names)))
    return {str(name) for name in (await session.execute(stmt)).scalars()}


async def all_sources(*, session: AsyncSession) -> list[NamedSource]:
    """Return every named source, oldest first."""
    stmt = select(NamedSource).order_by(NAMED_SOURCE.c.id)
    return list((await session.execute(stmt)).scalars())


async def add_source(*, session: AsyncSession, source: NamedSource) -> NamedSource:
    """Store a new named source; flushes, so a taken name raises IntegrityError here."""
    session.add(source)
    await session.flush()
    return source


async def supporter_has_interaction(
    *,
    session: AsyncSession,
    supporter_id: int,
    kind: str,
    source: str,
    detail: str | None = None,
) -> bool:
    """Tell whether a supporter already has an interaction of this kind from this source."""
    stmt = select(INTERACTION.c.id).where(
        INTERACTION.c.supporter_id == supporter_id,
        INTERACTION.c.kind == kind,
        INTERACTION.c.source == source,
    )
    if detail is not None:
        stmt = stmt.where(INTERACTION.c.detail == detail)
    return (await session.execute(stmt.limit(1))).first() is not None


async def supporters_per_detail(
    *,
    session: AsyncSession,
    kind: str,
    details: Collection[str],
    excluding_source: str | None = None,
) -> dict[str, int]:
    """Count the distinct supporters with an interaction of a kind, per detail among those."""
    counts: dict[str, int] = {}
    for batch in chunks(details):
        stmt = (
            select(INTERACTION.c.detail, func.count(distinct(INTERACTION.c.supporter_id)))
            .where(INTERACTION.c.kind == kind, INTERACTION.c.detail.in_(batch))
            .group_by(INTERACTION.c.detail)
        )
        if excluding_source is not None:
            stmt = stmt.where(
                or_(INTERACTION.c.source.is_(None), INTERACTION.c.source != excluding_source)
            )
        for detail, count in (await session.execute(stmt)).all():
            counts[detail] = int(count)
    return counts
