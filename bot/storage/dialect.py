"""Where SQLite and PostgreSQL differ: the dialect's name, parameter chunks, raw connections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

# Both SQLite and asyncpg accept far more bound parameters than this per statement.
CHUNK = 5000
T = TypeVar("T")


def dialect_name(session: AsyncSession) -> str:
    """Return the name of the session's database dialect: "sqlite" or "postgresql"."""
    return session.get_bind().dialect.name


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Split items into lists of at most `size`, one list per statement's `IN (...)`."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_time(moment: datetime) -> str:
    """Write an aware time as SQLAlchemy stores it in SQLite: naive UTC text, microseconds."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(sep=" ", timespec="microseconds")[:26]


async def driver_connection(session: AsyncSession) -> Any:
    """Give the driver's own connection (asyncpg's or aiosqlite's) inside the session's
    transaction, for the few bulk paths where SQLAlchemy's per-row work costs too much.

    One statement goes through SQLAlchemy first, so the driver has opened the session's
    transaction and whatever runs on the raw connection belongs to it.
    """
    await session.execute(select(1))
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return raw
