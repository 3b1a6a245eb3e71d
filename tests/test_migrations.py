"""Migrations reach head on empty SQLite and PostgreSQL databases and match the models."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlmodel import SQLModel

from bot.storage.db import make_engine
from bot.storage.migrate import alembic_config, upgrade


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
    assert version == "0011_chat_members_from_chats"


SUPPORTER_1 = (
    "INSERT INTO supporter (id, first_name, last_name, language, created_at,"
    " engagement_score, rfm_score, interaction_count, gift_count, gift_total_minor)"
    " VALUES (1, 'S1', '', 'en', '2025-01-01 00:00:00', 0, 0, 0, 0, 0)"
)

ROWS_AT_0002 = (
    "INSERT INTO campaign (id, name, title, state, spec_yaml, spec_hash, audience_size,"
    " created_at) VALUES (1, 'spring', 'Spring', 'running', '', '', 3, '2025-03-03 09:00:00')",
    *(
        f"INSERT INTO supporter (id, first_name, last_name, language, created_at,"
        f" engagement_score, rfm_score, interaction_count, gift_count, gift_total_minor)"
        f" VALUES ({i}, 'S{i}', '', 'en', '2025-01-01 00:00:00', 0, 0, 0, 0, 0)"
        for i in (1, 2)
    ),
    *(
        f"INSERT INTO ask (id, campaign_id, supporter_id, arm, step, language, token, state,"
        f" due_at, attempts) VALUES ({values}, 'en', 't{values[:1]}', '{state}',"
        f" '2025-03-03 09:00:00', 1)"
        for values, state in (
            ("1, 1, 1, 'specific', 'ask'", "sent"),
            ("2, 1, 2, 'broadcast', 'ask'", "unknown"),
            ("3, 1, 1, 'specific', 'reminder'", "sent"),
        )
    ),
    *(
        f"INSERT INTO click (token, ask_id, campaign_id, supporter_id, clicked_at)"
        f" VALUES ('t{ask}', {ask}, 1, {supporter}, '2025-03-04 09:00:00')"
        for ask, supporter in ((1, 1), (2, 2), (3, 1))
    ),
    *(
        f"INSERT INTO reply (supporter_id, ask_id, campaign_id, direction, text, received_at)"
        f" VALUES ({supporter}, {ask}, 1, 'in', 'hi', '2025-03-04 09:00:00')"
        for ask, supporter in ((1, 1), (2, 2), ("NULL", 2))
    ),
)


async def test_0003_copies_each_events_ask_arm_and_reach(db_url: str) -> None:
    """Replies and clicks stored before 0003 get their ask's arm and reach; it also undoes."""
    await asyncio.to_thread(upgrade, db_url, "0002")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            for statement in ROWS_AT_0002:
                await conn.exec_driver_sql(statement)
        await asyncio.to_thread(upgrade, db_url)
        copied = {}
        async with engine.connect() as conn:
            for table in ("click", "reply"):
                result = await conn.exec_driver_sql(
                    f"SELECT ask_id, arm, reached FROM {table} ORDER BY id"
                )
                copied[table] = [
                    (ask, arm, None if r is None else bool(r)) for ask, arm, r in result
                ]
        assert copied == {
            "click": [(1, "specific", True), (2, "broadcast", False), (3, "specific", True)],
            "reply": [(1, "specific", True), (2, "broadcast", False), (None, None, None)],
        }
        await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0002")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("click")}
            )
        assert {"arm", "reached"}.isdisjoint(columns) and "ask_id" in columns
        await asyncio.to_thread(upgrade, db_url)
    finally:
        await engine.dispose()


async def test_0006_adds_the_audit_supporter_and_staff_messages_and_undoes(db_url: str) -> None:
    """Audit entries written before 0006 stay; the new column and table come and go."""
    await asyncio.to_thread(upgrade, db_url, "0005_desk")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(SUPPORTER_1)
            await conn.exec_driver_sql(
                "INSERT INTO audit_log (at, actor_user_id, action, allowed, detail)"
                " VALUES ('2025-03-03 09:00:00', 7, 'launch', true, 'spring')"
            )
        await asyncio.to_thread(upgrade, db_url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE audit_log SET supporter_id = 1")
            await conn.exec_driver_sql(
                "INSERT INTO staff_message (supporter_id, chat_id, message_id, sent_at)"
                " VALUES (1, -100, 5, '2025-03-03 09:00:00')"
            )
            await conn.exec_driver_sql("DELETE FROM supporter WHERE id = 1")
            kept = (await conn.exec_driver_sql("SELECT action, supporter_id FROM audit_log")).all()
        assert [tuple(row) for row in kept] == [("launch", None)]  # SET NULL, not deleted
        await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0005_desk")
        async with engine.connect() as conn:
            tables, columns = await conn.run_sync(
                lambda sync: (
                    inspect(sync).get_table_names(),
                    {c["name"] for c in inspect(sync).get_columns("audit_log")},
                )
            )
        assert "staff_message" not in tables and "supporter_id" not in columns
        await asyncio.to_thread(upgrade, db_url)
    finally:
        await engine.dispose()


async def test_0011_keeps_only_community_chats_as_chat_members(db_url: str) -> None:
    """A CRM comment and a private chat's reply named chats before 0011; afterwards only the
    community recorder's interactions (under an event key) do, with their latest time."""
    await asyncio.to_thread(upgrade, db_url, "0010_community_rollup")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(SUPPORTER_1)
            for kind, source, event, at in (
                ("comment", "museum-crm", None, "2025-02-01 10:00:00"),
                ("question_answered", "telegram", None, "2025-02-02 10:00:00"),
                ("comment", "Harbour chat", "c:-100:5", "2025-02-03 10:00:00"),
                ("reaction", "Harbour chat", "r:-100:5:1", "2025-02-04 10:00:00"),
            ):
                await conn.exec_driver_sql(
                    "INSERT INTO interaction (supporter_id, kind, source, event, occurred_at)"
                    f" VALUES (1, '{kind}', '{source}', {repr(event) if event else 'NULL'},"
                    f" '{at}')"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO community_chat_member (chat, supporter_id, last_engaged_at)"
                    f" VALUES ('{source}', 1, '{at}') ON CONFLICT DO NOTHING"
                )
        await asyncio.to_thread(upgrade, db_url)
        async with engine.connect() as conn:
            rows = (
                await conn.exec_driver_sql(
                    "SELECT chat, supporter_id, last_engaged_at FROM community_chat_member"
                )
            ).all()
        assert [(chat, sid) for chat, sid, _ in rows] == [("Harbour chat", 1)]
        assert str(rows[0][2]).startswith("2025-02-04 10:00:00")
    finally:
        await engine.dispose()
