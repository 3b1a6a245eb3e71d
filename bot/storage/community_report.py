"""Community report queries over the roll-ups (bot/storage/community_rollup.py), no history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import dialect_name
from bot.storage.models import unreachable
from bot.storage.tables import (
    COMMUNITY_CHAT_MEMBER,
    COMMUNITY_MEMBER,
    DONATION,
    FLAG,
    MEMBER_COUNT,
    SUPPORTER,
    WAY_IN,
)


async def save_member_count(
    *, session: AsyncSession, chat_id: int, title: str, members: int, now: datetime
) -> None:
    """Store a chat's member count for today (UTC); a later count the same day replaces it."""
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    values = {
        "chat_id": chat_id,
        "day": now.date().isoformat(),
        "title": title[:120],
        "members": members,
        "taken_at": now,
    }
    statement = maker(MEMBER_COUNT).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["chat_id", "day"],
            set_={"members": members, "taken_at": now, "title": title[:120]},
        )
    )


async def member_counts(*, session: AsyncSession) -> list[tuple[int, str, str, int]]:
    """Return every snapshot (chat id, title, day, members), oldest first."""
    m = MEMBER_COUNT.c
    rows = await session.execute(
        select(m.chat_id, m.title, m.day, m.members).order_by(m.chat_id, m.day)
    )
    return [(int(c), str(t), str(d), int(n)) for c, t, d, n in rows]


async def chat_members(*, session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    """Count per community chat: members seen, active in 30 and 90 days, reachable, donors."""
    m = COMMUNITY_CHAT_MEMBER.c

    def active(days: int) -> Any:
        return func.count().filter(m.last_engaged_at >= now - timedelta(days=days))

    # One pass over the (chat, last_engaged_at) index counts members seen and active.
    rows = await session.execute(
        select(m.chat, func.count(), active(30), active(90)).group_by(m.chat)
    )
    found: dict[str, dict[str, Any]] = {
        str(chat): {
            "chat": str(chat),
            "seen": int(seen),
            "active_30": int(a30),
            "active_90": int(a90),
            "reachable": 0,
            "donors": 0,
            "amounts": {},
        }
        for chat, seen, a30, a90 in rows
    }
    # Reachable: the members seen less the unreachable ones, led by the supporters' partial
    # index of the unreachable (a few) into the members' (supporter_id, chat) index.
    rows = await session.execute(
        select(m.chat, func.count())
        .select_from(SUPPORTER.join(COMMUNITY_CHAT_MEMBER, m.supporter_id == SUPPORTER.c.id))
        .where(unreachable(SUPPORTER.c))
        .group_by(m.chat)
    )
    unreached = {str(chat): int(n) for chat, n in rows}
    for chat, row in found.items():
        row["reachable"] = row["seen"] - unreached.get(chat, 0)
    for chat, donors, amounts in await _gifts_by(session, m.chat, COMMUNITY_CHAT_MEMBER):
        found[chat].update(donors=donors, amounts=amounts)
    return [found[chat] for chat in sorted(found)]


async def _gifts_by(
    session: AsyncSession, *keys_and_table: Any
) -> list[tuple[Any, int, dict[str, int]]]:
    """Return (group, donors, amount per currency) of the givers found in a roll-up table.

    The givers are few next to the members, so they lead, one row each with a total per
    currency, and each finds its rows once by the table's supporter index (which holds the
    group's columns too): donors and amounts in one pass.
    """
    *keys, table = keys_and_table
    d = DONATION.c
    currencies = sorted(str(code) for code in await session.scalars(select(d.currency).distinct()))
    totals = [
        func.sum(case((d.currency == code, d.amount_minor))).label(f"c{n}")
        for n, code in enumerate(currencies)
    ]
    givers = (
        select(d.supporter_id.label("sid"), *totals)
        .where(d.supporter_id.is_not(None))
        .group_by(d.supporter_id)
        .subquery()
    )
    rows = await session.execute(
        select(*keys, func.count(), *(func.sum(givers.c[f"c{n}"]) for n in range(len(currencies))))
        .select_from(givers.join(table, table.c.supporter_id == givers.c.sid))
        .group_by(*keys)
    )
    found = []
    for row in rows:
        key = row[0] if len(keys) == 1 else tuple(row[: len(keys)])
        donors, *sums = row[len(keys) :]
        amounts = {
            code: int(total)
            for code, total in zip(currencies, sums, strict=True)
            if total is not None
        }
        found.append((key, int(donors), amounts))
    return found


async def engagement_histogram(
    *, session: AsyncSession, currency: str
) -> list[tuple[int, int, int]]:
    """Return (engaged interactions, members, their gifts in `currency`) per engagement."""
    c, d = COMMUNITY_MEMBER.c, DONATION.c
    rows = await session.execute(select(c.engaged, func.count()).group_by(c.engaged))
    members = {int(engaged): int(n) for engaged, n in rows}
    rows = await session.execute(
        select(c.engaged, func.sum(d.amount_minor))
        .select_from(DONATION.join(COMMUNITY_MEMBER, c.supporter_id == d.supporter_id))
        .where(d.currency == currency)
        .group_by(c.engaged)
    )
    given = {int(engaged): int(total or 0) for engaged, total in rows}
    return [(engaged, n, given.get(engaged, 0)) for engaged, n in sorted(members.items())]


async def value_by_source(*, session: AsyncSession) -> list[dict[str, Any]]:
    """Count per way in: joined, still a member, active 30 days after, donors, flagged, gifts."""
    w = WAY_IN.c
    # Grouped on the stored tests, from the (kind, name, still_member, active) index alone.
    rows = await session.execute(
        select(w.kind, w.name, w.still_member, w.active_30_days_after, func.count()).group_by(
            w.kind, w.name, w.still_member, w.active_30_days_after
        )
    )
    counted: dict[tuple[str, str], list[int]] = {}
    for kind, name, still, active, n in rows:
        tally = counted.setdefault((str(kind), str(name)), [0, 0, 0])
        tally[0] += int(n)
        tally[1] += int(n) if still else 0
        tally[2] += int(n) if active else 0
    found: dict[tuple[str, str], dict[str, Any]] = {
        (str(kind), str(name)): {
            "kind": str(kind),
            "name": str(name),
            "joined": int(joined),
            "still_member": int(still_n),
            "active_30_days_after": int(act),
            "donors": 0,
            "flagged": 0,
            "amounts": {},
        }
        for (kind, name), (joined, still_n, act) in counted.items()
    }
    for (kind, name), donors, amounts in await _gifts_by(session, w.kind, w.name, WAY_IN):
        found[(str(kind), str(name))].update(donors=donors, amounts=amounts)
    for kind, name, flagged in await _flagged_by(session, w.kind, w.name):
        found[(kind, name)]["flagged"] = flagged
    return sorted(found.values(), key=lambda row: (-row["joined"], row["kind"], row["name"]))


async def _flagged_by(
    session: AsyncSession, *keys: Any, where: Sequence[ColumnElement[bool]] = ()
) -> list[tuple[str, str, int]]:
    """Count the members with an uncleared flag per way in, from the flags' side (few)."""
    f, w = FLAG.c, WAY_IN.c
    flagged = select(f.supporter_id).where(f.cleared_at.is_(None)).distinct().subquery()
    rows = await session.execute(
        select(*keys, func.count())
        .select_from(flagged.join(WAY_IN, w.supporter_id == flagged.c.supporter_id))
        .where(*where)
        .group_by(*keys)
    )
    return [(str(kind), str(name), int(n)) for kind, name, n in rows]


async def flagged_by_reason(*, session: AsyncSession) -> dict[str, int]:
    """Count uncleared flags per reason."""
    f = FLAG.c
    rows = await session.execute(
        select(f.reason, func.count()).where(f.cleared_at.is_(None)).group_by(f.reason)
    )
    return {str(reason): int(n) for reason, n in sorted(rows.tuples())}


async def newcomers(
    *, session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[str, int, int, int]]:
    """Return (way in, new members, became active, flagged) for ways in taken in a period."""
    w = WAY_IN.c
    taken = (w.since >= start, w.since < end)
    rows = await session.execute(
        select(
            w.name,
            func.count(func.distinct(w.supporter_id)),
            # Per way in, as flags are: one member in through two ways of a name counts twice.
            func.count(case((w.first_active_at.is_not(None), 1))),
        )
        .where(*taken)
        .group_by(w.name)
    )
    counts = {str(name): (int(n), int(a)) for name, n, a in rows}
    flagged: dict[str, int] = {}
    for _, name, n in await _flagged_by(session, w.kind, w.name, where=taken):
        flagged[name] = flagged.get(name, 0) + n
    return sorted(
        ((name, n, a, flagged.get(name, 0)) for name, (n, a) in counts.items()),
        key=lambda row: (-row[1], row[0]),
    )
