"""The sandbox's deleteMessage refuses what Telegram refuses: unknown, others', too old."""

from __future__ import annotations

import time

import pytest
from telegram.error import BadRequest

from bot.sandbox import Sandbox
from tests.test_sandbox import ANN, BEN, sandbox_bot

GROUP, TWO_DAYS = -100_4242, 48 * 3600


async def test_a_bot_deletes_its_messages_once_and_only_what_telegram_allows(
    sandbox: Sandbox,
) -> None:
    await sandbox.client.add_user(ANN, "Ann", started=True)
    await sandbox.client.add_user(BEN, "Ben", started=True)
    await sandbox.client.add_chat(GROUP, "supergroup", "Staff", bot_status="member")
    async with sandbox_bot(sandbox) as bot:
        private = await bot.send_message(ANN, "hello")
        assert await bot.delete_message(ANN, private.message_id) is True
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(ANN, private.message_id)
        own = await bot.send_message(GROUP, "relayed")
        theirs = await sandbox.client.send_text(BEN, "/help", chat_id=GROUP)
        with pytest.raises(BadRequest, match=r"(?i)message can.t be deleted$"):
            await bot.delete_message(GROUP, theirs["message"]["message_id"])
        assert await bot.delete_message(GROUP, own.message_id) is True
        late = await bot.send_message(ANN, "old news")
        sandbox.state.wall_clock = lambda: time.time() + TWO_DAYS + 60
        with pytest.raises(BadRequest, match=r"(?i)can.t be deleted for everyone"):
            await bot.delete_message(ANN, late.message_id)
    deletes = [e for e in await sandbox.client.sent() if e["method"] == "deleteMessage"]
    assert [(e["chat_id"], e["message_id"], e["ok"]) for e in deletes] == [
        (ANN, private.message_id, True),
        (ANN, private.message_id, False),
        (GROUP, theirs["message"]["message_id"], False),
        (GROUP, own.message_id, True),
        (ANN, late.message_id, False),
    ]


async def test_an_admin_with_the_right_deletes_old_messages_in_a_supergroup(
    sandbox: Sandbox,
) -> None:
    await sandbox.client.add_user(BEN, "Ben", started=True)
    await sandbox.client.add_chat(GROUP, "supergroup", "Staff")
    async with sandbox_bot(sandbox) as bot:
        theirs = await sandbox.client.send_text(BEN, "hello", chat_id=GROUP)
        sandbox.state.wall_clock = lambda: time.time() + TWO_DAYS + 60
        assert await bot.delete_message(GROUP, theirs["message"]["message_id"]) is True
