"""Benchmark: the community report over a million members and ten million interactions.

Usage: .venv/bin/python benchmarks/community_report.py [--members N] [--interactions N]
       [--backend sqlite|postgres|both] [--rounds N] [--keep PATH] [--reuse] [--rebuild]

Generating a million members with ten million interactions takes minutes a backend, and the
backfill as long, so while iterating keep the database: `--keep PATH` keeps the SQLite file
at PATH (reused when it exists), `--reuse` keeps the PostgreSQL database
`cbbench_community_report` (reused when it holds data). A reused database gets the roll-up
tables afresh (dropped, created from the models, backfilled) only when they are missing or
`--rebuild` is given; without it the report runs on the roll-ups as kept.

The rows are generated inside the database (INSERT ... SELECT over a number series with a
fixed hash of the row number, as benchmarks/_data.py does): members spread over two chats,
community interactions of every kind over half a year (joins through four named links, some
leaves), 50,000 gifts and 5% of members flagged. The community roll-ups are then filled by
the statements migration 0010 backfills an upgraded database with
(bot/storage/community_rollup.rebuild_statements), timed apart. The report is built `rounds`
times; the best and median seconds are printed per backend with the target (under 2 s) and
the machine's load, and each query's seconds (best of the rounds) so the costly one shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._data import (
    PG_ADMIN_DSN,
    _interaction_indexes,
    _Sql,
    _supporters_sql,
    analyze,
    create_pg_database,
    drop_pg_database,
    temp_sqlite_url,
)
from bot.services.community_report import build_community_report
from bot.storage import community_report as store
from bot.storage.community_rollup import ROLLUP_TABLES, rebuild_statements
from bot.storage.db import create_all, is_sqlite, make_engine, session_maker
from bot.storage.reports import tune_for_report
from bot.storage.tables import SUPPORTER

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TARGET_SECONDS = 2.0
KINDS = ("comment", "comment", "reaction", "reaction", "reaction", "question", "poll_answer",
         "joined", "joined", "left")  # fmt: skip
CHATS = ("Harbour Museum chat", "Friends of the museum")
LINKS = ("expo-qr", "bought-followers", "newsletter", "poster")
HALF_YEAR = 182 * 86_400
KEPT_PG_DATABASE = "cbbench_community_report"


def _interactions_sql(sql: _Sql, count: int, members: int) -> str:
    prefix, source = sql.series(count)
    kind = sql.pick(KINDS, sql.hash(31, len(KINDS)))
    chat = sql.pick(CHATS, sql.hash(37, len(CHATS)))
    link = sql.pick(LINKS, sql.hash(41, len(LINKS)))
    return f"""{prefix}
        INSERT INTO interaction (supporter_id, kind, detail, sentiment, occurred_at, source,
                                 event)
        SELECT supporter_id, kind,
            CASE WHEN kind = 'joined' AND n % 3 = 0 THEN {link} END,
            CASE WHEN kind = 'comment' THEN 'neutral' END,
            {sql.seconds_before(NOW, sql.hash(43, HALF_YEAR))},
            {chat},
            'b:' || n
        FROM (SELECT n, 1 + {sql.hash(47, members)} AS supporter_id, {kind} AS kind
              FROM {source}) AS generated"""


def _gifts_sql(sql: _Sql, count: int, members: int) -> str:
    prefix, source = sql.series(count)
    return f"""{prefix}
        INSERT INTO donation (provider, provider_event_id, supporter_id, amount_minor, currency,
            donated_at, recorded_at, attribution)
        SELECT 'bench', 'g' || n, 1 + {sql.hash(53, members)}, 500 * (1 + {sql.hash(59, 20)}),
            CASE WHEN n % 7 = 0 THEN 'USD' ELSE 'EUR' END,
            {sql.seconds_before(NOW, sql.hash(61, HALF_YEAR))},
            {sql.seconds_before(NOW, "0")}, 'unattributed'
        FROM {source}"""


def _flags_sql(sql: _Sql, members: int) -> str:
    prefix, source = sql.series(members // 20)
    return f"""{prefix}
        INSERT INTO supporter_flag (supporter_id, reason, detail, flagged_at)
        SELECT 20 * n, CASE WHEN n % 2 = 0 THEN 'burst_join' ELSE 'inactive' END, '',
            {sql.seconds_before(NOW, "0")}
        FROM {source}"""


async def populate(engine: AsyncEngine, *, members: int, interactions: int) -> float:
    """Create the tables and fill them (not the roll-ups); return the seconds it took."""
    sql = _Sql(is_sqlite(str(engine.url)))
    started = time.perf_counter()
    await create_all(engine)
    async with engine.begin() as conn:
        await conn.execute(text(_supporters_sql(sql, members, NOW)))
        for index in _interaction_indexes():
            await conn.run_sync(index.drop)
        await conn.execute(text(_interactions_sql(sql, interactions, members)))
        for index in _interaction_indexes():
            await conn.run_sync(index.create)
        await conn.execute(text(_gifts_sql(sql, 50_000, members)))
        await conn.execute(text(_flags_sql(sql, members)))
    await analyze(engine)
    return time.perf_counter() - started


async def backfill(engine: AsyncEngine) -> float:
    """Fill the roll-ups afresh as the migrations do; return the seconds it took."""
    started = time.perf_counter()
    async with engine.begin() as conn:
        for table in reversed(ROLLUP_TABLES):
            await conn.run_sync(table.drop, checkfirst=True)
        for index in SUPPORTER.indexes:  # the report's supporter indexes, if new since
            await conn.run_sync(index.create, checkfirst=True)
    await create_all(engine)
    async with engine.begin() as conn:
        for statement in rebuild_statements():
            await conn.execute(statement)
    await analyze(engine)
    return time.perf_counter() - started


async def _has_rows(engine: AsyncEngine, table: str) -> bool:
    async with engine.connect() as conn:
        try:
            return (await conn.scalar(text(f"SELECT 1 FROM {table} LIMIT 1"))) is not None
        except Exception:  # the table is not there yet
            return False


async def _time_queries(engine: AsyncEngine) -> dict[str, float]:
    """Return each of the report's queries' seconds, run one by one."""
    sessions = session_maker(engine)
    queries = {
        "chat_members": lambda s: store.chat_members(session=s, now=NOW),
        "engagement_histogram": lambda s: store.engagement_histogram(session=s, currency="EUR"),
        "value_by_source": lambda s: store.value_by_source(session=s),
        "flagged_by_reason": lambda s: store.flagged_by_reason(session=s),
    }
    seconds = {}
    for name, query in queries.items():
        async with sessions() as session:
            await tune_for_report(session=session)  # as build_community_report does
            started = time.perf_counter()
            await query(session)
            seconds[name] = time.perf_counter() - started
    return seconds


async def bench(
    url: str, *, members: int, interactions: int, rounds: int, rebuild: bool = False
) -> None:
    """Fill one database (or reuse a kept one) and time the report on it."""
    engine = make_engine(url)
    try:
        if await _has_rows(engine, "interaction"):
            print("  reusing the kept database's members, interactions, gifts and flags")
        else:
            loaded = await populate(engine, members=members, interactions=interactions)
            print(f"  loaded {members:,} members, {interactions:,} interactions in {loaded:.1f} s")
            rebuild = True
        if rebuild or not await _has_rows(engine, "way_in"):
            filled = await backfill(engine)
            print(f"  roll-ups backfilled (the migrations' statements) in {filled:.1f} s")
        sessions = session_maker(engine)
        times = []
        per_query: dict[str, float] = {}
        for _ in range(rounds):
            started = time.perf_counter()
            report = await build_community_report(sessions, now=NOW, currency="EUR")
            times.append(time.perf_counter() - started)
            for name, took in (await _time_queries(engine)).items():
                per_query[name] = min(took, per_query.get(name, took))
        best, median = min(times), statistics.median(times)
        print(
            f"  report: best {best:.2f} s, median {median:.2f} s, target < {TARGET_SECONDS:.0f} s"
            f" ({'met' if median < TARGET_SECONDS else 'NOT met'}; {len(report.sources)} ways"
            f" in, {report.concentration['members']:,} members)"
        )
        print("  per query, best: " + ", ".join(f"{k} {v:.2f} s" for k, v in per_query.items()))
    finally:
        await engine.dispose()


async def _kept_pg_database() -> str:
    """Return the URL of the kept PostgreSQL database, created empty if absent."""
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", KEPT_PG_DATABASE
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{KEPT_PG_DATABASE}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{KEPT_PG_DATABASE}"


async def main() -> None:
    """Run the benchmark on the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the SQLite file at PATH")
    parser.add_argument(
        "--reuse", action="store_true", help=f"keep (and reuse) PostgreSQL's {KEPT_PG_DATABASE}"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild a reused database's roll-ups"
    )
    args = parser.parse_args()
    sizes = {
        "members": args.members,
        "interactions": args.interactions,
        "rounds": args.rounds,
        "rebuild": args.rebuild,
    }
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        if args.keep:
            await bench(f"sqlite+aiosqlite:///{args.keep.resolve()}", **sizes)
        else:
            with tempfile.TemporaryDirectory() as directory:
                await bench(temp_sqlite_url(Path(directory)), **sizes)
    if args.backend in ("postgres", "both"):
        print("PostgreSQL")
        if args.reuse:
            await bench(await _kept_pg_database(), **sizes)
        else:
            url = await create_pg_database()
            try:
                await bench(url, **sizes)
            finally:
                await drop_pg_database(url)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
