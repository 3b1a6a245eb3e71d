"""Referral queries: supporters' own codes, who brought whom in, and what those people gave."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import dialect_name
from bot.storage.tables import DONATION, REFERRAL, REFERRAL_CODE, SUPPORTER


def _insert(session: AsyncSession, table: Any) -> Any:
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    return maker(table)


async def code_of(*, session: AsyncSession, supporter_id: int) -> str | None:
    """Return a supporter's referral code, if they have one."""
    found = await session.scalar(
        select(REFERRAL_CODE.c.code).where(REFERRAL_CODE.c.supporter_id == supporter_id)
    )
    return str(found) if found is not None else None


async def add_code(*, session: AsyncSession, supporter_id: int, code: str, now: datetime) -> str:
    """Give a supporter this code unless they have one; return the code they have."""
    await session.execute(
        _insert(session, REFERRAL_CODE)
        .values(supporter_id=supporter_id, code=code, created_at=now)
        .on_conflict_do_nothing(index_elements=["supporter_id"])
    )
    found = await code_of(session=session, supporter_id=supporter_id)
    assert found is not None
    return found


async def referrer_of_code(*, session: AsyncSession, code: str) -> int | None:
    """Return the supporter whose referral code this is."""
    found = await session.scalar(
        select(REFERRAL_CODE.c.supporter_id).where(REFERRAL_CODE.c.code == code)
    )
    return int(found) if found is not None else None


async def credit(
    *,
    session: AsyncSession,
    referred_id: int,
    referrer_id: int,
    via: str,
    new: bool,
    at: datetime,
) -> bool:
    """Credit a supporter to the one who brought them in, unless already credited (first
    touch); return whether this credit was recorded."""
    if referred_id == referrer_id:
        return False
    done = await session.execute(
        _insert(session, REFERRAL)
        .values(referred_id=referred_id, referrer_id=referrer_id, via=via, new=new, at=at)
        .on_conflict_do_nothing(index_elements=["referred_id"])
        .returning(REFERRAL.c.referred_id)
    )
    return done.first() is not None


@dataclass
class ReferrerRow:
    """One referrer's peer-to-peer credit: people brought in and what they gave since."""

    referrer_id: int
    name: str
    starts: int = 0
    re_engaged: int = 0
    donors: set[int] = field(default_factory=set)
    amounts: dict[str, int] = field(default_factory=dict)


async def referrer_rows(*, session: AsyncSession) -> list[ReferrerRow]:
    """Return every referrer's credit: new starts, re-engaged, referred donors and amounts
    per currency of the gifts those people made after they were brought in."""
    r, s, d = REFERRAL.c, SUPPORTER.c, DONATION.c
    rows: dict[int, ReferrerRow] = {}
    people = await session.execute(
        select(r.referrer_id, r.new, s.first_name, s.forgotten_at)
        .join(SUPPORTER, s.id == r.referrer_id)
        .where(r.referrer_id.is_not(None))
    )
    for referrer, new, name, forgotten in people:
        row = rows.setdefault(
            int(referrer), ReferrerRow(int(referrer), "" if forgotten else str(name))
        )
        if new:
            row.starts += 1
        else:
            row.re_engaged += 1
    gifts = await session.execute(
        select(r.referrer_id, d.supporter_id, d.currency, d.amount_minor)
        .join(DONATION, and_(d.supporter_id == r.referred_id, d.donated_at >= r.at))
        .where(r.referrer_id.is_not(None))
    )
    for referrer, donor, currency, amount in gifts:
        row = rows[int(referrer)]
        row.donors.add(int(donor))
        row.amounts[currency] = row.amounts.get(currency, 0) + int(amount)
    return sorted(rows.values(), key=lambda row: (-row.starts - row.re_engaged, row.referrer_id))
