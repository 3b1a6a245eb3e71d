"""Broadcast post queries: create a campaign's post, claim it when due, record its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.campaign_state import RUNNING
from bot.storage.dialect import dialect_name
from bot.storage.models import CANCELLED, PENDING, SENDING, SENT, UNKNOWN
from bot.storage.tables import CAMPAIGN, POST


async def insert_post(
    *, session: AsyncSession, campaign_id: int, chat: str, token: str, due_at: datetime
) -> None:
    """Create a campaign's broadcast post, unless it has one already."""
    have = await session.scalar(
        select(func.count()).select_from(POST).where(POST.c.campaign_id == campaign_id)
    )
    if not have:
        await session.execute(
            insert(POST).values(
                campaign_id=campaign_id, chat=chat, token=token, state=PENDING, due_at=due_at
            )
        )


@dataclass(frozen=True)
class ClaimedPost:
    """A broadcast post this process now owns in state `sending`."""

    id: int
    campaign_id: int
    chat: str
    token: str
    due_at: datetime


async def claim_due_posts(*, session: AsyncSession, now: datetime) -> list[ClaimedPost]:
    """Move due pending posts of running campaigns to `sending`, in one UPDATE."""
    running = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING)
    queued = POST.alias("queued")
    due = select(queued.c.id).where(
        queued.c.state == PENDING, queued.c.due_at <= now, queued.c.campaign_id.in_(running)
    )
    claim = update(POST).values(state=SENDING)
    if dialect_name(session) == "postgresql":
        locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        stmt = claim.where(POST.c.id == locked.c.id, POST.c.state == PENDING)
    else:
        stmt = claim.where(POST.c.id.in_(due.scalar_subquery()), POST.c.state == PENDING)
    stmt = stmt.returning(POST.c.id, POST.c.campaign_id, POST.c.chat, POST.c.token, POST.c.due_at)
    return [ClaimedPost(*row) for row in await session.execute(stmt)]


async def finish_post(
    *,
    session: AsyncSession,
    post_id: int,
    state: str,
    now: datetime,
    message_id: int | None = None,
    reach: int | None = None,
    reason: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Record what became of a claimed broadcast post (sent, failed, or back to pending)."""
    values: dict[str, Any] = {"state": state, "failure_reason": reason}
    if state == SENT:
        values.update(sent_at=now, telegram_message_id=message_id, reach=reach)
    if due_at is not None:
        values["due_at"] = due_at
    await session.execute(update(POST).where(POST.c.id == post_id).values(**values))


async def next_post_due(*, session: AsyncSession) -> datetime | None:
    """Return the due time of the next pending post of a running campaign."""
    running = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING)
    stmt = select(func.min(POST.c.due_at)).where(
        POST.c.state == PENDING, POST.c.campaign_id.in_(running)
    )
    found: datetime | None = await session.scalar(stmt)
    return found


async def recover_posts(*, session: AsyncSession, reason: str) -> int:
    """Mark posts left in `sending` by a crash `unknown` (a post is never sent twice)."""
    stmt = update(POST).where(POST.c.state == SENDING).values(state=UNKNOWN, failure_reason=reason)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def cancel_posts(*, session: AsyncSession, campaign_id: int) -> int:
    """Cancel a campaign's pending broadcast post."""
    stmt = (
        update(POST)
        .where(POST.c.campaign_id == campaign_id, POST.c.state == PENDING)
        .values(state=CANCELLED)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
