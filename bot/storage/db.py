"""The database engine and sessions; every stored datetime is aware UTC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

from bot.storage import models as _models  # noqa: F401  (registers the tables)


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine, with SQLite tuned for one writer and many readers."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 5)
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by every service."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Open an engine for the length of a block and dispose of it afterwards."""
    engine = make_engine(url)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


async def create_all(engine: AsyncEngine) -> None:
    """Create every table directly (tests and the demo; operators use migrations)."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


async def drop_all(engine: AsyncEngine) -> None:
    """Drop every table (tests on a shared PostgreSQL database)."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
