"""Bulk reads and writes behind the CSV import: stored rows by key, inserts, updates, tags."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import chunks
from bot.storage.tables import SUPPORTER, TAG


async def supporter_rows_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """Return the stored supporter rows (as dicts) for these external ids."""
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(external_ids):
        result = await session.execute(select(SUPPORTER).where(SUPPORTER.c.external_id.in_(batch)))
        for row in result.mappings():
            found[row["external_id"]] = dict(row)
    return found


async def supporter_rows_by_telegram_id(
    *, session: AsyncSession, user_ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """Return the stored supporter rows (as dicts) for these Telegram user ids."""
    found: dict[int, dict[str, Any]] = {}
    for batch in chunks(user_ids):
        stmt = select(SUPPORTER).where(SUPPORTER.c.telegram_user_id.in_(batch))
        for row in (await session.execute(stmt)).mappings():
            found[row["telegram_user_id"]] = dict(row)
    return found


async def supporter_ids_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, int]:
    """Map external ids to supporter ids, leaving out unknown and forgotten ones."""
    found: dict[str, int] = {}
    for batch in chunks(external_ids):
        stmt = select(SUPPORTER.c.external_id, SUPPORTER.c.id).where(
            SUPPORTER.c.external_id.in_(batch), SUPPORTER.c.forgotten_at.is_(None)
        )
        found.update({ext: sid for ext, sid in (await session.execute(stmt)).tuples()})
    return found


async def insert_rows(
    *, session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert many rows into a table with one executemany per chunk."""
    for batch in chunks(rows):
        await session.execute(insert(table), list(batch))


async def update_supporter_rows(
    *, session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Update whole supporter rows by id (each row a dict with every column)."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    stmt = (
        update(SUPPORTER)
        .where(SUPPORTER.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )
    for batch in chunks(rows):
        params = [{f"b_{key}": value for key, value in row.items()} for row in batch]
        await session.execute(stmt, params)


async def replace_tags(*, session: AsyncSession, tags: Mapping[int, Collection[str]]) -> None:
    """Replace the tags of each supporter in the mapping."""
    for batch in chunks(tags):
        await session.execute(delete(TAG).where(TAG.c.supporter_id.in_(batch)))
    rows = [{"supporter_id": sid, "tag": tag} for sid, names in tags.items() for tag in names]
    await insert_rows(session=session, table=TAG, rows=rows)
