"""Fast synthetic data for benchmarks: supporters, interactions and gifts generated in SQL.

Every row is computed inside the database by ``INSERT ... SELECT`` over a number series
(a recursive CTE on SQLite, ``generate_series`` on PostgreSQL) from a fixed integer hash of
the row number, so both backends hold the same data and a million supporters with five
million interactions load in well under two minutes. Functions:

* ``temp_sqlite_url(directory)`` / ``create_pg_database()`` / ``drop_pg_database(url)``:
  throwaway databases (PostgreSQL through the admin DSN in CAMPAIGN_BOT_TEST_PG).
* ``populate(engine, supporters=, interactions=, gifts=, now=)``: create the tables and fill
  them; interaction indexes are dropped during the load and rebuilt after it (faster).
* ``refresh_scores(engine, now=)``: compute every supporter's aggregates and scores with the
  application's own SQL (bot/storage/supporters.refresh_supporter_scores).

The data, for supporter n (1..N): 90% reachable (chat and consent), 2% opted out, 1% blocked,
a third speak Dutch; interactions pick a supporter by hash, a kind from KINDS (weighted), an
exhibition as detail for visits, a sentiment for comments, and a time up to two years back.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
from sqlalchemy import Index, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.db import create_all, is_sqlite, session_maker
from bot.storage.supporters import refresh_supporter_scores
from bot.storage.tables import INTERACTION

PG_ADMIN_DSN = os.environ.get("CAMPAIGN_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# Kinds by tenths of the rows: visits 30%, comments 20%, then 10% each.
KINDS = (
    "visited_exhibition", "visited_exhibition", "visited_exhibition", "comment", "comment",
    "question_answered", "event", "newsletter_open", "start", "click",
)  # fmt: skip
EXHIBITIONS = ("Dutch Masters", "Harbour Lights", "Modern Photography", "Ships in Bottles")
SENTIMENTS = ("positive", "neutral", "negative")
TWO_YEARS = 730 * 86_400
_PRIME = 4_294_967_291  # n * multiplier stays far below 2**63 for n up to 10**9


def temp_sqlite_url(directory: Path) -> str:
    """Return the URL of a new SQLite file in `directory`."""
    return f"sqlite+aiosqlite:///{directory / f'bench-{uuid.uuid4().hex[:8]}.db'}"


async def create_pg_database() -> str:
    """Create an empty PostgreSQL database next to the admin one and return its URL."""
    name = f"cbbench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database."""
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class SeriesSql:
    """Row-number series and fixed pseudo-random integers, written for SQLite or PostgreSQL."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def numbers(self, n: int) -> str:
        """A FROM clause yielding i = 1..n."""
        if self.postgres:
            return f"generate_series(1, {n}) AS n(i)"
        return (
            "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
            f"WHERE i < {n}) SELECT i FROM s) AS n"
        )

    @staticmethod
    def rand(key: str, salt: int, modulo: int) -> str:
        """A fixed pseudo-random integer in [0, modulo) from a row key (a multiplicative hash)."""
        factor, offset = 2654435761 + 2 * salt, salt * 7919
        return f"(((CAST({key} AS BIGINT) * {factor} + {offset}) % 1000003) % {modulo})"


class _Sql:
    """The expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def series(self, count: int) -> tuple[str, str]:
        """Return (WITH prefix, FROM clause) yielding n = 1..count."""
        if self.sqlite:
            prefix = (
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                f"WHERE n < {count}) "
            )
            return prefix, "seq"
        return "", f"generate_series(1, {count}) AS seq(n)"

    def hash(self, salt: int, modulo: int) -> str:
        """Return a well-spread integer in [0, modulo) from the row number n.

        Each salt has its own multiplier, so different columns are not offsets of one
        sequence (a shared multiplier would give every supporter the same kind).
        """
        n = "n" if self.sqlite else "CAST(n AS BIGINT)"
        multiplier = random.Random(salt).randrange(1 << 24, _PRIME)
        return f"(({n} * {multiplier}) % {_PRIME}) % {modulo}"

    def seconds_before(self, now: datetime, seconds: str) -> str:
        """Return a timestamp `seconds` before now, stored as our models store it."""
        epoch = int(now.timestamp())
        if self.sqlite:
            # SQLAlchemy's SQLite DateTime text form: "YYYY-MM-DD HH:MM:SS.ffffff" in UTC.
            return (
                f"strftime('%Y-%m-%d %H:%M:%S', {epoch} - ({seconds}), 'unixepoch') || '.000000'"
            )
        return f"to_timestamp({epoch} - ({seconds}))"

    def pick(self, options: tuple[str, ...], index: str) -> str:
        """Return a CASE choosing options[index]."""
        whens = " ".join(f"WHEN {i} THEN '{option}'" for i, option in enumerate(options))
        return f"CASE {index} {whens} END"


def _supporters_sql(sql: _Sql, count: int, now: datetime) -> str:
    prefix, source = sql.series(count)
    at_now = sql.seconds_before(now, "0")
    reachable = "n % 10 <> 0"
    return f"""{prefix}
        INSERT INTO supporter (id, external_id, telegram_user_id, chat_id, username, first_name,
            last_name, language, source, consented_at, opted_out_at, blocked_at, created_at,
            engagement_score, rfm_score, interaction_count, gift_count, gift_total_minor)
        SELECT n, 'S' || n, 1000000000 + n,
            CASE WHEN {reachable} THEN 1000000000 + n END,
            'user' || n, 'Name' || n, '',
            CASE WHEN {sql.hash(7, 3)} = 0 THEN 'nl' ELSE 'en' END,
            CASE WHEN {sql.hash(11, 4)} = 0 THEN 'import' ELSE 'qr-code' END,
            CASE WHEN {reachable} THEN {at_now} END,
            CASE WHEN n % 50 = 7 THEN {at_now} END,
            CASE WHEN n % 100 = 13 THEN {at_now} END,
            {at_now}, 0, 0, 0, 0, 0
        FROM {source}"""


def _interactions_sql(sql: _Sql, count: int, supporters: int, now: datetime) -> str:
    prefix, source = sql.series(count)
    kind = sql.pick(KINDS, sql.hash(3, len(KINDS)))
    detail = sql.pick(EXHIBITIONS, sql.hash(5, len(EXHIBITIONS)))
    sentiment = sql.pick(SENTIMENTS, sql.hash(13, len(SENTIMENTS)))
    return f"""{prefix}
        INSERT INTO interaction (supporter_id, kind, detail, sentiment, occurred_at, source)
        SELECT supporter_id, kind,
            CASE WHEN kind = 'visited_exhibition' THEN {detail} END,
            CASE WHEN kind = 'comment' THEN {sentiment} END,
            {sql.seconds_before(now, sql.hash(17, TWO_YEARS))},
            'bench'
        FROM (SELECT n, 1 + {sql.hash(1, supporters)} AS supporter_id, {kind} AS kind
              FROM {source}) AS generated"""


def _gifts_sql(sql: _Sql, count: int, supporters: int, now: datetime) -> str:
    prefix, source = sql.series(count)
    return f"""{prefix}
        INSERT INTO donation (provider, provider_event_id, supporter_id, amount_minor, currency,
            donated_at, recorded_at, attribution)
        SELECT 'bench', 'g' || n, 1 + {sql.hash(19, supporters)},
            500 * (1 + {sql.hash(23, 20)}), 'EUR',
            {sql.seconds_before(now, sql.hash(29, TWO_YEARS))},
            {sql.seconds_before(now, "0")}, 'unattributed'
        FROM {source}"""


async def _run(conn: AsyncConnection, statement: str) -> None:
    await conn.execute(text(statement))


def _interaction_indexes() -> list[Index]:
    return sorted(INTERACTION.indexes, key=lambda index: str(index.name))


async def populate(
    engine: AsyncEngine,
    *,
    supporters: int,
    interactions: int,
    gifts: int | None = None,
    now: datetime,
) -> dict[str, float]:
    """Create the tables and fill them; return the seconds each step took."""
    sql = _Sql(is_sqlite(str(engine.url)))
    gifts = supporters // 20 if gifts is None else gifts
    timings: dict[str, float] = {}
    await create_all(engine)
    async with engine.begin() as conn:
        started = time.perf_counter()
        await _run(conn, _supporters_sql(sql, supporters, now))
        timings["supporters"] = time.perf_counter() - started
        for index in _interaction_indexes():
            await conn.run_sync(index.drop)
        started = time.perf_counter()
        await _run(conn, _interactions_sql(sql, interactions, supporters, now))
        timings["interactions"] = time.perf_counter() - started
        started = time.perf_counter()
        for index in _interaction_indexes():
            await conn.run_sync(index.create)
        timings["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        await _run(conn, _gifts_sql(sql, gifts, supporters, now))
        timings["gifts"] = time.perf_counter() - started
    started = time.perf_counter()
    async with engine.begin() as conn:
        await _run(conn, "ANALYZE")
    timings["analyze"] = time.perf_counter() - started
    return timings


async def refresh_scores(engine: AsyncEngine, *, now: datetime) -> float:
    """Score every supporter with the application's SQL; return the seconds it took."""
    started = time.perf_counter()
    async with session_maker(engine)() as session, session.begin():
        await refresh_supporter_scores(session=session, now=now, main_currency="EUR")
    async with engine.begin() as conn:
        await _run(conn, "ANALYZE")
    return time.perf_counter() - started


async def analyze(engine: AsyncEngine) -> None:
    """ANALYZE; on PostgreSQL VACUUM too, as autovacuum does after bulk changes.

    Its visibility map lets counts read covering indexes alone, and vacuuming clears the dead
    row versions that updates leave; autovacuum is off on the test server, so a benchmark
    that stands for production does its work at the points it would have run.
    """
    if is_sqlite(str(engine.url)):
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE)"))
