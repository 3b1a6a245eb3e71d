"""The conversation desk over the sandbox: inbox, claims, Done and Stop, saved answers, /who."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from html import escape, unescape
from pathlib import Path
from typing import Any

from sqlmodel import col

from bot.domain.money import format_amount
from bot.storage.models import SENT, Ask, DeskClaim, Donation, Interaction, Reply, Supporter
from tests.botharness import SPRING_APPEAL, STAFF_CHAT_ID, STAFF_ID, BotHarness, bot_harness
from tests.helpers import wait_for

KIM = 7002
ANSWERS = """\
opening-hours:
  keywords: [open, hours, geopend, openingstijden]
  en: "Hello {{ name }}! {{ organisation }} is open Tuesday to Sunday, 10:00 to 17:00."
  nl: "Hallo {{ name }}! {{ organisation }} is open van dinsdag tot en met zondag."
receipt:
  keywords: [receipt, kwitantie]
  en: "We e-mail a receipt within a week."
"""
CAMPAIGNS = {"spring.yaml": SPRING_APPEAL, "answers.yaml": ANSWERS}
TWO_STAFF = {"staff_user_ids": f"{STAFF_ID},{KIM}"}


def _buttons(entry: dict[str, Any]) -> dict[str, str]:
    """Map each inline button's label to its callback data."""
    rows = (entry.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


async def _pressed(bot: BotHarness, user_id: int, message_id: int, data: str) -> dict[str, Any]:
    """Press a button in the staff chat and return the bot's answer to the press."""
    press = await bot.client.press(user_id, message_id, data, STAFF_CHAT_ID)
    return await _answer_of(bot, press)


async def _answer_of(bot: BotHarness, press: dict[str, Any]) -> dict[str, Any]:
    query_id = press["callback_query"]["id"]

    async def answered() -> dict[str, Any] | None:
        answer = await bot.client.callback_answer(query_id)
        return answer if answer and answer.get("answered") else None

    return await wait_for(answered, what="the answer to a button press")


async def _writes(bot: BotHarness, user_id: int, text: str) -> dict[str, Any]:
    """Have a supporter write to the bot; return the relay in the staff chat."""
    await bot.client.send_text(user_id, text)
    return await bot.next_message(STAFF_CHAT_ID, escape(text, quote=False))


async def _waiting(bot: BotHarness) -> list[Reply]:
    rows = await bot.rows(Reply, Reply.direction == "in")
    return [
        r
        for r in rows
        if r.answered_at is None and r.closed_at is None and r.classification != "opt_out"
    ]


async def test_two_staff_press_answer_at_once_and_only_one_holds_the_supporter(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS, settings=TWO_STAFF) as bot:
        await bot.client.add_user(KIM, "Kim", "Staff", username="kim_staff", started=True)
        await bot.supporter_starts(301, "Ann", username="ann")
        await bot.launch("spring-appeal", deliver_to=[301])
        (ask,) = await bot.rows(Ask)
        relay = await _writes(bot, 301, "How long will the exhibition stay?")
        (reply,) = await bot.wait_rows(Reply, Reply.relay_message_id == relay["message_id"])
        buttons = _buttons(relay)
        assert buttons["✍️ Answer"] == f"desk:a:{reply.id}"
        assert {"✓ Done", "⛔ Stop", "🪪 Who"} <= set(buttons)

        inbox = await bot.staff_command("/inbox", "Inbox")
        assert "1 message(s) waiting" in inbox["text"]
        entry = await bot.next_message(STAFF_CHAT_ID, "How long will the exhibition stay?")
        assert f"on <b>spring-appeal</b> / {ask.arm} [question], waiting" in entry["text"]
        assert _buttons(entry)["✍️ Answer"] == f"desk:a:{reply.id}"

        # Both press Answer at the same moment, one on the relay and one on the inbox entry.
        sam, kim = await asyncio.gather(
            bot.client.press(STAFF_ID, relay["message_id"], f"desk:a:{reply.id}", STAFF_CHAT_ID),
            bot.client.press(KIM, entry["message_id"], f"desk:a:{reply.id}", STAFF_CHAT_ID),
        )
        answers = {STAFF_ID: await _answer_of(bot, sam), KIM: await _answer_of(bot, kim)}
        (claim,) = await bot.rows(DeskClaim)
        winner = claim.staff_user_id
        loser = KIM if winner == STAFF_ID else STAFF_ID
        assert "Write your answer" in str(answers[winner]["text"])
        assert "is answering this supporter" in str(answers[loser]["text"])
        assert claim.staff_name in str(answers[loser]["text"])
        assert answers[loser]["show_alert"]

        prompt = await bot.next_message(STAFF_CHAT_ID, "write your answer to")
        assert prompt["reply_markup"]["force_reply"] is True
        # The relay now says who is answering.
        shown = [
            e
            for e in await bot.sent(STAFF_CHAT_ID)
            if e["method"] == "editMessageReplyMarkup" and e["message_id"] == relay["message_id"]
        ]
        assert f"✋ {claim.staff_name} is answering" in _buttons(shown[-1])

        # The other one replies to the relay anyway: refused, nothing reaches Ann.
        await bot.client.send_text(
            loser, "Until March!", chat_id=STAFF_CHAT_ID, reply_to_message_id=relay["message_id"]
        )
        await bot.next_message(STAFF_CHAT_ID, "yours was not sent")
        assert not [e for e in await bot.quiet(301) if "March" in (e.get("text") or "")]

        # The holder answers through the forced reply; Ann gets it and the inbox empties.
        await bot.client.send_text(
            winner, "Until April!", chat_id=STAFF_CHAT_ID, reply_to_message_id=prompt["message_id"]
        )
        delivered = await bot.next_message(301, "Until April!")
        assert delivered["parse_mode"] is None
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Ann")
        (out,) = await bot.wait_rows(Reply, Reply.direction == "out")
        assert (out.staff_user_id, out.text) == (winner, "Until April!")
        assert await _waiting(bot) == []
        assert await bot.rows(DeskClaim) == []
        empty = await bot.staff_command("/inbox", "inbox is empty")
        assert "no supporter is waiting" in empty["text"]


async def test_a_claim_lapses_after_fifteen_minutes(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS, settings=TWO_STAFF) as bot:
        await bot.client.add_user(KIM, "Kim", "Staff", started=True)
        await bot.supporter_starts(301, "Ann")
        relay = await _writes(bot, 301, "Can I bring my dog?")
        data = _buttons(relay)["✍️ Answer"]
        assert "Write your answer" in str(
            (await _pressed(bot, STAFF_ID, relay["message_id"], data))["text"]
        )
        bot.advance(timedelta(minutes=14))
        held = await _pressed(bot, KIM, relay["message_id"], data)
        assert "Sam Staff is answering this supporter (for 14m)" in str(held["text"])
        bot.advance(timedelta(minutes=2))
        taken = await _pressed(bot, KIM, relay["message_id"], data)
        assert "Write your answer" in str(taken["text"])
        (claim,) = await bot.rows(DeskClaim)
        assert claim.staff_user_id == KIM
        # Sam's late reply to his own prompt is not sent, and he is told why.
        sams = await bot.next_message(STAFF_CHAT_ID, "Sam Staff</a>, write your answer")
        await bot.next_message(STAFF_CHAT_ID, "Kim Staff</a>, write your answer")
        await bot.staff_says("Yes, on a lead.", reply_to=sams["message_id"])
        await bot.next_message(STAFF_CHAT_ID, "that prompt has expired")
        assert [e for e in await bot.sent(301) if "lead" in (e.get("text") or "")] == []


async def test_a_saved_answer_is_refused_while_someone_else_answers(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS, settings=TWO_STAFF) as bot:
        await bot.client.add_user(KIM, "Kim", "Staff", started=True)
        await bot.supporter_starts(301, "Ann")
        relay = await _writes(bot, 301, "Are you open today?")
        buttons = _buttons(relay)
        await _pressed(bot, STAFF_ID, relay["message_id"], buttons["✍️ Answer"])
        held = await _pressed(bot, KIM, relay["message_id"], buttons["💬 opening-hours"])
        assert "Sam Staff is answering this supporter" in str(held["text"])
        assert await bot.rows(Reply, Reply.direction == "out") == []
        assert [e for e in await bot.sent(301) if "open Tuesday" in (e.get("text") or "")] == []


async def test_a_saved_answer_reaches_a_dutch_supporter_in_dutch(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        await bot.supporter_starts(302, "Noor", language="nl")
        await bot.supporter_starts(303, "Eve", language="en")
        relay = await _writes(bot, 302, "Zijn jullie zondag geopend?")
        other = await _writes(bot, 303, "Are you open on Sunday?")
        (reply,) = await bot.rows(Reply, Reply.relay_message_id == relay["message_id"])
        suggested = _buttons(relay)
        assert suggested["💬 opening-hours"] == f"desk:k:{reply.id}:opening-hours"
        assert "💬 receipt" not in suggested

        answers = await bot.staff_command("/answers", "Saved answers")
        assert "<code>opening-hours</code> [en, nl]" in answers["text"]

        await bot.client.press(
            STAFF_ID, relay["message_id"], suggested["💬 opening-hours"], STAFF_CHAT_ID
        )
        dutch = await bot.next_message(302, "Hallo")
        assert dutch["text"] == "Hallo Noor! Harbour Museum is open van dinsdag tot en met zondag."
        assert dutch["parse_mode"] == "HTML"
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Noor")
        (out,) = await bot.wait_rows(Reply, Reply.direction == "out")
        assert out.text == dutch["text"] and out.staff_user_id == STAFF_ID
        (inbound,) = await bot.rows(Reply, Reply.id == reply.id)
        assert inbound.answered_at == bot.clock.now
        assert [r.supporter_id for r in await _waiting(bot)] != [reply.supporter_id]

        await bot.client.press(
            STAFF_ID, other["message_id"], _buttons(other)["💬 opening-hours"], STAFF_CHAT_ID
        )
        english = await bot.next_message(303, "Hello")
        assert english["text"].startswith("Hello Eve! Harbour Museum is open Tuesday")
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Eve")
        assert await _waiting(bot) == []


async def test_done_and_stop_settle_messages_and_stop_opts_the_supporter_out(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        await bot.supporter_starts(304, "Bram")
        await bot.supporter_starts(305, "Cor", language="nl")
        thanks = await _writes(bot, 304, "Thanks, lovely museum")
        first = await _writes(bot, 305, "Hoe zit het met mijn gift")
        second = await _writes(
            bot, 305, "Ik ben verhuisd naar het buitenland, dus dit is niet meer voor mij"
        )
        assert len(await _waiting(bot)) == 3
        listing = await bot.staff_command("/inbox", "Inbox")
        assert "3 message(s) waiting" in listing["text"]

        done = await _pressed(bot, STAFF_ID, thanks["message_id"], _buttons(thanks)["✓ Done"])
        assert "done" in str(done["text"])
        await bot.next_message(STAFF_CHAT_ID, "marked")
        (closed,) = await bot.rows(Reply, col(Reply.closed_as) == "done")
        assert closed.relay_message_id == thanks["message_id"]
        assert closed.closed_by == STAFF_ID and closed.closed_at == bot.clock.now
        (bram,) = await bot.rows(Supporter, Supporter.telegram_user_id == 304)
        assert bram.opted_out_at is None

        await _pressed(bot, STAFF_ID, second["message_id"], _buttons(second)["⛔ Stop"])
        await bot.next_message(STAFF_CHAT_ID, "opted out")
        told = await bot.next_message(305)
        assert "geen berichten" in told["text"].lower() or "niet meer" in told["text"].lower()
        (cor,) = await bot.rows(Supporter, Supporter.telegram_user_id == 305)
        assert cor.opted_out_at == bot.clock.now
        stopped = await bot.rows(Reply, col(Reply.closed_as) == "stop")
        assert {r.relay_message_id for r in stopped} == {first["message_id"], second["message_id"]}
        kinds = [i.kind for i in await bot.rows(Interaction, Interaction.supporter_id == cor.id)]
        assert "opt_out" in kinds
        assert await _waiting(bot) == []
        await bot.staff_command("/inbox", "inbox is empty")

        # An opt-out needs no answer: it never waits, and its relay offers only the card.
        opt_out = await _writes(bot, 304, "Please stop messaging me")
        assert list(_buttons(opt_out)) == ["🪪 Who"]
        assert await _waiting(bot) == []

        # A press on a settled message changes nothing and says so.
        again = await _pressed(bot, STAFF_ID, first["message_id"], _buttons(first)["✍️ Answer"])
        assert "answered or closed already" in str(again["text"])
        assert await bot.rows(DeskClaim) == []


async def test_who_shows_the_card_as_stored(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        ann = await bot.supporter_starts(301, "<b>Ann</b>", username="ann", payload="poster")
        await bot.launch("spring-appeal", deliver_to=[301])
        await bot.wait_rows(Ask, Ask.state == SENT)  # its outcome is written just after delivery
        relay = await _writes(bot, 301, "I gave <i>twice</i> already")
        await bot.staff_says("/donation @ann 25 EUR spring-appeal")
        await bot.next_message(STAFF_CHAT_ID, "🎁")
        await bot.wait_rows(Donation)

        card = (await bot.staff_command("/who @ann", "🪪"))["text"]
        (row,) = await bot.rows(Supporter, Supporter.id == ann.id)
        assert f"🪪 <b>{escape(row.first_name)}</b> (@ann, Telegram 301)" in card
        assert f"Language {row.language}; source {row.source}" in card
        assert "(start poster)" in card
        assert "not opted out" in card
        assert f"engagement {row.engagement_score:.1f}, RFM {row.rfm_score}" in card
        interactions = sorted(
            await bot.rows(Interaction, Interaction.supporter_id == ann.id),
            key=lambda i: (i.occurred_at, i.id),
            reverse=True,
        )[:15]
        assert f"Latest {len(interactions)} interaction(s)" in card
        for interaction in interactions:
            assert f"• {interaction.occurred_at:%Y-%m-%d %H:%M} {interaction.kind}" in card
        (ask,) = await bot.rows(Ask, Ask.supporter_id == ann.id)
        assert f"<b>spring-appeal</b> / {ask.arm} (ask, sent): replied, gave" in card
        (gift,) = await bot.rows(Donation)
        assert escape(format_amount(gift.amount_minor, gift.currency)) in card
        assert "<i>" not in card and "&lt;b&gt;Ann" in card

        # The Who button under a relay shows the same card.
        await bot.client.press(
            STAFF_ID, relay["message_id"], _buttons(relay)["🪪 Who"], STAFF_CHAT_ID
        )
        pressed = await bot.next_message(STAFF_CHAT_ID, "🪪")
        assert pressed["text"] == card

        by_id = await bot.staff_command("/who 301", "🪪")
        assert by_id["text"] == card
        missing = await bot.staff_command("/who @nobody", "Usage")
        assert "no supporter has username 'nobody'" in missing["text"]


async def test_a_broken_answers_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        path = bot.campaigns_dir / "answers.yaml"
        broken = ANSWERS.replace('  en: "We e-mail', '  colour: blue\n  en: "We e-mail').replace(
            "{{ name }}! {{ organisation }} is open Tuesday", "{{ nmae }} is open Tuesday"
        )
        path.write_text(broken, encoding="utf-8")
        lines = broken.splitlines()
        template_line = next(i for i, t in enumerate(lines, 1) if "nmae" in t)
        colour_line = lines.index("  colour: blue") + 1
        answer = await bot.staff_command("/reload", "problem")
        shown = unescape(answer["text"])
        assert f"answers.yaml:{template_line}: opening-hours.en: unknown variable 'nmae'" in shown
        assert f"answers.yaml:{colour_line}: receipt.colour: unknown key 'colour'" in shown
        # The answers last loaded stay in force.
        listed = await bot.staff_command("/answers", "Saved answers</b> (2)")
        assert "opening-hours" in listed["text"]
