"""Pick the baseline donation rate a campaign is planned with: setting, past campaigns, default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.power import DEFAULT_BASELINE_RATE
from bot.storage.baseline import past_donation_counts

SETTING = "setting"
PAST_CAMPAIGNS = "past campaigns"
DEFAULT = "default"


@dataclass(frozen=True)
class Baseline:
    """A donation rate to plan with, and where it came from."""

    rate: float
    source: str  # SETTING, PAST_CAMPAIGNS or DEFAULT


async def planned_baseline(
    sessions: async_sessionmaker[AsyncSession],
    *,
    configured: float | None,
    before: datetime,
    exclude_campaign_id: int | None = None,
) -> Baseline:
    """Return the configured rate, else past campaigns' donation rate, else the default."""
    if configured is not None:
        return Baseline(configured, SETTING)
    async with sessions() as session:
        donors, recipients = await past_donation_counts(
            session=session, before=before, exclude_campaign_id=exclude_campaign_id
        )
    # A rate of exactly 0 or 1 plans nothing; the default is the better guess then.
    if 0 < donors < recipients:
        return Baseline(donors / recipients, PAST_CAMPAIGNS)
    return Baseline(DEFAULT_BASELINE_RATE, DEFAULT)
