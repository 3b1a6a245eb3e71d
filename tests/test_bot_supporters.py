"""Supporters over the sandbox: deep links, replies relayed both ways, opt-out, blocks, forget."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.services import conversation
from bot.storage.conversation import latest_sent_ask
from bot.storage.models import SENDING, SENT, Ask, Donation, Interaction, Reply, Supporter
from tests.botharness import (
    SPRING_APPEAL,
    STAFF_CHAT_ID,
    STAFF_ID,
    BotHarness,
    bot_harness,
)
from tests.factories import NOW, add_ask, add_campaign_row, add_supporter
from tests.helpers import wait_for

CAMPAIGNS = {"spring.yaml": SPRING_APPEAL}


async def _supporter(bot: BotHarness, user_id: int) -> Supporter:
    (row,) = await bot.rows(Supporter, Supporter.telegram_user_id == user_id)
    return row


async def _kinds(bot: BotHarness, supporter_id: int | None) -> list[str]:
    rows = await bot.rows(Interaction, Interaction.supporter_id == supporter_id)
    return [row.kind for row in rows]


async def _ask_token(bot: BotHarness, user_id: int) -> str:
    buttons = bot.asks[user_id]["reply_markup"]["inline_keyboard"]
    data: str = buttons[1][0]["callback_data"]
    return data.removeprefix("notnow:")


async def test_deep_link_start_creates_a_supporter_and_greets_in_their_language(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.client.add_user(201, "Anouk", username="anouk", language_code="nl")
        await bot.client.start(201, "expo-jan")
        greeting = await bot.next_message(201)
        assert greeting["text"].startswith("Hallo Anouk!")
        ann = await _supporter(bot, 201)
        assert ann.chat_id == 201
        assert ann.consented_at == bot.clock.now
        assert ann.language == "nl"
        starts = await bot.rows(Interaction, Interaction.supporter_id == ann.id)
        assert any("expo-jan" in f"{row.detail} {row.source}" for row in starts)

        await bot.client.add_user(202, "Zed", language_code="de")
        await bot.client.start(202)
        assert (await bot.next_message(202))["text"].startswith("Hello Zed!")


async def test_start_links_an_imported_supporter_by_username(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        async with bot.sessions() as session, session.begin():
            imported = Supporter(
                external_id="crm-17",
                username="Imported_Ina",
                first_name="Ina",
                created_at=bot.clock.now,
            )
            session.add(imported)
        await bot.client.add_user(203, "Ina", username="imported_ina")
        await bot.client.start(203, "qr-hall")
        await bot.next_message(203, "Hello Ina")
        (linked,) = await bot.rows(Supporter)
        assert linked.external_id == "crm-17"
        assert (linked.telegram_user_id, linked.chat_id) == (203, 203)
        assert linked.consented_at is not None


async def test_a_reply_is_recorded_against_its_ask_relayed_and_answered(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        await bot.supporter_starts(301, "Ann", username="ann")
        await bot.launch("spring-appeal", deliver_to=[301])
        (ask,) = await bot.rows(Ask)

        question = "Is the museum open on Sunday?"
        await bot.client.send_text(301, question, reply_to_message_id=bot.asks[301]["message_id"])
        relay = await bot.next_message(STAFF_CHAT_ID, "💬")
        assert relay["text"] == (
            f"💬 <b>Ann</b> (@ann, 301) on <b>spring-appeal</b> / {ask.arm} [question]:\n"
            + question
        )
        (reply,) = await bot.wait_rows(Reply, Reply.relay_message_id == relay["message_id"])
        assert (reply.ask_id, reply.campaign_id, reply.direction) == (
            ask.id,
            ask.campaign_id,
            "in",
        )
        assert reply.classification == "question"

        # Staff answer by replying to the relayed message; the supporter gets it.
        await bot.staff_says("Yes, from 10 to 5!", reply_to=relay["message_id"])
        answer = await bot.next_message(301, "Yes, from 10 to 5!")
        assert answer["parse_mode"] is None
        await bot.next_message(STAFF_CHAT_ID, "✓ Sent to Ann")
        rows = await bot.wait_rows(Reply, Reply.direction == "out")
        assert rows[0].staff_user_id == STAFF_ID and rows[0].ask_id == ask.id
        (inbound,) = await bot.rows(Reply, Reply.direction == "in")
        assert inbound.answered_at == bot.clock.now
        assert "question_answered" in await _kinds(bot, inbound.supporter_id)

        # A reply that quotes nothing is credited to the latest ask sent to them.
        await bot.client.send_text(301, "Done, gave 20 👍")
        second = await bot.next_message(STAFF_CHAT_ID, "[positive]")
        assert "on <b>spring-appeal</b>" in second["text"]
        latest = await bot.wait_rows(Reply, Reply.classification == "positive")
        assert latest[0].ask_id == ask.id


async def test_html_in_a_name_and_a_message_is_escaped_in_the_relay(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.client.add_user(302, "<b>Bob</b> & <i>co", last_name="</code>", username="bob_x")
        await bot.client.start(302)
        await bot.next_message(302, "Hello &lt;b&gt;Bob&lt;/b&gt; &amp; &lt;i&gt;co!")
        await bot.client.send_text(302, "<script>alert(1)</script> & more")
        relay = await bot.next_message(STAFF_CHAT_ID, "💬")
        assert relay["ok"] and relay["parse_mode"] == "HTML"
        assert relay["text"] == (
            "💬 <b>&lt;b&gt;Bob&lt;/b&gt; &amp; &lt;i&gt;co &lt;/code&gt;</b> (@bob_x, 302) "
            "(no campaign) [other]:\n&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"
        )


async def test_stop_command_opts_out_at_once_and_start_opts_back_in(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(401, "Olga")
        await bot.client.send_text(401, "/stop")
        confirmation = await bot.next_message(401, "not get any more messages")
        assert "/start" in confirmation["text"]
        olga = await _supporter(bot, 401)
        assert olga.opted_out_at == bot.clock.now
        assert "opt_out" in await _kinds(bot, olga.id)

        await bot.client.start(401)
        await bot.next_message(401, "Welcome back, Olga")
        assert (await _supporter(bot, 401)).opted_out_at is None


async def test_an_opt_out_word_stops_messages_but_a_sentence_with_stop_does_not(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(402, "Piet", language="nl")
        await bot.client.send_text(402, "Niet stoppen met die expositie, hij is prachtig!")
        await bot.next_message(STAFF_CHAT_ID, "[positive]")
        assert (await _supporter(bot, 402)).opted_out_at is None

        await bot.client.send_text(402, "Stuur geen berichten meer aub")
        confirmation = await bot.next_message(402, "geen berichten meer")
        assert confirmation["text"].startswith("Geregeld")
        assert (await _supporter(bot, 402)).opted_out_at == bot.clock.now
        relay = await bot.next_message(STAFF_CHAT_ID, "[opt_out]")
        assert "Stuur geen berichten meer aub" in relay["text"]


async def test_an_opt_out_only_the_model_reads_is_offered_and_stops_only_when_tapped(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(403, "Ria", language="nl")
        await bot.supporter_starts(404, "Sam")
        # The rules find no opt-out in these; the model reads one. Nothing stops yet.
        await bot.client.send_text(403, "Ik zit niet te wachten op jullie berichtjes")
        offer = await bot.next_message(403, "Wil je liever geen berichten meer")
        ((button,),) = offer["reply_markup"]["inline_keyboard"]
        assert button["text"] == "Stop berichten"
        relay = await bot.next_message(STAFF_CHAT_ID, "offered to stop]")
        assert "Ik zit niet te wachten" in relay["text"] and "[opt_out" not in relay["text"]
        assert (await _supporter(bot, 403)).opted_out_at is None
        (kept,) = await bot.rows(Reply, Reply.telegram_message_id.is_not(None))  # type: ignore[union-attr]
        assert kept.classification != "opt_out"
        # It waits in the desk like any other reply: staff still answer it.
        inbox = await bot.staff_command("/inbox", "Inbox")
        assert "1 message(s) waiting" in inbox["text"]
        await bot.next_message(STAFF_CHAT_ID, "Ik zit niet te wachten")

        await bot.client.press(403, offer["message_id"], button["callback_data"])
        await bot.next_message(403, "Geregeld")
        assert (await _supporter(bot, 403)).opted_out_at == bot.clock.now

        await bot.client.send_text(404, "I would rather you left me out of these from now on")
        offer = await bot.next_message(404, "Would you rather get no more messages")
        assert "nothing to do" in offer["text"]
        assert (await _supporter(bot, 404)).opted_out_at is None


async def test_ask_buttons_not_now_and_stop_messages(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS) as bot:
        await bot.supporter_starts(501, "Quinn")
        await bot.supporter_starts(502, "Rosa")
        await bot.launch("spring-appeal", deliver_to=[501, 502])

        token = await _ask_token(bot, 501)
        press = await bot.client.press(501, bot.asks[501]["message_id"], f"notnow:{token}")

        async def answered() -> dict[str, object] | None:
            answer = await bot.client.callback_answer(press["callback_query"]["id"])
            return answer if answer and answer.get("answered") else None

        answer = await wait_for(answered, what="the answer to Not now")
        assert answer["text"] == "Noted: we will not ask you again for this one."
        quinn = await _supporter(bot, 501)
        not_now = await bot.wait_rows(Interaction, Interaction.kind == "not_now")
        assert (not_now[0].supporter_id, not_now[0].detail) == (quinn.id, "spring-appeal")
        assert quinn.opted_out_at is None

        token = await _ask_token(bot, 502)
        await bot.client.press(502, bot.asks[502]["message_id"], f"stop:{token}")
        await bot.next_message(502, "not get any more messages")
        assert (await _supporter(bot, 502)).opted_out_at == bot.clock.now


async def test_blocking_the_bot_marks_the_supporter_blocked(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(601, "Sara")
        await bot.client.block(601)

        async def blocked() -> Supporter | None:
            sara = await _supporter(bot, 601)
            return sara if sara.blocked_at is not None else None

        sara = await wait_for(blocked, what="the supporter to be marked blocked")
        assert sara.blocked_at == bot.clock.now
        # Coming back (writing to the bot unblocks it) makes them reachable again.
        await bot.client.start(601)
        await bot.next_message(601, "Hello Sara")
        assert (await _supporter(bot, 601)).blocked_at is None


async def test_privacy_and_forget_after_confirmation(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(701, "Tess", username="tess")
        await bot.client.send_text(701, "/privacy")
        privacy = await bot.next_message(701, "What we keep about you")
        assert "/forget" in privacy["text"]

        await bot.client.send_text(701, "/forget")
        question = await bot.next_message(701, "Delete everything")
        await bot.client.press(701, question["message_id"], "forget:no")
        await bot.next_message(701, "Nothing was deleted")
        assert (await bot.rows(Supporter))[0].forgotten_at is None

        await bot.client.send_text(701, "/forget")
        question = await bot.next_message(701, "Delete everything")
        await bot.client.press(701, question["message_id"], "forget:yes")
        await bot.next_message(701, "your personal data is deleted")
        (tess,) = await bot.rows(Supporter)
        assert tess.forgotten_at is not None
        assert (tess.telegram_user_id, tess.username, tess.first_name) == (None, None, "")


async def test_a_gift_paid_in_telegram_is_checked_recorded_once_and_credited(
    tmp_path: Path,
) -> None:
    settings = {"payment_provider_token": "284685063:TEST:sandbox"}
    async with bot_harness(tmp_path, campaigns=CAMPAIGNS, settings=settings) as bot:
        await bot.supporter_starts(801, "Uma")
        await bot.launch("spring-appeal", deliver_to=[801])
        token = await _ask_token(bot, 801)
        (ask,) = await bot.rows(Ask)
        # The ask itself offers "Give in Telegram"; pressing it offers amounts, then an invoice.
        await bot.client.press(801, bot.asks[801]["message_id"], f"give:{token}")
        offer = await bot.next_message(801, "How much")
        await bot.client.press(801, offer["message_id"], f"give:{token}:1000")
        invoice = await bot.next_message(801, method="sendInvoice")
        assert invoice["invoice"]["payload"] == f"gift:{token}"

        async def checked(query_id: str) -> dict[str, object]:
            async def answer() -> dict[str, object] | None:
                found = await bot.client.pre_checkout_answer(query_id)
                return found if found and found.get("answered") else None

            return await wait_for(answer, what="the pre-checkout answer")

        forged = await bot.client.pre_checkout(801, "not-ours", "EUR", 1000)
        refused = await checked(forged["pre_checkout_query"]["id"])
        assert refused["ok"] is False
        for currency, amount, reason in [
            ("EUR", 10**12 + 1, "at most"), ("EUR", 0, "more than zero"), ("ABC", 1000, "ISO")
        ]:  # fmt: skip
            out_of_range = await bot.client.pre_checkout(801, f"gift:{token}", currency, amount)
            answer = await checked(out_of_range["pre_checkout_query"]["id"])
            assert answer["ok"] is False and reason in str(answer["error_message"])
        good = await bot.client.pre_checkout(801, f"gift:{token}", "EUR", 1000)
        assert (await checked(good["pre_checkout_query"]["id"]))["ok"] is True
        # A payment no pre-checkout could have accepted is not a gift.
        await bot.client.successful_payment(
            801, f"gift:{token}", "EUR", 10**13, telegram_payment_charge_id="tg-forged"
        )

        for _ in range(2):  # Telegram may deliver the same payment twice
            await bot.client.successful_payment(
                801, f"gift:{token}", "EUR", 1000, telegram_payment_charge_id="tg-charge-1"
            )
        await bot.next_message(STAFF_CHAT_ID, "🎁")
        (gift,) = await bot.wait_rows(Donation)
        assert (gift.provider, gift.amount_minor, gift.ask_id) == ("telegram", 1000, ask.id)


async def test_conversation_records_on_both_databases(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The conversation queries behave alike on SQLite and PostgreSQL."""
    async with sessions() as session, session.begin():
        ann = await add_supporter(session, telegram_user_id=901, chat_id=901, first_name="Ann")
        spring = await add_campaign_row(session, "spring-appeal")
        autumn = await add_campaign_row(session, "autumn-appeal")
        sent = {"state": SENT, "chat_id": 901}
        old = await add_ask(
            session, spring, ann, sent_at=NOW - timedelta(days=3), telegram_message_id=11, **sent
        )
        new = await add_ask(
            session, autumn, ann, sent_at=NOW - timedelta(days=1), telegram_message_id=12, **sent
        )

    async def reply(text: str, message_id: int, quoted: int | None, user: int = 901) -> Any:
        return await conversation.record_reply(
            sessions,
            telegram_user_id=user,
            chat_id=user,
            text=text,
            message_id=message_id,
            reply_to_message_id=quoted,
            now=NOW,
        )

    quoted = await reply("Which exhibition?", 20, 11)
    assert (quoted.campaign, quoted.classification) == ("spring-appeal", "question")
    latest = await reply("stop", 21, None)
    assert (latest.campaign, latest.opted_out_now) == ("autumn-appeal", True)
    assert await reply("hi", 1, None, user=999) is None

    await conversation.set_relay_message(
        sessions, reply_id=quoted.reply_id, relay_message_id=77, chat_id=-100, now=NOW
    )
    target = await conversation.find_relay_target(sessions, relay_message_id=77)
    assert target is not None and target.supporter.chat_id == 901
    await conversation.record_staff_answer(
        sessions,
        reply_id=target.reply_id,
        staff_user_id=5,
        text="Ships!",
        telegram_message_id=30,
        now=NOW,
    )
    campaign = await conversation.record_not_now(
        sessions, telegram_user_id=901, token=new.token, now=NOW
    )
    assert campaign == "autumn-appeal"
    assert not await conversation.opt_out(sessions, telegram_user_id=901, now=NOW, via="command")

    async with sessions() as session:
        replies = list((await session.execute(select(Reply).order_by(col(Reply.id)))).scalars())
        interactions = await session.execute(select(Interaction).order_by(col(Interaction.id)))
        kinds = [row.kind for row in interactions.scalars()]
        person = await session.get(Supporter, ann.id)
    assert [(r.direction, r.ask_id) for r in replies] == [
        ("in", old.id),
        ("in", new.id),
        ("out", old.id),
    ]
    # Each carries its ask's arm and reach for reports; the staff answer copies its question's.
    assert [(r.arm, r.reached) for r in replies] == [("specific", True)] * 3
    assert replies[0].answered_at == NOW and replies[2].staff_user_id == 5
    assert kinds == ["reply", "reply", "opt_out", "question_answered", "not_now"]
    assert person is not None and person.opted_out_at == NOW and person.interaction_count == 5


async def test_a_reply_finds_an_ask_whose_delivery_is_still_being_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A delivered ask the outbox has not yet marked sent is still the one answered."""
    async with sessions() as session, session.begin():
        ann = await add_supporter(session, telegram_user_id=911, chat_id=911, first_name="Ann")
        spring = await add_campaign_row(session, "spring-appeal")
        autumn = await add_campaign_row(session, "autumn-appeal")
        await add_ask(session, spring, ann, state=SENT, sent_at=NOW - timedelta(days=2))
        on_its_way = await add_ask(
            session,
            autumn,
            ann,
            state=SENDING,
            claimed_at=NOW - timedelta(seconds=1),
            arm="broadcast",
        )
        await add_ask(session, autumn, ann, state="pending", step="reminder")
    async with sessions() as session:
        found = await latest_sent_ask(
            session=session, supporter_id=ann.id or 0, since=NOW - timedelta(days=30)
        )
    assert found is not None and found.id == on_its_way.id

    recorded = await conversation.record_reply(
        sessions,
        telegram_user_id=911,
        chat_id=911,
        text="Yes!",
        message_id=40,
        reply_to_message_id=None,
        now=NOW,
    )
    assert recorded is not None
    async with sessions() as session:
        reply = await session.get_one(Reply, recorded.reply_id)
    # Not yet known to have reached Ann: a report checks the ask again when it counts.
    assert (reply.ask_id, reply.arm, reply.reached) == (on_its_way.id, "broadcast", False)


async def test_an_answer_that_meets_telegrams_flood_limit_is_sent_after_the_wait(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.supporter_starts(811, "Noor")
        # Every second sendMessage is refused with 429 (seeded): the answer must still come.
        await bot.client.set_faults(seed=3, rate_429=0.5, retry_after=1, methods=["sendMessage"])
        for _ in range(3):
            await bot.client.send_text(811, "/privacy")
            await bot.next_message(811, "What we keep about you")
        stats = await bot.client.stats()
    assert stats["rate_limited"] >= 1
