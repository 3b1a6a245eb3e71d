"""The weekly summary's queries: activity per campaign in a week, and once-per-period claims."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import tables
from bot.storage.desk import waiting

OPT_OUT = "opt_out"


_ask = tables.ASK
_campaign = tables.CAMPAIGN
_donation = tables.DONATION
_reply = tables.REPLY
_job_run = tables.JOB_RUN


@dataclass(frozen=True)
class WeekActivity:
    """What happened in one campaign between two moments."""

    campaign_id: int
    name: str
    title: str
    state: str
    asks_sent: int
    replies: int
    gifts: int
    amounts: dict[str, int]
    waiting_replies: int


async def week_activity(
    *, session: AsyncSession, start: datetime, end: datetime
) -> list[WeekActivity]:
    """Summarise each campaign that ran or had activity in [start, end)."""
    c = _campaign
    ended = func.coalesce(c.c.finished_at, c.c.cancelled_at)
    ran = and_(
        c.c.launched_at.is_not(None),
        c.c.launched_at < end,
        or_(ended.is_(None), ended >= start),
    )
    sent = dict(
        (
            await session.execute(
                select(_ask.c.campaign_id, func.count())
                .where(_ask.c.sent_at >= start, _ask.c.sent_at < end)
                .group_by(_ask.c.campaign_id)
            )
        )
        .tuples()
        .all()
    )
    replies = dict(
        (
            await session.execute(
                select(_reply.c.campaign_id, func.count())
                .where(
                    _reply.c.direction == "in",
                    _reply.c.received_at >= start,
                    _reply.c.received_at < end,
                    _reply.c.campaign_id.is_not(None),
                )
                .group_by(_reply.c.campaign_id)
            )
        )
        .tuples()
        .all()
    )
    money = (
        await session.execute(
            select(
                _donation.c.campaign_id,
                _donation.c.currency,
                func.count().label("gifts"),
                func.sum(_donation.c.amount_minor).label("total"),
            )
            .where(
                _donation.c.donated_at >= start,
                _donation.c.donated_at < end,
                _donation.c.campaign_id.is_not(None),
            )
            .group_by(_donation.c.campaign_id, _donation.c.currency)
        )
    ).all()
    waiting = dict(
        (
            await session.execute(
                select(_reply.c.campaign_id, func.count())
                .where(_waiting_reply(), _reply.c.campaign_id.is_not(None))
                .group_by(_reply.c.campaign_id)
            )
        )
        .tuples()
        .all()
    )
    gifts: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    for row in money:
        gifts[row.campaign_id] = gifts.get(row.campaign_id, 0) + int(row.gifts)
        amounts.setdefault(row.campaign_id, {})[row.currency] = int(row.total)
    busy = set(sent) | set(replies) | set(gifts)
    campaigns = (
        await session.execute(
            select(c.c.id, c.c.name, c.c.title, c.c.state)
            .where(or_(ran, c.c.id.in_(busy)) if busy else ran)
            .order_by(c.c.name)
        )
    ).all()
    return [
        WeekActivity(
            campaign_id=row.id,
            name=row.name,
            title=row.title,
            state=row.state,
            asks_sent=int(sent.get(row.id, 0)),
            replies=int(replies.get(row.id, 0)),
            gifts=gifts.get(row.id, 0),
            amounts=dict(sorted(amounts.get(row.id, {}).items())),
            waiting_replies=int(waiting.get(row.id, 0)),
        )
        for row in campaigns
    ]


def _waiting_reply() -> ColumnElement[bool]:
    return waiting()


async def waiting_replies(*, session: AsyncSession) -> int:
    """Count supporter messages still waiting for a staff answer (opt-outs need none)."""
    result = await session.execute(
        select(func.count()).select_from(_reply).where(_waiting_reply())
    )
    return int(result.scalar_one())


async def claim_job_period(*, session: AsyncSession, job: str, period: str, now: datetime) -> bool:
    """Record and commit that job runs for period; False if another run claimed it first.

    The unique (job, period) constraint decides between two processes claiming at once.
    """
    try:
        await session.execute(_job_run.insert().values(job=job, period=period, ran_at=now))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def release_job_period(*, session: AsyncSession, job: str, period: str) -> None:
    """Forget a job's claim on a period, so a failed run is tried again."""
    await session.execute(
        delete(_job_run).where(_job_run.c.job == job, _job_run.c.period == period)
    )


async def job_period_done(*, session: AsyncSession, job: str, period: str) -> bool:
    """Tell whether a job has a recorded run for period."""
    result = await session.execute(
        select(func.count())
        .select_from(_job_run)
        .where(_job_run.c.job == job, _job_run.c.period == period)
    )
    return int(result.scalar_one()) > 0
