"""The community roll-ups: derived from the interactions, kept current as interactions arrive.

One rule, two uses. The same INSERT ... SELECT statements (`rebuild_statements`) fill every
row after an upgrade (migration 0010, benchmarks/community_report.py) and rebuild one
supporter's rows when something structural happens to them: a join, a leave, a start, a new
import source, an erasure. Everyday engagement (comments, reactions, answers, poll answers,
gifts, clicks, replies) only moves a counter and two times, by upsert, so recording stays
cheap. Every writer of interactions calls `note_interactions` with the rows it inserted, or,
for a batch still in the table (the community recorder's), `note_new_interactions` with a
condition that picks the batch's rows: the same rules, applied by the database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    DateTime,
    Executable,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.storage.dialect import chunks, dialect_name, seconds_apart
from bot.storage.rollup_models import ACTIVE_AFTER_JOINING
from bot.storage.tables import (
    COMMUNITY_CHAT_MEMBER,
    COMMUNITY_MEMBER,
    INTERACTION,
    SUPPORTER,
    WAY_IN,
)

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
# The `source` of a named source's own interaction (services/sources.py records it once per
# supporter): not activity, and not a chat.
SOURCE_PREFIX = "source:"
# A join, a leave or a start can open a way in or end a membership: its supporter's rows are
# rebuilt. Everything else that is not a named source's visit counts as activity.
STRUCTURAL_KINDS = (*MEMBERSHIP_KINDS, START_KIND)
INVITE_LINK, DEEP_LINK, IMPORT_SOURCE = "invite link", "deep link", "source"
# The profile's source "telegram" only says they started the bot: not a way in.
NOT_A_SOURCE = "telegram"
# Supporters rebuilt per statement; a rebuild runs six statements per chunk.
REBUILD_CHUNK = 500
ROLLUP_TABLES = (COMMUNITY_MEMBER, COMMUNITY_CHAT_MEMBER, WAY_IN)


def is_activity(kind: str, source: str | None) -> bool:
    """Tell whether an interaction counts as activity after joining (as `_activity` does)."""
    return kind not in STRUCTURAL_KINDS and not (source or "").startswith(SOURCE_PREFIX)


def _activity(table: Any) -> ColumnElement[bool]:
    c = table.c
    named_source = c.source.like(f"{SOURCE_PREFIX}%")
    return and_(c.kind.not_in(STRUCTURAL_KINDS), or_(c.source.is_(None), not_(named_source)))


# The supporters of a rebuild, as one expanding parameter: its statements are built once.
Supporters = Collection[int] | BindParameter[Any] | None


def _only(column: Any, supporter_ids: Supporters) -> list[ColumnElement[bool]]:
    if supporter_ids is None:
        return []
    if isinstance(supporter_ids, BindParameter):
        return [column.in_(supporter_ids)]
    return [column.in_(list(supporter_ids))]


def _ways_in(supporter_ids: Supporters) -> Any:
    """Return (kind, name, sid, since): each supporter's ways in, first time each."""
    i, s = INTERACTION.c, SUPPORTER.c

    def first_time(kind: str, way: str, *named: ColumnElement[bool]) -> Any:
        return (
            select(
                literal(way).label("kind"),
                i.detail.label("name"),
                i.supporter_id.label("sid"),
                func.min(i.occurred_at).label("since"),
            )
            .where(
                i.kind == kind,
                i.detail.is_not(None),
                *named,
                *_only(i.supporter_id, supporter_ids),
            )
            .group_by(i.detail, i.supporter_id)
        )

    origin = select(
        literal(IMPORT_SOURCE).label("kind"),
        s.source.label("name"),
        s.id.label("sid"),
        s.created_at.label("since"),
    ).where(s.source.is_not(None), s.source != NOT_A_SOURCE, *_only(s.id, supporter_ids))
    return union_all(
        first_time("joined", INVITE_LINK),
        first_time(START_KIND, DEEP_LINK, i.detail != ""),
        origin,
    ).subquery("way")


def _chat_members(supporter_ids: Supporters) -> Any:
    """Return (chat, sid, last engaged) of members of community chats.

    Only what the community recorder wrote, under the event Telegram's ids key, makes a chat
    member: an imported comment's or a private chat's `source` ("museum-crm", "telegram")
    names no chat.
    """
    i = INTERACTION.c
    engaged = i.kind.in_(ENGAGED_KINDS)
    return (
        select(i.source, i.supporter_id, func.max(case((engaged, i.occurred_at))))
        .where(
            i.kind.in_(COMMUNITY_KINDS),
            i.source.is_not(None),
            i.event.is_not(None),
            *_only(i.supporter_id, supporter_ids),
        )
        .group_by(i.source, i.supporter_id)
    )


def chat_member_statements() -> list[Executable]:
    """Return the statements that derive every community chat member afresh (a migration's)."""
    return [
        delete(COMMUNITY_CHAT_MEMBER),
        insert(COMMUNITY_CHAT_MEMBER).from_select(
            ["chat", "supporter_id", "last_engaged_at"], _chat_members(None)
        ),
    ]


def rebuild_statements(supporter_ids: Supporters = None) -> list[Executable]:
    """Return the INSERT ... SELECTs deriving the roll-ups of these supporters (None: all).

    The tables must hold no rows for them yet (`rebuild` deletes them first).
    """
    i = INTERACTION.c
    engaged = i.kind.in_(ENGAGED_KINDS)
    members = (
        select(
            i.supporter_id,
            func.sum(case((engaged, 1), else_=0)),
            func.max(case((i.kind == "left", i.occurred_at))),
        )
        .where(i.kind.in_(COMMUNITY_KINDS), *_only(i.supporter_id, supporter_ids))
        .group_by(i.supporter_id)
    )
    chats = _chat_members(supporter_ids)
    way = _ways_in(supporter_ids)
    left, later = INTERACTION.alias("left_"), INTERACTION.alias("later")
    left_at = (
        select(func.max(left.c.occurred_at))
        .where(left.c.supporter_id == way.c.sid, left.c.kind == "left")
        .scalar_subquery()
    )
    first_active = (
        select(func.min(later.c.occurred_at))
        .where(
            later.c.supporter_id == way.c.sid,
            _activity(later),
            later.c.occurred_at >= way.c.since,
        )
        .scalar_subquery()
    )
    found_rows = select(
        way.c.kind,
        way.c.name,
        way.c.sid,
        way.c.since,
        left_at.label("left_at"),
        first_active.label("first_active_at"),
    )
    # Materialized: each correlated subquery runs once a row, not again in every test of it.
    found = found_rows.cte("found").prefix_with("MATERIALIZED")
    f = found.c
    still = or_(f.left_at.is_(None), f.left_at < f.since)
    soon = seconds_apart(f.since, f.first_active_at) <= ACTIVE_AFTER_JOINING.total_seconds()
    ways = select(
        f.kind,
        f.name,
        f.sid,
        f.since,
        f.left_at,
        f.first_active_at,
        case((still, True), else_=False),
        case((and_(f.first_active_at.is_not(None), soon), True), else_=False),
    )
    return [
        insert(COMMUNITY_MEMBER).from_select(["supporter_id", "engaged", "last_left_at"], members),
        insert(COMMUNITY_CHAT_MEMBER).from_select(
            ["chat", "supporter_id", "last_engaged_at"], chats
        ),
        insert(WAY_IN).from_select(
            [
                "kind",
                "name",
                "supporter_id",
                "since",
                "left_at",
                "first_active_at",
                "still_member",
                "active_30_days_after",
            ],
            ways,
        ),
    ]


@cache
def _rebuild_some() -> list[Executable]:
    """Return the statements rebuilding the supporters given as `sids`, built once."""
    sids: BindParameter[Any] = bindparam("sids", expanding=True)
    deletes = [delete(table).where(table.c.supporter_id.in_(sids)) for table in ROLLUP_TABLES]
    return [*deletes, *rebuild_statements(sids)]


async def rebuild(*, session: AsyncSession, supporter_ids: Collection[int]) -> None:
    """Derive these supporters' roll-up rows afresh from their interactions and profile."""
    await session.flush()  # rows added through the ORM must be there to be read
    for part in chunks(sorted(set(supporter_ids)), REBUILD_CHUNK):
        for statement in _rebuild_some():
            await session.execute(statement, {"sids": part})


def _upsert(session: AsyncSession, table: Table) -> Any:
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    return maker(table)


async def note_interactions(*, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bring the roll-ups up to date with interactions just recorded, each given once.

    Each row holds supporter_id, kind, occurred_at and source (as inserted).
    """
    structural = {int(row["supporter_id"]) for row in rows if row["kind"] in STRUCTURAL_KINDS}
    if structural:
        await rebuild(session=session, supporter_ids=structural)
    engaged: dict[int, int] = {}
    chats: dict[tuple[str, int], datetime] = {}
    active: dict[int, list[datetime]] = {}
    for row in rows:
        sid = int(row["supporter_id"])
        if sid in structural:
            continue  # the rebuild read this batch's rows already
        kind, source, at = row["kind"], row.get("source"), row["occurred_at"]
        if kind in ENGAGED_KINDS:
            engaged[sid] = engaged.get(sid, 0) + 1
            if source is not None and row.get("event") is not None:  # see _chat_members
                key = (str(source), sid)
                chats[key] = max(at, chats.get(key, at))
        if is_activity(kind, source):
            active.setdefault(sid, []).append(at)
    await _count_engagement(session, engaged)
    await _touch_chats(session, chats)
    await _note_activity(session, active)


async def _count_engagement(session: AsyncSession, engaged: Mapping[int, int]) -> None:
    if not engaged:
        return
    statement = _upsert(session, COMMUNITY_MEMBER)
    statement = statement.on_conflict_do_update(
        index_elements=["supporter_id"],
        set_={"engaged": COMMUNITY_MEMBER.c.engaged + statement.excluded.engaged},
    )
    # In id order, so two transactions upserting the same members never deadlock.
    await session.execute(
        statement,
        [
            {"supporter_id": sid, "engaged": n, "last_left_at": None}
            for sid, n in sorted(engaged.items())
        ],
    )


async def _touch_chats(session: AsyncSession, chats: Mapping[tuple[str, int], datetime]) -> None:
    if not chats:
        return
    c = COMMUNITY_CHAT_MEMBER.c
    statement = _upsert(session, COMMUNITY_CHAT_MEMBER)
    at = statement.excluded.last_engaged_at
    later = or_(c.last_engaged_at.is_(None), at > c.last_engaged_at)
    statement = statement.on_conflict_do_update(
        index_elements=["chat", "supporter_id"],
        set_={"last_engaged_at": case((later, at), else_=c.last_engaged_at)},
    )
    await session.execute(
        statement,
        [
            {"chat": chat, "supporter_id": sid, "last_engaged_at": at}
            for (chat, sid), at in sorted(chats.items())
        ],
    )


# Moves a way in's first activity earlier: `at` falls after its start and before the first
# activity known so far (a way in taken later than `at` is left alone). Built once; run as
# one executemany over a batch's activity times, so no lookup precedes it.
_AT = bindparam("at", type_=UTCDateTime())
_FIRST_ACTIVITY = (
    update(WAY_IN)
    .where(
        WAY_IN.c.supporter_id == bindparam("s"),
        WAY_IN.c.since <= _AT,
        or_(WAY_IN.c.first_active_at.is_(None), WAY_IN.c.first_active_at > _AT),
    )
    .values(
        first_active_at=_AT,
        active_30_days_after=seconds_apart(WAY_IN.c.since, _AT)
        <= ACTIVE_AFTER_JOINING.total_seconds(),
    )
)


async def _note_activity(session: AsyncSession, active: Mapping[int, list[datetime]]) -> None:
    """Move each way in's first activity earlier where one of these times is the new first."""
    # In supporter order, so two transactions touching the same members never deadlock.
    times = sorted({(sid, at) for sid, ats in active.items() for at in ats})
    if times:
        await session.execute(_FIRST_ACTIVITY, [{"s": sid, "at": at} for sid, at in times])


@dataclass(frozen=True)
class Inserted:
    """The interactions one INSERT just added.

    On SQLite, every row in the table above `after_id`, the highest id before the insert: a
    new row's id is above every id in the table, and a transaction that writes is SQLite's
    only writer. On PostgreSQL, which inserts from other transactions at the same time, the
    rows as its RETURNING gave them, column by column (supporter_id, kind, occurred_at,
    source): read back by id, the batch cost a scan of the table whenever the planner
    misjudged a large id list.
    """

    after_id: int = 0
    returned: tuple[list[int], list[str], list[datetime], list[str | None]] | None = None

    def params(self) -> dict[str, Any]:
        """Return the bind parameters of `inserted_rows`."""
        if self.returned is not None:
            return dict(zip(_RETURNED, self.returned, strict=True))
        return {"after_id": self.after_id}


_RETURNED = ("new_supporters", "new_kinds", "new_times", "new_sources")


def inserted_rows(dialect: str) -> Any:
    """Return the interactions an Inserted names, as a materialized CTE (supporter_id, kind,
    occurred_at, source): read once, by id on SQLite, whatever other indexes promise."""
    if dialect == "postgresql":
        types: list[TypeEngine[Any]] = [Integer(), String(), DateTime(timezone=True), String()]
        supporters, kinds, times, sources = (
            bindparam(name, type_=ARRAY(kind)) for name, kind in zip(_RETURNED, types, strict=True)
        )
        returned = (
            func.unnest(supporters, kinds, times, sources)
            .table_valued(
                column("supporter_id", Integer()),
                column("kind", String()),
                column("occurred_at", DateTime(timezone=True)),
                column("source", String()),
            )
            .render_derived("returned")
        )
        return select(returned).cte("batch").prefix_with("MATERIALIZED")
    i = INTERACTION.c
    new = i.id > bindparam("after_id", type_=BigInteger())
    rows = select(i.supporter_id, i.kind, i.occurred_at, i.source).where(new)
    return rows.cte("batch").prefix_with("MATERIALIZED")


class _Noting(NamedTuple):
    """note_new_interactions' statements for one dialect."""

    members: Executable
    chats: Executable
    ways: Executable | None  # SQLite's; PostgreSQL moves each way in by itself


@cache
def _noting(dialect: str) -> _Noting:
    """Build note_new_interactions' statements once per dialect."""
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    batch = inserted_rows(dialect)
    b = batch.c
    engaged = b.kind.in_(ENGAGED_KINDS)

    counts = (
        select(b.supporter_id, func.count(), null())
        .where(engaged)
        .group_by(b.supporter_id)
        .order_by(b.supporter_id)
    )
    members = upsert(COMMUNITY_MEMBER).from_select(
        ["supporter_id", "engaged", "last_left_at"], counts
    )
    members = members.on_conflict_do_update(
        index_elements=["supporter_id"],
        set_={"engaged": COMMUNITY_MEMBER.c.engaged + members.excluded.engaged},
    )

    # Only the community recorder notes a batch still in the table, every one of its
    # engagements under an event: each names its chat (as _chat_members asks).
    latest = (
        select(b.source, b.supporter_id, func.max(b.occurred_at))
        .where(engaged, b.source.is_not(None))
        .group_by(b.source, b.supporter_id)
        .order_by(b.source, b.supporter_id)
    )
    chats = upsert(COMMUNITY_CHAT_MEMBER).from_select(
        ["chat", "supporter_id", "last_engaged_at"], latest
    )
    c, at = COMMUNITY_CHAT_MEMBER.c, chats.excluded.last_engaged_at
    later = or_(c.last_engaged_at.is_(None), at > c.last_engaged_at)
    chats = chats.on_conflict_do_update(
        index_elements=["chat", "supporter_id"],
        set_={"last_engaged_at": case((later, at), else_=c.last_engaged_at)},
    )

    if dialect == "postgresql":
        return _Noting(members, chats, None)
    # Each way in's first activity: the batch's earliest activity at or after its start,
    # where that is earlier than the first known so far.
    way, w = WAY_IN.alias("w"), WAY_IN.c
    firsts = (
        select(way.c.kind, way.c.name, way.c.supporter_id, func.min(b.occurred_at).label("at"))
        .join_from(
            batch, way, and_(way.c.supporter_id == b.supporter_id, way.c.since <= b.occurred_at)
        )
        .where(_activity(batch))
        .group_by(way.c.kind, way.c.name, way.c.supporter_id)
        .subquery("activity")
    )
    a = firsts.c
    ways = (
        update(WAY_IN)
        .where(
            w.kind == a.kind,
            w.name == a.name,
            w.supporter_id == a.supporter_id,
            or_(w.first_active_at.is_(None), w.first_active_at > a.at),
        )
        .values(
            first_active_at=a.at,
            active_30_days_after=seconds_apart(w.since, a.at)
            <= ACTIVE_AFTER_JOINING.total_seconds(),
        )
    )
    return _Noting(members, chats, ways)


async def note_new_interactions(
    *, session: AsyncSession, inserted: Inserted, structural: Collection[int]
) -> None:
    """Bring the roll-ups up to date with the interactions an INSERT just added.

    What note_interactions does row by row, done by the database over the batch with a few
    statements built once. `structural` holds at least every supporter with a new join,
    leave or start: their rows are rebuilt afterwards, which undoes whatever the statements
    did to them. The upserts take members in supporter order, so two transactions touching
    the same members never deadlock.

    On PostgreSQL the ways in move as note_interactions moves them, one indexed UPDATE per
    supporter and time in supporter order (one executemany): joined to the batch, the
    planner probed way_in by kind and name, a scan of the chat's members per row, whenever
    it had no statistics yet.
    """
    statements = _noting(dialect_name(session))
    params = inserted.params()
    await session.execute(statements.members, params)
    await session.execute(statements.chats, params)
    if statements.ways is not None:
        await session.execute(statements.ways, params)
    elif inserted.returned is not None:
        active: dict[int, list[datetime]] = {}
        for sid, kind, at, source in zip(*inserted.returned, strict=True):
            if is_activity(kind, source):
                active.setdefault(sid, []).append(at)
        await _note_activity(session, active)
    if structural:
        await rebuild(session=session, supporter_ids=structural)


def locking_in_order(rows: Any) -> Executable:
    """Wrap a SELECT ... FOR UPDATE in a count: its rows are locked in its order, and only
    a number is read back.

    PostgreSQL locks the rows an UPDATE ... FROM changes in whatever order its plan meets
    them; locking them first in a set order keeps two such transactions from deadlocking.
    """
    return select(func.count()).select_from(rows.subquery("locked"))
