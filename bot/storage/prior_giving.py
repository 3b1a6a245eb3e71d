"""What a campaign's recipients gave in the year before launch: the covariate of CUPED."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import tables
from bot.storage.models import FIRST_STEP, SENT

_ask = tables.ASK
_donation = tables.DONATION
# Supporter ids per IN list: well under SQLite's 32,766 bound parameters.
_CHUNK = 5000


async def prior_giving(
    *, session: AsyncSession, campaign_id: int, currency: str, start: datetime, end: datetime
) -> dict[str, dict[int, int]]:
    """Give, per arm, each recipient's total in one currency given in [start, end).

    Recipients are members whose first ask was sent; those who gave nothing then are left out
    (their zero is implied). Every gift counts, however it was credited: this is what the
    supporter was already giving before the campaign could change anything.
    """
    d, a = _donation.c, _ask.c
    # Two steps, driven by the year's donors rather than by the campaign's (maybe a million)
    # asks: joined in one statement, SQLite walks every ask and probes its gifts.
    totals = select(d.supporter_id, func.sum(d.amount_minor)).where(
        d.supporter_id.is_not(None),
        d.currency == currency,
        d.donated_at >= start,
        d.donated_at < end,
    )
    given = {
        int(sid): int(total)
        for sid, total in (await session.execute(totals.group_by(d.supporter_id))).tuples()
    }
    ids = sorted(given)
    per_arm: dict[str, dict[int, int]] = {}
    for i in range(0, len(ids), _CHUNK):
        members = select(a.arm, a.supporter_id).where(
            a.campaign_id == campaign_id,
            a.step == FIRST_STEP,
            a.state == SENT,
            a.supporter_id.in_(ids[i : i + _CHUNK]),
        )
        for arm, sid in (await session.execute(members)).tuples():
            per_arm.setdefault(arm, {})[int(sid)] = given[int(sid)]
    return per_arm
