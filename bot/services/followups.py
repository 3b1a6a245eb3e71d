"""Follow-up steps: queue a further ask to those who did not reply, click or give in time."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.campaign import frozen_spec
from bot.domain.campaign_state import RUNNING
from bot.domain.schedule import SpreadPlans
from bot.domain.spec import Campaign
from bot.storage import campaign_runs, followups, outbox
from bot.storage.models import PENDING

log = logging.getLogger(__name__)

BATCH = 5000


async def enqueue_follow_ups(
    sessions: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> int:
    """Queue each due follow-up step of a running campaign; return how many asks were added.

    A supporter qualifies when their first ask was sent at least the step's delay ago, they
    are still reachable, did not press "Not now", and did not reply / click / give (per the
    step) for this campaign. The steps are those frozen at launch. Each ask is due at the next
    open moment of the send window in the supporter's time zone; frequency caps and opt-outs
    are checked again when it is sent. Safe to call as often as liked: the unique
    (campaign, supporter, step) key means a step is never queued twice for one person.
    """
    async with sessions() as session:
        row = await campaign_runs.campaign_row(session=session, name=campaign.name)
    if row is None or row.id is None or row.state != RUNNING:
        return 0
    spec = frozen_spec(row.spec_yaml) if row.spec_yaml else campaign
    fallback = settings.timezone if settings is not None else "UTC"
    # A spread plan without a spread is the window's next open stretch: the first due moment.
    plans = SpreadPlans(spec.send_window, now, None, spec.zone(fallback))
    added = 0
    for step in spec.follow_ups:
        arms = spec.follow_up_arms(step)
        after = 0
        while True:
            async with sessions() as session:
                found = await followups.follow_up_candidates(
                    session=session,
                    campaign_id=row.id,
                    campaign_name=spec.name,
                    step=step.name,
                    arms=arms,
                    when=step.when,
                    sent_before=now - step.after,
                    after_supporter=after,
                    limit=BATCH,
                )
            if not found:
                break
            values = [
                (
                    row.id,
                    c.supporter_id,
                    c.arm,
                    step.name,
                    c.rule,
                    (c.language or spec.default_language)[:8],
                    None,  # reports segment supporters by source through their first ask
                    secrets.token_urlsafe(12),
                    PENDING,
                    plans.due_at(c.timezone, 0, 1),
                    0,
                )
                for c in found
            ]
            async with sessions() as session, session.begin():
                await outbox.insert_asks(session=session, rows=values)
            added += len(values)
            after = found[-1].supporter_id
    if added:
        log.info("queued %d follow-up asks for %s", added, spec.name)
    return added


async def enqueue_all_follow_ups(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, settings: Settings
) -> int:
    """Queue due follow-ups of every running campaign (the scheduler's periodic job)."""
    async with sessions() as session:
        rows = [
            r for r in await campaign_runs.campaign_rows(session=session) if r.state == RUNNING
        ]
    added = 0
    for row in rows:
        if row.spec_yaml:
            spec = frozen_spec(row.spec_yaml)
            if spec.follow_ups:
                added += await enqueue_follow_ups(sessions, spec, now=now, settings=settings)
    return added
