"""The relay over the sandbox: "/" text, edits, long messages and hostile names."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from bot.sandbox.markup import html_to_plain
from bot.storage.models import Donation, Reply
from tests.botharness import SPRING_APPEAL, STAFF_CHAT_ID, STAFF_ID, bot_harness
from tests.helpers import wait_for


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


async def test_a_slash_that_is_no_command_is_relayed_and_a_slash_answer_is_delivered(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(501, "Ann")
        await bot.client.send_text(501, "/shrug did my gift arrive?")
        relay = await bot.next_message(STAFF_CHAT_ID, "💬")
        assert relay["text"].endswith(":\n/shrug did my gift arrive?")
        await bot.wait_rows(Reply, Reply.relay_message_id == relay["message_id"])
        await bot.staff_says("/s it did, thank you!", reply_to=relay["message_id"])
        answer = await bot.next_message(501, "it did")
        assert answer["text"] == "/s it did, thank you!"
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Ann")
        # Our own commands are still commands, not messages to relay.
        await bot.client.send_text(501, "/privacy")
        await bot.next_message(501, "")
        assert [e for e in await bot.quiet(STAFF_CHAT_ID) if "💬" in (e["text"] or "")] == []


async def test_edits_are_not_new_messages_answers_or_commands(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns={"spring.yaml": SPRING_APPEAL}) as bot:
        await bot.supporter_starts(502, "Bea", username="bea")
        said = await bot.client.send_text(502, "Is the museum open on Sunday?")
        relay = await bot.next_message(STAFF_CHAT_ID, "💬")
        await bot.wait_rows(Reply, Reply.relay_message_id == relay["message_id"])
        await bot.client.edit_text(502, said["message"]["message_id"], "Is it open on Monday?")

        answer = await bot.staff_says("Yes, from 10!", reply_to=relay["message_id"])
        await bot.next_message(502, "Yes, from 10!")
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Bea")
        message_id = answer["message"]["message_id"]
        await bot.client.edit_text(STAFF_ID, message_id, "Yes, from 11!", chat_id=STAFF_CHAT_ID)
        note = await bot.next_message(STAFF_CHAT_ID, "Edits are not passed on")
        assert note["reply_to_message_id"] == message_id

        # An edited command does not run again: one gift, not two.
        command = await bot.staff_says("/donation @bea 5 EUR")
        await bot.next_message(STAFF_CHAT_ID, "🎁")
        await bot.client.edit_text(
            STAFF_ID, command["message"]["message_id"], "/donation @bea 50 EUR", STAFF_CHAT_ID
        )
        # The bot handles updates in order: once this is answered, the edits were seen.
        await bot.client.send_text(502, "Thanks!")
        await bot.next_message(STAFF_CHAT_ID, "Thanks!")
        assert [m["text"] for m in await bot.sent(502)][1:] == ["Yes, from 10!"]
        assert [d.amount_minor for d in await bot.rows(Donation)] == [500]
        assert len(await bot.rows(Reply, Reply.direction == "in")) == 2
        assert [e["text"] for e in await bot.quiet(STAFF_CHAT_ID)] == []


async def test_a_long_message_is_cut_on_what_the_reader_sees(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(503, "Cas")
        await bot.client.send_text(503, "&" * 5000)
        relay = await bot.next_message(STAFF_CHAT_ID, "💬")
        shown = html_to_plain(relay["text"])
        head, body = shown.split("\n", 1)
        assert _utf16(shown) == 4096 and body == "&" * (4096 - _utf16(head) - 2) + "…"
        await bot.client.send_text(503, "😀" * 2100)  # two UTF-16 units each
        emoji = html_to_plain((await bot.next_message(STAFF_CHAT_ID, "😀"))["text"])
        assert _utf16(emoji) in (4095, 4096) and emoji.endswith("😀…")


async def test_invisible_and_bidi_characters_in_names_cannot_reorder_the_header(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.client.add_user(504, "Eve\u202e\u2066 (@admin, 1) [opt_out]\u200b", "\u2067x")
        await bot.client.start(504)
        await bot.next_message(504)
        await bot.client.send_text(504, "hello")
        relay = (await bot.next_message(STAFF_CHAT_ID, "💬"))["text"]
        head = relay.split("\n", 1)[0]
        assert not BIDI_CONTROLS & set(head)
        assert all(unicodedata.category(c) not in ("Cf", "Cc") for c in head)
        assert head.startswith("💬 <b>Eve (@admin, 1) [opt_out] x</b> (504) (no campaign)")

        await bot.supporter_starts(505, "سارة", visited=None)
        await bot.client.send_text(505, "مرحبا")
        relay = (await bot.next_message(STAFF_CHAT_ID, "مرحبا"))["text"]
        # A right-to-left name is isolated, so the id and campaign after it keep their place.
        assert relay.startswith("💬 <b>\u2068سارة\u2069</b> (505) (no campaign)")


async def test_a_relayed_reply_is_answered_once_even_after_the_supporter_edits(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(506, "Dan")
        said = await bot.client.send_text(506, "first")
        await bot.next_message(STAFF_CHAT_ID, "first")
        await bot.client.edit_text(506, said["message"]["message_id"], "second")
        await bot.client.send_text(506, "third")
        await bot.next_message(STAFF_CHAT_ID, "third")
        texts = [e["text"] for e in await bot.sent(STAFF_CHAT_ID)]
        assert not any("second" in t for t in texts)
        await wait_for(lambda: bot.rows(Reply, Reply.direction == "in"), what="the replies stored")
        assert len(await bot.rows(Reply, Reply.direction == "in")) == 2
