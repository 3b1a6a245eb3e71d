"""Flag queries: raise flags once per supporter and reason, clear them, find them in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, not_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.domain import flags as rules
from bot.storage.dialect import dialect_name, seconds_apart
from bot.storage.tables import FLAG, INTERACTION, SUPPORTER

JOINED, LEFT, COMMENT = "joined", "left", "comment"
# Joining and leaving are not engagement: every other interaction kind is.
_MEMBERSHIP = (JOINED, LEFT)


def _insert(session: AsyncSession) -> Any:
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    return maker(FLAG)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """Give end - start in seconds, computed by the database (the session's dialect)."""
    del session  # compiled per dialect by seconds_apart
    return seconds_apart(start, end)


def active_flag() -> ColumnElement[bool]:
    """Return the condition, over the supporter table, that a supporter has an uncleared flag."""
    return exists().where(FLAG.c.supporter_id == SUPPORTER.c.id, FLAG.c.cleared_at.is_(None))


async def add_flags(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Flag supporters (supporter_id, reason, detail, flagged_at); keep flags already there."""
    if rows:
        await session.execute(
            _insert(session).on_conflict_do_nothing(index_elements=["supporter_id", "reason"]),
            [{**row, "detail": str(row.get("detail") or "")[:200]} for row in rows],
        )


async def _flag_from(session: AsyncSession, query: Select[Any]) -> int:
    """Insert the flags a SELECT of (supporter_id, reason, detail, flagged_at) yields."""
    columns = ["supporter_id", "reason", "detail", "flagged_at"]
    statement = (
        _insert(session)
        .from_select(columns, query)
        .on_conflict_do_nothing(index_elements=["supporter_id", "reason"])
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def link_joins(
    *, session: AsyncSession, source: str, link: str, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """Return (supporter, time) of the joins to one chat through one named link in a span."""
    i = INTERACTION.c
    rows = await session.execute(
        select(i.supporter_id, i.occurred_at).where(
            i.kind == JOINED,
            i.source == source,
            i.detail == link,
            i.occurred_at >= start,
            i.occurred_at <= end,
        )
    )
    return [(int(sid), _aware(at)) for sid, at in rows]


async def first_message_soon_after_join(
    *, session: AsyncSession, supporter_id: int, source: str, at: datetime, event: str
) -> bool:
    """Tell whether a message at `at` is the member's first since joining, within the hour.

    `event` is the message's comment event, already stored: comments stored before it came
    first (two messages in one second are told apart by that order).
    """
    i = INTERACTION.c
    joined_at = await session.scalar(
        select(func.max(i.occurred_at)).where(
            i.supporter_id == supporter_id,
            i.kind == JOINED,
            i.source == source,
            i.occurred_at <= at,
        )
    )
    if joined_at is None or at - _aware(joined_at) > rules.SPAM_WITHIN:
        return False
    this = select(i.id).where(i.event == event).scalar_subquery()
    earlier = await session.scalar(
        select(func.count()).where(
            i.supporter_id == supporter_id,
            i.kind == COMMENT,
            i.source == source,
            i.occurred_at >= joined_at,
            i.id < this,
        )
    )
    return not earlier


async def flag_time_based(*, session: AsyncSession, now: datetime) -> dict[str, int]:
    """Raise `left_fast` and `inactive` where the history shows them by now; count new flags."""
    joined, left, other = INTERACTION.alias("j"), INTERACTION.alias("l"), INTERACTION.alias("o")
    gap = seconds_between(session, joined.c.occurred_at, left.c.occurred_at)
    fast = (
        select(
            joined.c.supporter_id,
            literal(rules.LEFT_FAST),
            func.max(func.coalesce(joined.c.source, "")),
            literal(now, FLAG.c.flagged_at.type),
        )
        .join(
            left,
            and_(
                left.c.supporter_id == joined.c.supporter_id,
                left.c.kind == LEFT,
                left.c.occurred_at >= joined.c.occurred_at,
                left.c.occurred_at <= now,
            ),
        )
        .where(joined.c.kind == JOINED, gap <= rules.LEFT_FAST_WITHIN.total_seconds())
        .group_by(joined.c.supporter_id)
    )
    quiet_for = seconds_between(session, joined.c.occurred_at, other.c.occurred_at)
    engaged = exists().where(
        other.c.supporter_id == joined.c.supporter_id,
        other.c.kind.not_in(_MEMBERSHIP),
        other.c.occurred_at >= joined.c.occurred_at,
        quiet_for < rules.INACTIVE_AFTER.total_seconds(),
    )
    inactive = (
        select(
            joined.c.supporter_id,
            literal(rules.INACTIVE),
            func.max(func.coalesce(joined.c.source, "")),
            literal(now, FLAG.c.flagged_at.type),
        )
        .where(
            joined.c.kind == JOINED,
            joined.c.occurred_at <= now - rules.INACTIVE_AFTER,
            not_(engaged),
        )
        .group_by(joined.c.supporter_id)
    )
    return {
        rules.LEFT_FAST: await _flag_from(session, fast),
        rules.INACTIVE: await _flag_from(session, inactive),
    }


async def clear_flags(
    *, session: AsyncSession, supporter_id: int, by: str, now: datetime
) -> list[str]:
    """Clear a supporter's flags; return the reasons cleared."""
    f = FLAG.c
    rows = await session.execute(
        update(FLAG)
        .where(f.supporter_id == supporter_id, f.cleared_at.is_(None))
        .values(cleared_at=now, cleared_by=by[:200])
        .returning(f.reason)
    )
    return sorted(str(reason) for (reason,) in rows)


async def active_reasons(*, session: AsyncSession, supporter_id: int) -> list[str]:
    """Return a supporter's uncleared flags' reasons."""
    f = FLAG.c
    rows = await session.execute(
        select(f.reason).where(f.supporter_id == supporter_id, f.cleared_at.is_(None))
    )
    return sorted(str(reason) for (reason,) in rows)
