"""Forget reaches the audit log and the staff chat, and export shows what both hold."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.domain.i18n import text
from bot.sandbox import Sandbox
from bot.services.supporters import export_supporter, forget_supporter
from bot.storage.models import (
    AuditEntry,
    Reply,
    StaffMessage,
    Supporter,
)
from bot.telegram.deleter import BotMessageDeleter
from tests.botharness import STAFF_CHAT_ID, BotHarness, bot_harness
from tests.factories import NOW, add_supporter
from tests.helpers import wait_for
from tests.test_forget_hardening import _forget_in_the_chat, _overflowing_supporter
from tests.test_sandbox import sandbox_bot

# --- the audit log and the staff chat ----------------------------------------------------


async def _deletes(bot: BotHarness) -> dict[int, bool]:
    entries = await bot.client.sent(STAFF_CHAT_ID)
    return {e["message_id"]: e["ok"] for e in entries if e["method"] == "deleteMessage"}


async def test_forget_reaches_the_audit_log_and_deletes_the_staff_chats_messages(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        tess = await bot.supporter_starts(701, "Tess", username="tess")
        assert tess.id is not None
        await bot.client.send_text(701, "Can I visit on Sunday?")
        relay = await bot.next_message(STAFF_CHAT_ID, "Can I visit on Sunday?")
        await bot.wait_rows(StaffMessage)  # the relay is remembered just after it is sent
        answer = await bot.staff_says("Yes, from ten.", reply_to=relay["message_id"])
        confirmation = await bot.next_message(STAFF_CHAT_ID, "Sent to Tess")
        await bot.client.send_text(701, "/launch everything, Tess here")
        await bot.next_message(701, "for the organisation's staff")
        await bot.staff_says("/donation @tess 25 EUR")
        gift_note = await bot.next_message(STAFF_CHAT_ID, "from Tess")
        about = [relay["message_id"], answer["message"]["message_id"]]
        about += [confirmation["message_id"], gift_note["message_id"]]

        record = await export_supporter(bot.sessions, tess.id)
        assert sorted(m["message_id"] for m in record["staff_chat_messages"]) == sorted(about)
        audited = {(e["action"], e["allowed"]) for e in record["audit"]}
        assert {("launch", False), ("answer", True), ("donation", True)} <= audited
        typed = [e["detail"] for e in record["audit"] if e["action"] == "launch"]
        assert typed == ["refused: not staff; /launch everything, Tess here"]

        await _forget_in_the_chat(bot, 701)
        deletes = await wait_for(
            lambda: _all_deleted(bot, about), what="the staff chat's messages to be deleted"
        )
        assert all(deletes[m] for m in about)
        async with bot.sessions() as session:
            entries = (await session.execute(select(AuditEntry))).scalars().all()
            left = (await session.execute(select(StaffMessage))).scalars().all()
        assert left == []
        for entry in entries:
            shown = f"{entry.actor_user_id} {entry.actor_name} {entry.campaign} {entry.detail}"
            assert "701" not in shown and "tess" not in shown.lower(), shown
        about_tess = [e for e in entries if e.supporter_id == tess.id]
        assert {(e.action, e.allowed) for e in about_tess} >= {
            ("launch", False),
            ("donation", True),
        }
        # The export of the erased record shows what is left: pseudonymous entries only.
        after = await export_supporter(bot.sessions, tess.id)
        assert after["staff_chat_messages"] == []
        assert all(e["actor_user_id"] is None or e["actor_user_id"] != 701 for e in after["audit"])


async def _all_deleted(bot: BotHarness, message_ids: list[int]) -> dict[int, bool] | None:
    deletes = await _deletes(bot)
    return deletes if all(m in deletes for m in message_ids) else None


async def test_a_relay_telegram_will_not_delete_is_recorded_and_the_erase_stands(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(701, "Tess", username="tess")
        await bot.client.send_text(701, "Please call me back")
        relay = await bot.next_message(STAFF_CHAT_ID, "Please call me back")
        await bot.wait_rows(StaffMessage)
        # Two days on, in a group where the bot is no administrator, Telegram says no.
        await bot.client.set_bot_status(STAFF_CHAT_ID, "member")
        bot.sandbox.state.wall_clock = lambda: time.time() + 49 * 3600
        await _forget_in_the_chat(bot, 701)
        assert (await _deletes(bot)) == {relay["message_id"]: False}
        (left,) = await bot.rows(StaffMessage)
        assert (left.supporter_id, left.message_id) == (None, relay["message_id"])
        assert left.delete_failed is not None and "for everyone" in left.delete_failed
        (tess,) = await bot.rows(Supporter)
        assert tess.forgotten_at is not None and tess.first_name == ""


async def test_forget_on_the_command_line_deletes_the_relays_with_the_bot_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(701, "Tess", username="tess")
        await bot.client.send_text(701, "Please forget me")
        relay = await bot.next_message(STAFF_CHAT_ID, "Please forget me")
        await bot.wait_rows(StaffMessage)
        monkeypatch.chdir(tmp_path)
        for name, value in {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "TELEGRAM_BOT_TOKEN": bot.settings.telegram_bot_token,
            "TELEGRAM_BASE_URL": bot.settings.telegram_base_url,
            "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
        }.items():
            monkeypatch.setenv(name, value)
        command = ["supporters", "forget", "--telegram-id", "701", "--yes"]
        result = await asyncio.to_thread(CliRunner().invoke, app, command)
        assert result.exit_code == 0, result.output
        assert "Deleted 1 messages about them in Telegram." in result.output
        assert (await _deletes(bot)) == {relay["message_id"]: True}
        assert await bot.rows(StaffMessage) == []


async def test_the_readme_names_everything_an_export_holds(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    supporter_id = await _overflowing_supporter(sessions)
    record = await export_supporter(sessions, supporter_id)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("**Export and forget (GDPR).**")
    paragraph = " ".join(readme[start : readme.index("\n\n", start)].split())
    for key in record:
        words = key.replace("staff_chat_", "staff-chat ").replace("_", " ")
        assert words in paragraph, key
    privacy = text("privacy", "en")
    assert "staff chat" in privacy and "audit log" in privacy and "fingerprint" in privacy


async def test_relays_stored_before_staff_messages_existed_are_deleted_too(
    sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await sandbox.client.add_chat(STAFF_CHAT_ID, "supergroup", "Museum staff")
    async with sandbox_bot(sandbox) as bot:
        old_relay = await bot.send_message(STAFF_CHAT_ID, "💬 Ann (555): hello")
        async with sessions() as session, session.begin():
            ann = await add_supporter(session, telegram_user_id=555, first_name="Ann")
            session.add(
                Reply(
                    supporter_id=ann.id,
                    text="hello",
                    received_at=NOW,
                    relay_message_id=old_relay.message_id,
                )
            )
        assert ann.id is not None
        done = await forget_supporter(
            sessions,
            ann.id,
            now=NOW,
            deleter=BotMessageDeleter(bot),
            staff_chat_id=STAFF_CHAT_ID,
        )
    assert (done.staff_messages_deleted, done.staff_messages_left) == (1, ())
    deletes = [e for e in await sandbox.client.sent(STAFF_CHAT_ID) if e["ok"]]
    assert [(e["method"], e["message_id"]) for e in deletes][-1] == (
        "deleteMessage",
        old_relay.message_id,
    )
    async with sessions() as session:
        assert (await session.execute(select(StaffMessage))).first() is None
        (reply,) = (await session.execute(select(Reply))).scalars()
    assert (reply.text, reply.relay_message_id) == ("", None)


async def test_forget_deletes_the_desks_inbox_entries_and_cards_about_them(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        vera = await bot.supporter_starts(702, "Vera", username="vera")
        assert vera.id is not None
        await bot.client.send_text(702, "Is the café open on Mondays?")
        await bot.next_message(STAFF_CHAT_ID, "Is the café open on Mondays?")
        await bot.staff_says("/inbox")
        entry = await bot.next_message(STAFF_CHAT_ID, "Is the café open on Mondays?")
        await bot.staff_says("/who @vera")
        card = await bot.next_message(STAFF_CHAT_ID, "Vera")
        shown = [entry["message_id"], card["message_id"]]
        record = await export_supporter(bot.sessions, vera.id)
        assert set(shown) <= {m["message_id"] for m in record["staff_chat_messages"]}

        await _forget_in_the_chat(bot, 702)
        deletes = await wait_for(
            lambda: _all_deleted(bot, shown), what="the inbox entry and card to be deleted"
        )
        assert all(deletes[m] for m in shown)
