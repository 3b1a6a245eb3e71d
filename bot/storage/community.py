"""Community queries: members as supporters, message facts, polls and events, in batches."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Executable,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.domain.public_asks import WrittenMessage
from bot.storage.community_rollup import (
    STRUCTURAL_KINDS,
    Inserted,
    inserted_rows,
    locking_in_order,
    note_new_interactions,
)
from bot.storage.dialect import chunks, dialect_name, driver_connection, sqlite_time
from bot.storage.tables import (
    ASK,
    COMMUNITY_MESSAGE,
    COMMUNITY_POLL,
    COMMUNITY_RESPONSE,
    INTERACTION,
    SUPPORTER,
)

MessageKey = tuple[int, int]  # (chat id, message id)


def _insert(session: AsyncSession, table: Any) -> Any:
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    return maker(table)


@dataclass(frozen=True)
class _Bulk:
    """An INSERT ... ON CONFLICT DO NOTHING of a batch's rows on the driver's own connection.

    The community recorder writes a thousand rows a batch to each of three tables, and
    SQLAlchemy's per-row parameter handling (and its compiling every ON CONFLICT statement
    afresh) was most of its CPU. SQLite gets one executemany of plain tuples, times in
    SQLAlchemy's storage format; PostgreSQL one statement over arrays, one per column.
    """

    table: str
    columns: tuple[tuple[str, str], ...]  # each column's name and PostgreSQL array type
    conflict: str  # the unique columns, as ON CONFLICT names them

    def _sqlite(self) -> str:
        names = ", ".join(name for name, _ in self.columns)
        marks = ", ".join("?" for _ in self.columns)
        return (
            f"INSERT INTO {self.table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({self.conflict}) DO NOTHING"
        )

    def _postgres(self) -> str:
        names = ", ".join(name for name, _ in self.columns)
        arrays = ", ".join(f"${n}::{kind}" for n, (_, kind) in enumerate(self.columns, 1))
        return (
            f"INSERT INTO {self.table} ({names}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({self.conflict}) DO NOTHING"
        )

    async def insert(
        self, session: AsyncSession, rows: Sequence[Mapping[str, Any]], *, returning: str = ""
    ) -> Any:
        """Insert the rows (dicts by column name), skipping those already there.

        PostgreSQL returns the RETURNING columns of the rows added, when asked; SQLite the
        driver's cursor.
        """
        if not rows:
            return None
        raw = await driver_connection(session)
        if dialect_name(session) == "postgresql":
            columns = [[row[name] for row in rows] for name, _ in self.columns]
            if returning:
                return await raw.fetch(f"{self._postgres()} RETURNING {returning}", *columns)
            return await raw.execute(self._postgres(), *columns)
        values = itemgetter(*(name for name, _ in self.columns))
        times = [n for n, (_, kind) in enumerate(self.columns) if kind.startswith("timestamp")]
        stored: list[list[Any]] = []
        written: dict[datetime, str] = {}  # Telegram's times are to the second: many repeat
        for row in rows:
            found = list(values(row))
            for n in times:
                at = found[n]
                if at is not None:
                    text = written.get(at)
                    if text is None:
                        text = written[at] = sqlite_time(at)
                    found[n] = text
            stored.append(found)
        return await raw.executemany(self._sqlite(), stored)


_MESSAGES = _Bulk(
    "community_message",
    (
        ("chat_id", "bigint[]"),
        ("message_id", "bigint[]"),
        ("topic", "varchar[]"),
        ("asker_id", "bigint[]"),
        ("author_id", "bigint[]"),
        ("sent_at", "timestamptz[]"),
        ("sentiment", "varchar[]"),
    ),
    "chat_id, message_id",
)
_RESPONSES = _Bulk(
    "community_response",
    (
        ("event", "varchar[]"),
        ("author_id", "bigint[]"),
        ("responder_id", "bigint[]"),
        ("kind", "varchar[]"),
        ("at", "timestamptz[]"),
    ),
    "event",
)
_RETURNING = "supporter_id, kind, occurred_at, source"  # what note_new_interactions reads
_EVENTS = _Bulk(
    "interaction",
    (
        ("event", "varchar[]"),
        ("supporter_id", "bigint[]"),
        ("kind", "varchar[]"),
        ("detail", "varchar[]"),
        ("sentiment", "varchar[]"),
        ("occurred_at", "timestamptz[]"),
        ("source", "varchar[]"),
    ),
    "event",
)


# --- members -------------------------------------------------------------------------------


async def supporter_ids(*, session: AsyncSession, user_ids: Collection[int]) -> dict[int, int]:
    """Return the supporter id of each Telegram user id that has one."""
    found: dict[int, int] = {}
    for part in chunks(user_ids):
        rows = await session.execute(
            select(SUPPORTER.c.telegram_user_id, SUPPORTER.c.id).where(
                SUPPORTER.c.telegram_user_id.in_(part)
            )
        )
        found.update({int(user): int(supporter) for user, supporter in rows})
    return found


async def unlinked_by_username(
    *, session: AsyncSession, usernames: Collection[str]
) -> dict[str, int]:
    """Return imported supporters without a Telegram id, by lower-cased username (oldest)."""
    found: dict[str, int] = {}
    for part in chunks(sorted({name.lower() for name in usernames})):
        rows = await session.execute(
            select(func.lower(SUPPORTER.c.username), SUPPORTER.c.id)
            .where(
                func.lower(SUPPORTER.c.username).in_(part),
                SUPPORTER.c.telegram_user_id.is_(None),
                SUPPORTER.c.forgotten_at.is_(None),
            )
            .order_by(SUPPORTER.c.id.desc())
        )
        found.update({str(name): int(supporter) for name, supporter in rows})
    return found


async def link_telegram(*, session: AsyncSession, supporter_id: int, user_id: int) -> None:
    """Give an imported supporter the Telegram id a community member turned out to have."""
    await session.execute(
        update(SUPPORTER)
        .where(SUPPORTER.c.id == supporter_id, SUPPORTER.c.telegram_user_id.is_(None))
        .values(telegram_user_id=user_id)
    )


async def add_members(*, session: AsyncSession, members: Sequence[dict[str, Any]]) -> None:
    """Add community members as supporters (not consented, not reachable); skip known ids.

    Each dict holds telegram_user_id, first_name, last_name, username, language, source and
    created_at. ON CONFLICT: a member who starts the bot at the same moment is not an error.
    """
    zero = {
        "engagement_score": 0.0,
        "rfm_score": 0,
        "interaction_count": 0,
        "gift_count": 0,
        "gift_total_minor": 0,
    }
    if members:
        # One statement with many parameter sets: SQLAlchemy compiles it once and caches it.
        await session.execute(
            _insert(session, SUPPORTER).on_conflict_do_nothing(
                index_elements=["telegram_user_id"]
            ),
            [{**zero, **member} for member in members],
        )


# --- message facts -------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageFact:
    """What is kept about one community message: its topic and, for a question, its asker."""

    topic: str
    asker_id: int | None
    answered_at: datetime | None
    author_id: int | None = None


async def message_facts(
    *, session: AsyncSession, keys: Collection[MessageKey]
) -> dict[MessageKey, MessageFact]:
    """Return the stored facts of these (chat, message) pairs."""
    c = COMMUNITY_MESSAGE.c
    columns = (c.chat_id, c.message_id, c.topic, c.asker_id, c.answered_at, c.author_id)
    wanted: list[Any] = []
    if dialect_name(session) == "postgresql":
        for part in chunks(keys, 1000):
            wanted.append(select(*columns).where(tuple_(c.chat_id, c.message_id).in_(part)))
    else:
        # SQLite reads a (chat, message) IN (VALUES ...) list by scanning the whole table, and
        # a chat's message ids by the primary key.
        by_chat: dict[int, list[int]] = {}
        for chat, message in keys:
            by_chat.setdefault(chat, []).append(message)
        for chat, messages in sorted(by_chat.items()):
            for ids in chunks(sorted(messages)):
                wanted.append(select(*columns).where(c.chat_id == chat, c.message_id.in_(ids)))
    found: dict[MessageKey, MessageFact] = {}
    for query in wanted:
        for chat, message, topic, asker, answered, author in await session.execute(query):
            found[(int(chat), int(message))] = MessageFact(topic, asker, answered, author)
    return found


async def save_message_facts(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store message facts (chat_id, message_id, topic, asker_id, author_id, sent_at,
    sentiment); keep any already stored."""
    await _MESSAGES.insert(session, rows)


async def save_responses(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store replies and reactions to members' messages (event, author_id, responder_id,
    kind, at), once."""
    await _RESPONSES.insert(session, rows)


async def mark_answered(
    *, session: AsyncSession, answers: Sequence[tuple[MessageKey, datetime]]
) -> None:
    """Note when questions were first answered."""
    if not answers:
        return
    c = COMMUNITY_MESSAGE.c
    await session.execute(
        update(COMMUNITY_MESSAGE)
        .where(
            c.chat_id == bindparam("chat"),
            c.message_id == bindparam("message"),
            c.answered_at.is_(None),
        )
        .values(answered_at=bindparam("at", type_=UTCDateTime())),
        [{"chat": chat, "message": message, "at": at} for (chat, message), at in answers],
    )


async def written_since(
    *, session: AsyncSession, supporter_ids: Collection[int], since: datetime
) -> dict[int, list[WrittenMessage]]:
    """Return each supporter's community messages sent since a moment (facts, never text)."""
    c = COMMUNITY_MESSAGE.c
    found: dict[int, list[WrittenMessage]] = {}
    for part in chunks(supporter_ids):
        rows = await session.execute(
            select(
                c.author_id, c.chat_id, c.message_id, c.sent_at, c.sentiment, c.answered_at
            ).where(c.author_id.in_(part), c.sent_at >= since)
        )
        for author, chat, message, at, sentiment, answered in rows:
            found.setdefault(int(author), []).append(
                WrittenMessage(int(chat), int(message), at, sentiment, answered is not None)
            )
    return found


async def group_reply_times(
    *, session: AsyncSession, campaign_ids: Collection[int], since: datetime
) -> dict[tuple[int, int], list[datetime]]:
    """Return when each campaign's asks went to each group chat since a moment."""
    a = ASK.c
    found: dict[tuple[int, int], list[datetime]] = {}
    if not campaign_ids:
        return found
    rows = await session.execute(
        select(a.campaign_id, a.chat_id, a.sent_at).where(
            a.campaign_id.in_(list(campaign_ids)), a.chat_id < 0, a.sent_at >= since
        )
    )
    for campaign, chat, at in rows:
        found.setdefault((int(campaign), int(chat)), []).append(at)
    return found


# --- polls ---------------------------------------------------------------------------------


async def add_poll(
    *,
    session: AsyncSession,
    poll_id: str,
    chat_id: int,
    message_id: int,
    source: str,
    question: str,
    options: str,
    sent_at: datetime,
) -> None:
    """Remember a poll the bot sent in a community chat."""
    await session.execute(
        _insert(session, COMMUNITY_POLL)
        .values(
            poll_id=poll_id,
            chat_id=chat_id,
            message_id=message_id,
            source=source[:120],
            question=question[:300],
            options=options,
            sent_at=sent_at,
        )
        .on_conflict_do_nothing(index_elements=["poll_id"])
    )


async def polls(*, session: AsyncSession, poll_ids: Collection[str]) -> dict[str, tuple[str, str]]:
    """Return each known poll's source and options (a JSON list), by poll id."""
    c = COMMUNITY_POLL.c
    found: dict[str, tuple[str, str]] = {}
    for part in chunks(poll_ids):
        rows = await session.execute(
            select(c.poll_id, c.source, c.options).where(c.poll_id.in_(part))
        )
        found.update({str(poll): (str(source), str(options)) for poll, source, options in rows})
    return found


# --- events --------------------------------------------------------------------------------


async def add_events(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Record interactions under their event keys, each once; count the new ones.

    Each dict holds supporter_id, kind, detail, sentiment, occurred_at, source and event.
    Only the rows actually inserted move their supporter's count and latest time, and the
    roll-ups. A batch is a thousand rows, so they go in on the driver's own connection
    (SQLAlchemy's per-row parameter handling was most of the recorder's CPU), and what
    follows is worked out by the database from the batch's rows in the table.
    """
    if not rows:
        return 0
    dialect = dialect_name(session)
    if dialect == "postgresql":
        new = await _EVENTS.insert(session, rows, returning=_RETURNING)
        returned = (
            [r[0] for r in new],
            [r[1] for r in new],
            [r[2] for r in new],
            [r[3] for r in new],
        )
        inserted, added = Inserted(returned=returned), len(new)
    else:
        i = INTERACTION.c
        before = (await session.execute(select(func.coalesce(func.max(i.id), 0)))).scalar_one()
        cursor = await _EVENTS.insert(session, rows)
        inserted, added = Inserted(after_id=int(before)), cursor.rowcount
    if not added:
        return 0
    # A join, leave or start sent again is no new row, but rebuilding its supporter anyway
    # gives the same rows: the rebuild derives them from everything in the table.
    structural = {row["supporter_id"] for row in rows if row["kind"] in STRUCTURAL_KINDS}
    await note_new_interactions(session=session, inserted=inserted, structural=structural)
    for statement in _counting(dialect):
        await session.execute(statement, inserted.params())
    return int(added)


@cache
def _counting(dialect: str) -> list[Executable]:
    """Return the statements moving each supporter's count and latest time by a batch."""
    new = inserted_rows(dialect)
    counted = (
        select(
            new.c.supporter_id.label("sid"),
            func.count().label("added"),
            func.max(new.c.occurred_at).label("latest"),
        )
        .group_by(new.c.supporter_id)
        .subquery("counted")
    )
    s, n = SUPPORTER.c, counted.c
    later = or_(s.last_interaction_at.is_(None), s.last_interaction_at < n.latest)
    move = (
        update(SUPPORTER)
        .where(s.id == n.sid)
        .values(
            interaction_count=s.interaction_count + n.added,
            last_interaction_at=case((later, n.latest), else_=s.last_interaction_at),
        )
    )
    if dialect != "postgresql":
        return [move]
    lock = select(literal(1)).where(s.id == n.sid).order_by(s.id).with_for_update(of=SUPPORTER)
    return [locking_in_order(lock), move]


# --- export and erasure --------------------------------------------------------------------


async def asked_questions(*, session: AsyncSession, supporter_id: int) -> list[dict[str, Any]]:
    """Return the facts kept about a supporter's questions in community chats (no text)."""
    c = COMMUNITY_MESSAGE.c
    rows = await session.execute(
        select(c.chat_id, c.message_id, c.topic, c.answered_at)
        .where(c.asker_id == supporter_id)
        .order_by(c.chat_id, c.message_id)
    )
    return [dict(row) for row in rows.mappings()]


async def written_messages(*, session: AsyncSession, supporter_id: int) -> list[dict[str, Any]]:
    """Return the facts kept about a supporter's messages in community chats (no text)."""
    c = COMMUNITY_MESSAGE.c
    rows = await session.execute(
        select(c.chat_id, c.message_id, c.sent_at, c.sentiment)
        .where(c.author_id == supporter_id)
        .order_by(c.chat_id, c.message_id)
    )
    return [dict(row) for row in rows.mappings()]


async def erase_community_facts(*, session: AsyncSession, supporter_id: int) -> None:
    """Unlink a supporter from their community questions and messages (topics stay)."""
    c = COMMUNITY_MESSAGE.c
    await session.execute(
        update(COMMUNITY_MESSAGE)
        .where(c.asker_id == supporter_id)
        .values(asker_id=None, answered_at=None)
    )
    await session.execute(
        update(COMMUNITY_MESSAGE)
        .where(c.author_id == supporter_id)
        .values(author_id=None, sent_at=None, sentiment=None)
    )
    r = COMMUNITY_RESPONSE.c
    await session.execute(
        delete(COMMUNITY_RESPONSE).where(
            or_(r.author_id == supporter_id, r.responder_id == supporter_id)
        )
    )
