"""Where SQLite and PostgreSQL differ: the dialect's name, parameter chunks, raw connections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Float, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

# Both SQLite and asyncpg accept far more bound parameters than this per statement.
CHUNK = 5000
T = TypeVar("T")
# The largest value a BIGINT column holds: running totals saturate here instead of failing.
BIGINT_MAX = 2**63 - 1


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


class saturating_sum(GenericFunction[int]):  # lower case, as SQLAlchemy names SQL functions
    """SUM of integers that stops at BIGINT_MAX instead of failing with an overflow."""

    type = BigInteger()
    inherit_cache = True


@compiles(saturating_sum)
def _saturating_sum(element: saturating_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL sums BIGINT as NUMERIC, which is exact and cannot overflow.
    argument = compiler.process(element.clauses, **kw)
    return f"CAST(LEAST(SUM({argument}), {BIGINT_MAX}) AS BIGINT)"


@compiles(saturating_sum, "sqlite")
def _saturating_sum_sqlite(element: saturating_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's SUM fails on overflow and it has no wider integer; TOTAL is a float that never
    # overflows (exact for totals below 2^53 minor units) and CAST saturates at BIGINT_MAX.
    argument = compiler.process(element.clauses, **kw)
    return f"CAST(TOTAL({argument}) AS INTEGER)"


class seconds_apart(GenericFunction[float]):  # lower case, as SQLAlchemy names SQL functions
    """seconds_apart(start, end): end - start in seconds, computed by the database.

    Compiled per dialect when the statement runs, so statements built without a session (the
    migrations' backfill) can hold it.
    """

    type = Float()
    inherit_cache = True


@compiles(seconds_apart)
def _seconds_apart(element: seconds_apart, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end}) - ({start}))"


@compiles(seconds_apart, "sqlite")
def _seconds_apart_sqlite(element: seconds_apart, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"
