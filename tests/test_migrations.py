"""Migrations reach head on empty SQLite and PostgreSQL databases and match the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

from bot.storage.db import make_engine
from bot.storage.migrate import upgrade


def _drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_upgrade_to_head_has_no_drift(db_url: str) -> None:
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    async with engine.connect() as conn:
        drift = await conn.run_sync(_drift)
        version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    await engine.dispose()
    assert drift == []
    assert version == "0002"
