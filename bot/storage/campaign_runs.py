"""Campaign run state and status: state rows, the frozen spec, ask counts and totals."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.campaign_state import RUNNING
from bot.storage.dialect import dialect_name
from bot.storage.models import FAILED, PENDING, SENT, SKIPPED, UNKNOWN
from bot.storage.models import Campaign as CampaignRow
from bot.storage.tables import ASK, CAMPAIGN, DONATION, REPLY

# --- campaign run state ----------------------------------------------------------------------


async def campaign_row(
    *, session: AsyncSession, name: str, lock: bool = False
) -> CampaignRow | None:
    """Return the run-state row of a campaign, locked for update when asked (PostgreSQL)."""
    stmt = select(CampaignRow).where(CAMPAIGN.c.name == name)
    if lock and dialect_name(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def campaign_rows(*, session: AsyncSession) -> list[CampaignRow]:
    """Return every campaign run-state row, oldest first."""
    stmt = select(CampaignRow).order_by(CAMPAIGN.c.id)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class CampaignRunState:
    """What the worker needs to know about a campaign while sending its asks."""

    id: int
    name: str
    state: str
    spec_yaml: str
    spec_hash: str


async def campaign_run_states(
    *, session: AsyncSession, ids: Collection[int] | None = None
) -> dict[int, CampaignRunState]:
    """Return state and frozen spec of the given campaigns (or of all)."""
    c = CAMPAIGN.c
    stmt = select(c.id, c.name, c.state, c.spec_yaml, c.spec_hash)
    if ids is not None:
        stmt = stmt.where(c.id.in_(list(ids)))
    rows = (await session.execute(stmt)).all()
    return {
        row.id: CampaignRunState(row.id, row.name, row.state, row.spec_yaml, row.spec_hash)
        for row in rows
    }


async def campaign_states(*, session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    """Return just the state of the given campaigns, cheaply, for per-ask re-checks."""
    stmt = select(CAMPAIGN.c.id, CAMPAIGN.c.state).where(CAMPAIGN.c.id.in_(list(ids)))
    return {row.id: row.state for row in (await session.execute(stmt)).all()}


async def running_campaign_ids(*, session: AsyncSession) -> list[int]:
    """List the ids of running campaigns."""
    stmt = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING).order_by(CAMPAIGN.c.id)
    return list((await session.execute(stmt)).scalars())


# --- status ----------------------------------------------------------------------------------


async def count_asks(*, session: AsyncSession, campaign_id: int, step: str | None = None) -> int:
    """Count a campaign's asks (of one step, when given)."""
    stmt = select(func.count()).select_from(ASK).where(ASK.c.campaign_id == campaign_id)
    if step is not None:
        stmt = stmt.where(ASK.c.step == step)
    return int(await session.scalar(stmt) or 0)


async def ask_state_counts(
    *, session: AsyncSession, campaign_id: int
) -> dict[tuple[str, str], int]:
    """Count a campaign's asks by (step, state)."""
    stmt = (
        select(ASK.c.step, ASK.c.state, func.count())
        .where(ASK.c.campaign_id == campaign_id)
        .group_by(ASK.c.step, ASK.c.state)
    )
    return {(row[0], row[1]): int(row[2]) for row in await session.execute(stmt)}


async def reason_counts(
    *,
    session: AsyncSession,
    campaign_id: int,
    states: Collection[str] = (FAILED, SKIPPED, UNKNOWN),
) -> dict[tuple[str, str], int]:
    """Count a campaign's asks in the given states by (state, reason)."""
    stmt = (
        select(ASK.c.state, ASK.c.failure_reason, func.count())
        .where(ASK.c.campaign_id == campaign_id, ASK.c.state.in_(list(states)))
        .group_by(ASK.c.state, ASK.c.failure_reason)
    )
    return {
        (row[0], row[1] or "no reason given"): int(row[2]) for row in await session.execute(stmt)
    }


async def campaign_next_due(*, session: AsyncSession, campaign_id: int) -> datetime | None:
    """Return the due time of a campaign's next pending ask."""
    stmt = select(func.min(ASK.c.due_at)).where(
        ASK.c.campaign_id == campaign_id, ASK.c.state == PENDING
    )
    found: datetime | None = await session.scalar(stmt)
    return found


async def sent_between(
    *, session: AsyncSession, campaign_id: int, start: datetime, end: datetime
) -> int:
    """Count a campaign's asks sent in [start, end)."""
    stmt = select(func.count()).where(
        ASK.c.campaign_id == campaign_id,
        ASK.c.state == SENT,
        ASK.c.sent_at >= start,
        ASK.c.sent_at < end,
    )
    return int(await session.scalar(stmt) or 0)


@dataclass(frozen=True)
class CampaignTotals:
    """Sent asks, replies and gifts of one campaign."""

    sent: int = 0
    replies: int = 0
    gifts: int = 0
    amounts: Mapping[str, int] | None = None


async def campaign_totals(*, session: AsyncSession) -> dict[int, CampaignTotals]:
    """Return sent asks, inbound replies and gifts (count, total per currency) per campaign."""
    sent = dict(
        (await session.execute(
            select(ASK.c.campaign_id, func.count()).where(ASK.c.state == SENT)
            .group_by(ASK.c.campaign_id)
        )).tuples().all()
    )  # fmt: skip
    replies = dict(
        (await session.execute(
            select(REPLY.c.campaign_id, func.count())
            .where(REPLY.c.direction == "in", REPLY.c.campaign_id.is_not(None))
            .group_by(REPLY.c.campaign_id)
        )).tuples().all()
    )  # fmt: skip
    gifts: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    stmt = (
        select(
            DONATION.c.campaign_id,
            DONATION.c.currency,
            func.count(),
            func.sum(DONATION.c.amount_minor),
        )
        .where(DONATION.c.campaign_id.is_not(None))
        .group_by(DONATION.c.campaign_id, DONATION.c.currency)
    )
    for campaign_id, currency, count, total in await session.execute(stmt):
        gifts[campaign_id] = gifts.get(campaign_id, 0) + int(count)
        amounts.setdefault(campaign_id, {})[currency] = int(total or 0)
    ids = set(sent) | set(replies) | set(gifts)
    return {
        cid: CampaignTotals(
            sent=int(sent.get(cid, 0)),
            replies=int(replies.get(cid, 0)),
            gifts=gifts.get(cid, 0),
            amounts=amounts.get(cid, {}),
        )
        for cid in ids
    }
