"""Queries behind supporter conversations: asks by message or token, replies by relay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.storage.community_rollup import note_interactions
from bot.storage.models import SENDING, SENT, Ask, Interaction, Reply, Supporter


async def ask_by_message(*, session: AsyncSession, chat_id: int, message_id: int) -> Ask | None:
    """Return the ask that was sent as this Telegram message."""
    result = await session.execute(
        select(Ask).where(Ask.chat_id == chat_id, Ask.telegram_message_id == message_id)  # type: ignore[arg-type]
    )
    return result.scalars().first()


async def ask_by_token(*, session: AsyncSession, token: str) -> Ask | None:
    """Return the ask with this tracking token."""
    result = await session.execute(select(Ask).where(Ask.token == token))  # type: ignore[arg-type]
    return result.scalars().first()


async def latest_sent_ask(
    *, session: AsyncSession, supporter_id: int, since: datetime
) -> Ask | None:
    """Return the supporter's most recent ask sent (or being sent) at or after since.

    The outbox writes outcomes in small groups, so for a moment after Telegram delivered an
    ask it is still `sending`; a supporter who answers at once is answering that ask.
    """
    moment = func.coalesce(col(Ask.sent_at), col(Ask.claimed_at))
    result = await session.execute(
        select(Ask)
        .where(
            col(Ask.supporter_id) == supporter_id,
            or_(
                and_(col(Ask.state) == SENT, col(Ask.sent_at) >= since),
                and_(col(Ask.state) == SENDING, col(Ask.claimed_at) >= since),
            ),
        )
        .order_by(moment.desc(), col(Ask.id).desc())
        .limit(1)
    )
    return result.scalars().first()


async def reply_by_relay(*, session: AsyncSession, relay_message_id: int) -> Reply | None:
    """Return the inbound reply that was relayed to staff as this message."""
    result = await session.execute(
        select(Reply)
        .where(Reply.relay_message_id == relay_message_id, Reply.direction == "in")  # type: ignore[arg-type]
        .order_by(Reply.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return result.scalars().first()


async def add_interaction(
    *,
    session: AsyncSession,
    supporter: Supporter,
    kind: str,
    now: datetime,
    detail: str | None = None,
    sentiment: str | None = None,
) -> None:
    """Add an interaction the bot saw and keep the supporter's running counters."""
    assert supporter.id is not None
    session.add(
        Interaction(
            supporter_id=supporter.id,
            kind=kind,
            detail=detail[:500] if detail else None,
            sentiment=sentiment,
            occurred_at=now,
            source="telegram",
        )
    )
    row = {"supporter_id": supporter.id, "kind": kind, "occurred_at": now, "source": "telegram"}
    await note_interactions(session=session, rows=[row])
    supporter.interaction_count += 1
    supporter.last_interaction_at = now
