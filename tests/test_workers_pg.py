"""Scaling out: two worker processes share one PostgreSQL outbox and never send an ask twice."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest

from bot.sandbox import run_sandbox
from bot.storage.db import create_all, make_engine, session_maker
from tests.conftest import drop_pg_database, fresh_pg_database
from tests.factories import delivery_settings
from tests.helpers import wait_for
from tests.test_crash import (
    assert_each_ask_delivered_at_most_once,
    seed_outbox,
    start_worker,
    unfinished,
    worker_env,
)

ASKS = 2000


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_workers_share_one_campaign_without_sending_an_ask_twice(
    pg_server: str, tmp_path: Path
) -> None:
    url = await asyncio.to_thread(fresh_pg_database, pg_server)
    engine = make_engine(url)
    await create_all(engine)
    sessions = session_maker(engine)
    try:
        async with run_sandbox(limits_enabled=False) as sandbox:
            settings = delivery_settings(sandbox.bot_base_url, sandbox.token)
            await seed_outbox(sessions, sandbox, settings, ASKS)
            env = worker_env(url, sandbox, tmp_path)
            workers = [await start_worker(env, tmp_path, name) for name in ("east", "west")]

            async def settled() -> bool:
                return await unfinished(sessions) == 0

            await wait_for(settled, what="both workers to send every ask", limit=90, every=0.05)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            assert [await w.wait() for w in workers] == [0, 0]

            states, rows = await assert_each_ask_delivered_at_most_once(sandbox, sessions)
            assert states == {"sent": ASKS}
            shares = Counter(a.worker for a in rows)
            assert set(shares) == {"east", "west"}
            assert min(shares.values()) > ASKS // 10, f"one worker barely sent: {shares}"
            print(f"\ntwo workers: asks sent per worker {dict(shares)}")
    finally:
        await engine.dispose()
        await asyncio.to_thread(drop_pg_database, url)
