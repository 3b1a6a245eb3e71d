"""Benchmark: launch a campaign to a million supporters with five million interactions.

Usage: .venv/bin/python benchmarks/launch.py [--supporters N] [--backend sqlite|postgres]

Targets: under 60 s and under 300 MB peak memory. The data are generated inside the database
by INSERT ... SELECT over a number series with a fixed hash of the row number. The launch then
runs in a fresh child process, so its peak memory (ru_maxrss) is the launch's own: select the
audience in the database, assign arms, compute each due time in the supporter's time zone,
and write the asks in batches, one transaction each. PostgreSQL is the server the tests use
(CAMPAIGN_BOT_TEST_PG); a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import text

from benchmarks._data import SeriesSql
from bot.config import load_settings
from bot.domain.spec import Campaign
from bot.services.launch import launch_campaign
from bot.storage.db import create_all, make_engine, session_maker

PG_ADMIN_DSN = os.environ.get("CAMPAIGN_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KINDS = ("visited_exhibition", "comment", "question_answered", "newsletter_open", "event_signup")
SPEC: dict[str, Any] = {
    "name": "million-appeal",
    "title": "Keep the museum open",
    "organisation": "Harbour Museum",
    "donate_url": "https://donate.example.org/harbour",
    "timezone": "Europe/Amsterdam",
    "send_window": {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "hours": "10:00-20:00"},
    "spread": "3d",
    "audience": {
        "any": [
            {"interaction": "visited_exhibition", "since": "2025-06-01"},
            {"interaction": "comment", "sentiment": "positive"},
            {"interaction": "question_answered"},
        ],
        "exclude": [{"donated_within": "30d"}],
        "order_by": "engagement",
    },
    "arms": {
        "specific": {"kind": "specific", "weight": 45, "message": "personal"},
        "broadcast": {"kind": "broadcast", "weight": 45, "message": "generic"},
        "holdout": {"kind": "holdout", "weight": 10},
    },
    "messages": {
        "personal": {"en": 'Dear {{ name }}, <a href="{{ donate_link }}">help us</a>'},
        "generic": {"en": 'Please <a href="{{ donate_link }}">help us</a>'},
    },
}


class Sql(SeriesSql):
    """The few expressions that differ between SQLite and PostgreSQL."""

    def days_before_now(self, days: str) -> str:
        """A stored UTC moment `days` days before NOW, in each backend's storage format."""
        if self.postgres:
            return f"(TIMESTAMPTZ '2026-12-01 09:00:00+00' - ({days}) * INTERVAL '1 day')"
        return (
            "(strftime('%Y-%m-%d %H:%M:%S', '2026-12-01 09:00:00', "
            f"'-' || ({days}) || ' days') || '.000000')"
        )


def statements(sql: Sql, supporters: int) -> list[str]:
    """Give the INSERT ... SELECT statements: supporters, 5 interactions each, some gifts."""
    r = sql.rand
    kind = "CASE " + " ".join(f"WHEN {i} THEN '{k}'" for i, k in enumerate(KINDS)) + " END"
    return [
        f"""INSERT INTO supporter (id, telegram_user_id, chat_id, first_name, last_name, language,
            timezone, consented_at, created_at, engagement_score, rfm_score, interaction_count,
            gift_count, gift_total_minor)
        SELECT i, 10000000 + i, 10000000 + i, 'S' || i, '',
            CASE WHEN {r("i", 1, 5)} = 0 THEN 'nl' ELSE 'en' END,
            CASE WHEN {r("i", 2, 50)} = 0 THEN 'America/New_York' END,
            {sql.days_before_now("400")}, {sql.days_before_now("500")},
            {r("i", 3, 10000)} / 100.0, {r("i", 4, 125)}, 5, 0, 0
        FROM {sql.numbers(supporters)}""",
        f"""INSERT INTO interaction (supporter_id, kind, detail, sentiment, occurred_at, source)
        SELECT s.id, {kind.replace("CASE", f"CASE {r('s.id * 5 + k.i', 5, 5)}", 1)},
            'Exhibition ' || {r("s.id + k.i", 6, 12)},
            CASE {r("s.id * 7 + k.i", 7, 3)} WHEN 0 THEN 'positive' WHEN 1 THEN 'neutral'
              ELSE 'negative' END,
            {sql.days_before_now(r("s.id * 11 + k.i", 8, 700))}, 'import'
        FROM supporter s CROSS JOIN {sql.numbers(5).replace(" AS n", " AS k")}""",
        f"""INSERT INTO donation (provider, provider_event_id, supporter_id, amount_minor,
            currency, donated_at, attribution, recorded_at)
        SELECT 'import', 'g' || i, i, 2500, 'EUR', {sql.days_before_now(r("i", 9, 90))},
            'unattributed', {sql.days_before_now("0")}
        FROM {sql.numbers(supporters)} WHERE {r("i", 10, 20)} = 0""",
        "ANALYZE",
    ]


async def make_database(backend: str, tmp: Path, supporters: int) -> tuple[str, Any]:
    """Create and fill a database; return its URL and a drop function (or None)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'launch.db'}"
        drop = None
    else:
        name = f"bench_launch_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{base}/{name}"

        async def drop_pg() -> None:
            c = await asyncpg.connect(PG_ADMIN_DSN)
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await c.close()

        drop = drop_pg
    engine = make_engine(url)
    await create_all(engine)
    started = time.perf_counter()
    async with engine.begin() as conn:
        for statement in statements(Sql(backend == "postgres"), supporters):
            await conn.execute(text(statement))
        counts = {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("supporter", "interaction", "donation")
        }
    await engine.dispose()
    print(f"data: {counts} in {time.perf_counter() - started:.0f} s")
    return url, drop


async def launch_once(url: str) -> dict[str, Any]:
    """Launch the campaign (in this process) and report time, asks and peak memory."""
    engine = make_engine(url)
    sessions = session_maker(engine)
    settings = load_settings(
        {"database_url": url, "timezone": "Europe/Amsterdam", "frequency_cap_days": 14},
        env_file=None,
    )
    campaign = Campaign.model_validate(SPEC)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    seconds = time.perf_counter() - started
    async with engine.connect() as conn:
        asks = (await conn.execute(text("SELECT count(*) FROM ask"))).scalar_one()
    await engine.dispose()
    return {
        "seconds": seconds,
        "audience": result.audience_size,
        "asks": asks,
        "queued": result.queued,
        "holdout": result.holdout,
        "first_due": str(result.first_due),
        "last_due": str(result.last_due),
        "peak_mb_before": before / 1024,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url, drop = await make_database(args.backend, Path(folder), args.supporters)
        try:
            child = subprocess.run(  # noqa: ASYNC221 (the launch must not share this process)
                [sys.executable, __file__, "--launch-child", url],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            if drop:
                await drop()
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"launch on {args.backend}: audience {figures['audience']:,} supporters, "
        f"{figures['asks']:,} asks written ({figures['queued']:,} queued, "
        f"{figures['holdout']:,} holdout)"
    )
    print(
        f"   {figures['seconds']:.1f} s (target < 60 s), "
        f"{figures['asks'] / figures['seconds']:,.0f} asks/s"
    )
    print(
        f"   peak memory of the launching process: {figures['peak_mb']:.0f} MB (target < 300 MB; "
        f"{figures['peak_mb_before']:.0f} MB before the launch began)"
    )
    print(f"   due from {figures['first_due']} to {figures['last_due']}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--launch-child":
        print(json.dumps(asyncio.run(launch_once(sys.argv[2]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supporters", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    asyncio.run(main(parser.parse_args()))
