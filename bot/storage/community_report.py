"""Community report queries: per chat, per way in, per member, each one grouped pass."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import dialect_name
from bot.storage.flags import seconds_between
from bot.storage.tables import DONATION, FLAG, INTERACTION, MEMBER_COUNT, SUPPORTER

# What members do in community chats (services/community.py records these kinds).
COMMUNITY_KINDS = (
    "comment",
    "question",
    "question_answered",
    "reaction",
    "joined",
    "left",
    "poll_answer",
)
MEMBERSHIP_KINDS = ("joined", "left")
ENGAGED_KINDS = tuple(k for k in COMMUNITY_KINDS if k not in MEMBERSHIP_KINDS)
START_KIND = "start"
SOURCE_PREFIX = "source:"  # a named source's own interaction (services/sources.py)
ACTIVE_AFTER_JOINING = timedelta(days=30)


def _reachable() -> ColumnElement[bool]:
    s = SUPPORTER.c
    return and_(
        s.chat_id.is_not(None),
        s.consented_at.is_not(None),
        s.opted_out_at.is_(None),
        s.blocked_at.is_(None),
        s.forgotten_at.is_(None),
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
    i = INTERACTION.c
    engaged = i.kind.in_(ENGAGED_KINDS)

    def active(days: int) -> ColumnElement[Any]:
        recent = and_(engaged, i.occurred_at >= now - timedelta(days=days))
        return func.count(distinct(case((recent, i.supporter_id))))

    rows = await session.execute(
        select(
            i.source,
            func.count(distinct(i.supporter_id)),
            active(30),
            active(90),
        )
        .where(i.kind.in_(COMMUNITY_KINDS), i.source.is_not(None))
        .group_by(i.source)
    )
    found: dict[str, dict[str, Any]] = {
        str(source): {
            "chat": str(source),
            "seen": int(seen),
            "active_30": int(a30),
            "active_90": int(a90),
            "reachable": 0,
            "donors": 0,
            "amounts": {},
        }
        for source, seen, a30, a90 in rows
    }
    members = (
        select(i.source.label("chat"), i.supporter_id.label("sid"))
        .where(i.kind.in_(COMMUNITY_KINDS), i.source.is_not(None))
        .distinct()
        .subquery()
    )
    gave = exists().where(DONATION.c.supporter_id == members.c.sid)
    rows = await session.execute(
        select(
            members.c.chat,
            func.count(case((_reachable(), 1))),
            func.count(case((gave, 1))),
        )
        .select_from(members.join(SUPPORTER, SUPPORTER.c.id == members.c.sid))
        .group_by(members.c.chat)
    )
    for chat, reachable, donors in rows:
        found[str(chat)].update(reachable=int(reachable), donors=int(donors))
    d = DONATION.c
    rows = await session.execute(
        select(members.c.chat, d.currency, func.sum(d.amount_minor))
        .select_from(members.join(DONATION, d.supporter_id == members.c.sid))
        .group_by(members.c.chat, d.currency)
    )
    for chat, currency, total in rows:
        found[str(chat)]["amounts"][str(currency)] = int(total or 0)
    return [found[chat] for chat in sorted(found)]


async def member_engagement(*, session: AsyncSession, currency: str) -> list[tuple[int, int]]:
    """Return (engaged interactions, gifts in `currency`) per community member, by id."""
    i, d = INTERACTION.c, DONATION.c
    members = (
        select(i.supporter_id.label("sid"))
        .where(i.kind.in_(COMMUNITY_KINDS))
        .group_by(i.supporter_id)
        .subquery()
    )
    engagement = (
        select(i.supporter_id.label("sid"), func.count().label("n"))
        .where(i.kind.in_(ENGAGED_KINDS))
        .group_by(i.supporter_id)
        .subquery()
    )
    gifts = (
        select(d.supporter_id.label("sid"), func.sum(d.amount_minor).label("amount"))
        .where(d.currency == currency, d.supporter_id.is_not(None))
        .group_by(d.supporter_id)
        .subquery()
    )
    rows = await session.execute(
        select(func.coalesce(engagement.c.n, 0), func.coalesce(gifts.c.amount, 0))
        .select_from(
            members.outerjoin(engagement, engagement.c.sid == members.c.sid).outerjoin(
                gifts, gifts.c.sid == members.c.sid
            )
        )
        .order_by(members.c.sid)
    )
    return [(int(n), int(amount)) for n, amount in rows.tuples()]


def _ways_in() -> Any:
    """Return (kind, name, sid, since): each supporter's ways in, first time each."""
    i, s = INTERACTION.c, SUPPORTER.c
    link = (
        select(
            literal("invite link").label("kind"),
            i.detail.label("name"),
            i.supporter_id.label("sid"),
            func.min(i.occurred_at).label("since"),
        )
        .where(i.kind == "joined", i.detail.is_not(None))
        .group_by(i.detail, i.supporter_id)
    )
    payload = (
        select(
            literal("deep link").label("kind"),
            i.detail.label("name"),
            i.supporter_id.label("sid"),
            func.min(i.occurred_at).label("since"),
        )
        .where(i.kind == START_KIND, i.detail.is_not(None), i.detail != "")
        .group_by(i.detail, i.supporter_id)
    )
    origin = select(
        literal("source").label("kind"),
        s.source.label("name"),
        s.id.label("sid"),
        s.created_at.label("since"),
    ).where(s.source.is_not(None), s.source != "telegram")
    return union_all(link, payload, origin).subquery("way_in")


async def value_by_source(*, session: AsyncSession) -> list[dict[str, Any]]:
    """Count per way in: joined, still a member, active 30 days after, donors, flagged, gifts."""
    w = _ways_in()
    later = INTERACTION.alias("later")
    left = exists().where(
        later.c.supporter_id == w.c.sid,
        later.c.kind == "left",
        later.c.occurred_at >= w.c.since,
    )
    active = exists().where(
        later.c.supporter_id == w.c.sid,
        later.c.kind.not_in((*MEMBERSHIP_KINDS, START_KIND)),
        or_(later.c.source.is_(None), not_(later.c.source.like(f"{SOURCE_PREFIX}%"))),
        later.c.occurred_at >= w.c.since,
        seconds_between(session, w.c.since, later.c.occurred_at)
        <= ACTIVE_AFTER_JOINING.total_seconds(),
    )
    gave = exists().where(DONATION.c.supporter_id == w.c.sid)
    flagged = exists().where(FLAG.c.supporter_id == w.c.sid, FLAG.c.cleared_at.is_(None))
    rows = await session.execute(
        select(
            w.c.kind,
            w.c.name,
            func.count(distinct(w.c.sid)),
            func.count(case((not_(left), 1))),
            func.count(case((active, 1))),
            func.count(case((gave, 1))),
            func.count(case((flagged, 1))),
        ).group_by(w.c.kind, w.c.name)
    )
    found: dict[tuple[str, str], dict[str, Any]] = {
        (str(kind), str(name)): {
            "kind": str(kind),
            "name": str(name),
            "joined": int(joined),
            "still_member": int(still),
            "active_30_days_after": int(act),
            "donors": int(donors),
            "flagged": int(flags),
            "amounts": {},
        }
        for kind, name, joined, still, act, donors, flags in rows
    }
    d = DONATION.c
    ways = select(w.c.kind, w.c.name, w.c.sid).distinct().subquery()
    rows = await session.execute(
        select(ways.c.kind, ways.c.name, d.currency, func.sum(d.amount_minor))
        .select_from(ways.join(DONATION, d.supporter_id == ways.c.sid))
        .group_by(ways.c.kind, ways.c.name, d.currency)
    )
    for kind, name, currency, total in rows:
        found[(str(kind), str(name))]["amounts"][str(currency)] = int(total or 0)
    return sorted(found.values(), key=lambda row: (-row["joined"], row["kind"], row["name"]))


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
    w = _ways_in()
    later = INTERACTION.alias("later")
    active = exists().where(
        later.c.supporter_id == w.c.sid,
        later.c.kind.not_in((*MEMBERSHIP_KINDS, START_KIND)),
        or_(later.c.source.is_(None), not_(later.c.source.like(f"{SOURCE_PREFIX}%"))),
        later.c.occurred_at >= w.c.since,
    )
    flagged = exists().where(FLAG.c.supporter_id == w.c.sid, FLAG.c.cleared_at.is_(None))
    rows = await session.execute(
        select(
            w.c.name,
            func.count(distinct(w.c.sid)),
            func.count(case((active, 1))),
            func.count(case((flagged, 1))),
        )
        .where(w.c.since >= start, w.c.since < end)
        .group_by(w.c.name)
        .order_by(func.count(distinct(w.c.sid)).desc(), w.c.name)
    )
    return [(str(name), int(n), int(a), int(f)) for name, n, a, f in rows]
