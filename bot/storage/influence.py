"""The influence score in SQL: one expression over the supporter table (bot.domain.influence)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.influence import BROUGHT_IN, RESPONSE, THEIR_GIFT
from bot.storage.dialect import chunks
from bot.storage.tables import COMMUNITY_RESPONSE, DONATION, REFERRAL, SUPPORTER


def influence_expression() -> ColumnElement[int]:
    """Return each supporter's influence as a correlated expression over `supporter`."""
    sid = SUPPORTER.c.id
    r, d = REFERRAL.c, DONATION.c
    brought = (
        select(func.count()).select_from(REFERRAL).where(r.referrer_id == sid).scalar_subquery()
    )
    gifts = (
        select(func.count())
        .select_from(
            DONATION.join(REFERRAL, and_(d.supporter_id == r.referred_id, d.donated_at >= r.at))
        )
        .where(r.referrer_id == sid)
        .scalar_subquery()
    )
    responses = (
        select(func.count())
        .select_from(COMMUNITY_RESPONSE)
        .where(COMMUNITY_RESPONSE.c.author_id == sid)
        .scalar_subquery()
    )
    return BROUGHT_IN * brought + THEIR_GIFT * gifts + RESPONSE * responses


async def influence_scores(*, session: AsyncSession, ids: Collection[int]) -> dict[int, int]:
    """Return the influence score of these supporters."""
    found: dict[int, int] = {}
    score = influence_expression()
    for part in chunks(ids):
        rows = await session.execute(select(SUPPORTER.c.id, score).where(SUPPORTER.c.id.in_(part)))
        found.update({int(sid): int(value) for sid, value in rows})
    return found
