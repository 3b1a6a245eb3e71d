"""Read-only progress queries over the outbox: what is sent, what is still due."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.storage.models import (
    PENDING,
    SENDING,
    SENT,
    Ask,
    BroadcastPost,
    Campaign,
    Supporter,
)


class SentAsk(NamedTuple):
    """An ask Telegram accepted, with what a reply, click or gift needs to find it."""

    id: int
    token: str
    campaign: str
    arm: str
    step: str
    # Where it went: the supporter's private chat, or the community chat of a public reply.
    chat_id: int
    telegram_message_id: int
    # Whom it asks (None once forgotten).
    telegram_user_id: int | None


async def count_due_unsent(*, session: AsyncSession, now: datetime) -> int:
    """Count asks due by `now` that are still waiting or being sent."""
    query = (
        select(func.count())
        .select_from(Ask)
        .where(col(Ask.state).in_([PENDING, SENDING]), col(Ask.due_at) <= now)
    )
    return int(await session.scalar(query) or 0)


async def sent_asks_after(*, session: AsyncSession, after_id: int = 0) -> list[SentAsk]:
    """Return sent asks with an id above `after_id`, oldest first."""
    query = (
        select(
            col(Ask.id),
            col(Ask.token),
            col(Campaign.name),
            col(Ask.arm),
            col(Ask.step),
            col(Ask.chat_id),
            col(Ask.telegram_message_id),
            col(Supporter.telegram_user_id),
        )
        .join(Campaign, col(Campaign.id) == col(Ask.campaign_id))
        .outerjoin(Supporter, col(Supporter.id) == col(Ask.supporter_id))
        .where(col(Ask.state) == SENT, col(Ask.id) > after_id)
        .order_by(col(Ask.id))
    )
    return [SentAsk(*row) for row in (await session.execute(query)).all()]


async def holdout_members(*, session: AsyncSession, arms: list[str]) -> list[tuple[int, int]]:
    """Return (ask id, Telegram user id) of every supporter assigned to the given arms."""
    query = (
        select(col(Ask.id), col(Supporter.telegram_user_id))
        .join(Supporter, col(Supporter.id) == col(Ask.supporter_id))
        .where(col(Ask.arm).in_(arms), col(Supporter.telegram_user_id).is_not(None))
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def posted_broadcasts(*, session: AsyncSession) -> list[BroadcastPost]:
    """Return every broadcast post that went out."""
    query = select(BroadcastPost).where(col(BroadcastPost.state) == SENT)
    return list((await session.execute(query)).scalars())


async def asked_telegram_ids(*, session: AsyncSession) -> set[int]:
    """Return the Telegram ids of every supporter who was asked in any campaign."""
    query = select(col(Supporter.telegram_user_id)).join(
        Ask, col(Ask.supporter_id) == col(Supporter.id)
    )
    return {int(user) for user in (await session.execute(query)).scalars() if user is not None}
