"""Shared fixtures: fresh SQLite and PostgreSQL databases, the Bot API sandbox, settings."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings, use_timedelta_durations
from bot.sandbox import Sandbox, run_sandbox
from bot.storage.db import create_all, make_engine, session_maker
from tests.factories import delivery_settings

PG_ADMIN_DSN = os.environ.get("CAMPAIGN_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CAMPAIGN_BOT_REQUIRE_POSTGRES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """Set python-telegram-bot's durations up as the bot does, before any test builds a Bot."""
    use_timedelta_durations()


async def _pg_answers() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _asyncpg_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Yield a throwaway PostgreSQL database URL for this run, or skip with the reason."""
    problem = asyncio.run(_pg_answers())
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (CAMPAIGN_BOT_REQUIRE_POSTGRES=1): {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN} ({problem})")
    name = f"cbtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _asyncpg_url(PG_ADMIN_DSN, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_pg_database(pg_server: str) -> str:
    """Create another empty PostgreSQL database next to the run's one and return its URL."""
    name = f"{pg_server.rsplit('/', 1)[1]}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return pg_server.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    """Drop a database made by fresh_pg_database."""
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Yield an empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    server: str = request.getfixturevalue("pg_server")
    url = fresh_pg_database(server)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Yield an empty SQLite database URL."""
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Yield a session factory over a fresh database with every table, SQLite and PostgreSQL."""
    engine = make_engine(db_url)
    await create_all(engine)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Yield a session factory over a fresh SQLite database with every table."""
    engine = make_engine(sqlite_url)
    await create_all(engine)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """Yield a running local Bot API sandbox with Telegram's flood limits off."""
    async with run_sandbox(limits_enabled=False) as running:
        yield running


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    """Return settings for the services under test, aimed at the test's sandbox if it has one.

    A test without the sandbox fixture gets a Bot API address on a closed loopback port, so
    nothing it runs can reach Telegram.
    """
    if "sandbox" in request.fixturenames:
        sandbox: Sandbox = request.getfixturevalue("sandbox")
        return delivery_settings(sandbox.bot_base_url, sandbox.token)
    return delivery_settings("http://127.0.0.1:9/bot", "1:unused")
