"""Past campaigns' donation rate: the baseline a new campaign's power and tuning start from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.storage.models import FIRST_STEP, SENT, Ask, Campaign, Donation


async def past_donation_counts(
    *, session: AsyncSession, before: datetime, exclude_campaign_id: int | None = None
) -> tuple[int, int]:
    """Count (donors, recipients) of the campaigns launched before a moment.

    A recipient is a member whose first ask was sent; a donor one of them with a gift credited
    to one of that campaign's asks. Holdouts were sent nothing, so they count in neither.
    """
    launched = select(col(Campaign.id)).where(
        col(Campaign.launched_at).is_not(None), col(Campaign.launched_at) < before
    )
    if exclude_campaign_id is not None:
        launched = launched.where(col(Campaign.id) != exclude_campaign_id)
    ids = launched.scalar_subquery()
    recipients = select(func.count()).where(
        col(Ask.campaign_id).in_(ids), col(Ask.step) == FIRST_STEP, col(Ask.state) == SENT
    )
    pairs = (
        select(col(Ask.campaign_id), col(Ask.supporter_id))
        .join(Donation, col(Donation.ask_id) == col(Ask.id))
        .where(col(Ask.campaign_id).in_(ids))
        .distinct()
        .subquery()
    )
    donors = select(func.count()).select_from(pairs)
    n = int((await session.execute(recipients)).scalar_one())
    d = int((await session.execute(donors)).scalar_one())
    return d, n
