"""Benchmark: select the museum campaign's audience from a million supporters.

Usage: .venv/bin/python benchmarks/audience.py [--supporters N] [--backend sqlite|postgres|both]

Generates N supporters (default 1,000,000) with 5 interactions each on average and 1 gift per
20 supporters (benchmarks/_data.py), scores them with the application's SQL, then times the
museum campaign (campaigns/museum-winter-appeal.yaml) selected through our audience_query
(count, then stream every row) against the same selection written by hand in SQL, in the same
run, with and without the campaign's limit of 500. Targets: under 3 s, within 2x of the hand-
written query. SQLite runs in a temporary file; PostgreSQL in a throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import UTCDateTime

from benchmarks import _data
from bot.domain.campaign import load_campaign
from bot.domain.spec import Campaign
from bot.storage.audience import count_audience, stream_audience
from bot.storage.db import make_engine, session_maker

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the campaign's start
ZONE = "Europe/Amsterdam"
CAP = timedelta(days=14)

# What a careful person would write by hand for the museum audience: one EXISTS with the three
# `any` rules OR-ed, the recent-gift exclusion, reachability and the cross-campaign cap.
HAND_WHERE = """
FROM supporter s
WHERE s.chat_id IS NOT NULL AND s.consented_at IS NOT NULL AND s.opted_out_at IS NULL
  AND s.blocked_at IS NULL AND s.forgotten_at IS NULL
  AND EXISTS (SELECT 1 FROM interaction i WHERE i.supporter_id = s.id AND (
        (i.kind = 'visited_exhibition' AND i.occurred_at >= :since)
     OR (i.kind = 'comment' AND i.sentiment = 'positive')
     OR i.kind = 'question_answered'))
  AND NOT EXISTS (SELECT 1 FROM donation d
                  WHERE d.supporter_id = s.id AND d.donated_at >= :gift_cutoff)
  AND NOT EXISTS (SELECT 1 FROM ask a WHERE a.supporter_id = s.id AND (
        a.campaign_id = (SELECT id FROM campaign WHERE name = :name)
     OR a.sent_at >= :cap_cutoff
     OR (a.state IN ('pending', 'sending') AND a.due_at >= :cap_cutoff
         AND a.campaign_id IN (SELECT id FROM campaign WHERE state = 'running'))))
"""


def _hand(sql: str, campaign: Campaign) -> Any:
    zone = campaign.zone(ZONE)
    since = campaign.audience.any[0].since
    assert since is not None
    params = {
        "since": datetime.combine(since, datetime.min.time(), tzinfo=zone),
        "gift_cutoff": NOW - timedelta(days=30),
        "cap_cutoff": NOW - CAP,
        "name": campaign.name,
    }
    stmt = text(sql).bindparams(
        *(
            bindparam(key, value, type_=UTCDateTime())
            for key, value in params.items()
            if key != "name"
        ),
        bindparam("name", params["name"]),
    )
    return stmt


async def _ours(session: AsyncSession, campaign: Campaign) -> tuple[int, list[int]]:
    count = await count_audience(session, campaign, now=NOW, cap=CAP, zone=ZONE)
    ids = [
        row.supporter_id
        async for batch in stream_audience(session, campaign, now=NOW, cap=CAP, zone=ZONE)
        for row in batch
    ]
    return count, ids


async def _by_hand(session: AsyncSession, campaign: Campaign) -> tuple[int, list[int]]:
    limit = f" LIMIT {campaign.audience.limit}" if campaign.audience.limit else ""
    count_sql = f"SELECT count(*) FROM (SELECT s.id {HAND_WHERE}{limit}) AS chosen"
    count = int((await session.execute(_hand(count_sql, campaign))).scalar_one())
    ids_sql = f"SELECT s.id {HAND_WHERE} ORDER BY s.engagement_score DESC, s.id{limit}"
    result = await session.stream(_hand(ids_sql, campaign).execution_options(yield_per=5000))
    ids = [row[0] async for partition in result.partitions(5000) for row in partition]
    return count, ids


async def _best_of(
    engine: AsyncEngine,
    select: Callable[[AsyncSession, Campaign], Awaitable[tuple[int, list[int]]]],
    campaign: Campaign,
    runs: int,
) -> tuple[float, tuple[int, list[int]]]:
    best, answer = float("inf"), (0, [])
    for _ in range(runs):
        async with session_maker(engine)() as session:
            started = time.perf_counter()
            answer = await select(session, campaign)
            best = min(best, time.perf_counter() - started)
    return best, answer


async def bench(backend: str, url: str, supporters: int, runs: int) -> None:
    """Generate the data on one backend and print the timings."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        steps = await _data.populate(
            engine, supporters=supporters, interactions=supporters * 5, now=NOW
        )
        generated = time.perf_counter() - started
        scoring = await _data.refresh_scores(engine, now=NOW)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
        print(f"[{backend}] generated {supporters:,} supporters, {supporters * 5:,} interactions"
              f" in {generated:.1f} s ({detail}); scored in {scoring:.1f} s")  # fmt: skip
        museum = load_campaign(ROOT / "campaigns" / "museum-winter-appeal.yaml")
        unlimited = museum.model_copy(
            update={"audience": museum.audience.model_copy(update={"limit": None})}
        )
        for label, campaign in (("limit 500", museum), ("whole audience", unlimited)):
            ours, (our_count, our_ids) = await _best_of(engine, _ours, campaign, runs)
            hand, (hand_count, hand_ids) = await _best_of(engine, _by_hand, campaign, runs)
            same = our_count == hand_count and our_ids == hand_ids
            print(
                f"[{backend}] {label}: {our_count:,} selected; audience_query {ours:.2f} s,"
                f" hand-written {hand:.2f} s, ratio {ours / hand:.2f}"
                f" ({'same rows' if same else 'DIFFERENT ROWS'})"
            )
            if not same:
                raise SystemExit(f"{backend}: our selection differs from the hand-written one")
    finally:
        await engine.dispose()


async def main() -> None:
    """Run the benchmark on the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--supporters", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3, help="Take the best of this many runs.")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            await bench(
                "sqlite", _data.temp_sqlite_url(Path(directory)), args.supporters, args.runs
            )
    if args.backend in ("postgres", "both"):
        url = await _data.create_pg_database()
        try:
            await bench("postgres", url, args.supporters, args.runs)
        finally:
            await _data.drop_pg_database(url)


if __name__ == "__main__":
    asyncio.run(main())
