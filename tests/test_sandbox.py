"""The local Bot API sandbox, driven by a real python-telegram-bot Bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from bot.sandbox import DEFAULT_TOKEN, Sandbox, run_sandbox, serve_asgi
from bot.sandbox.client import tls_context
from tests.helpers import FakeClock

ANN, BEN = 1001, 1002
# Enough of a PNG header for its size to be read: 640 x 480.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's timedelta periods, so RetryAfter raises no deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def sandbox_bot(sandbox: Sandbox, token: str | None = None) -> Bot:
    """Return a Bot aimed at the sandbox, sharing one TLS context (each new one costs 0.1 s)."""

    def request(pool_size: int) -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"verify": tls_context()})

    return Bot(
        token or sandbox.token,
        base_url=sandbox.bot_base_url,
        request=request(8),
        get_updates_request=request(1),
    )


@pytest.fixture
async def sandbox(sandbox: Sandbox) -> Sandbox:
    """The shared sandbox with Telegram's flood limits back on, and Ann and Ben as its users."""
    await sandbox.client.set_limits(enabled=True)
    await sandbox.client.add_user(ANN, "Ann", "Archer", username="ann", language_code="en")
    await sandbox.client.add_user(BEN, "Ben", language_code="de")
    return sandbox


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    async with sandbox_bot(sandbox) as running:
        yield running


async def test_get_me_names_the_bot_after_the_token_prefix(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (
        int(DEFAULT_TOKEN.split(":")[0]),
        "campaign_demo_bot",
        True,
    )


async def test_fixed_token_refuses_other_tokens_and_unknown_methods_are_404() -> None:
    token = "555:fixed-token-abcdefghijklmnop"
    async with run_sandbox(token=token) as sandbox:
        with pytest.raises(InvalidToken):
            async with sandbox_bot(sandbox, "555:other-token-abcdefghijklmnop"):
                pass
        async with httpx.AsyncClient(verify=tls_context()) as http:
            missing = await http.post(f"{sandbox.url}/bot{token}/sendTelepathy")
            wrong = await http.post(f"{sandbox.url}/botnot-a-token/getMe")
    assert missing.status_code == 404 and missing.json()["ok"] is False
    assert wrong.status_code == 401 and wrong.json()["description"] == "Unauthorized"


async def test_send_message_to_started_user_returns_message_and_is_recorded(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.start(ANN)
    message = await bot.send_message(ANN, "Thank you for visiting!", disable_notification=True)
    assert message.text == "Thank you for visiting!"
    assert message.chat.id == ANN and message.from_user is not None and message.from_user.is_bot
    assert abs(message.date.timestamp() - time.time()) < 5
    [record] = await sandbox.client.sent(ANN)
    assert record["ok"] and record["message_id"] == message.message_id
    assert record["disable_notification"] is True and record["text"] == "Thank you for visiting!"


async def test_user_who_never_started_the_bot_cannot_be_messaged(
    sandbox: Sandbox, bot: Bot
) -> None:
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(BEN, "Hello")
    [record] = await sandbox.client.sent(BEN)
    assert (record["ok"], record["error_code"]) == (False, 403)


async def test_blocking_refuses_messages_and_tells_the_bot(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.start(ANN)
    await sandbox.client.block(ANN)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANN, "Still there?")
    updates = await bot.get_updates(timeout=0)
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    assert member.old_chat_member.status == "member" and member.from_user.id == ANN
    await sandbox.client.start(ANN)
    assert (await bot.send_message(ANN, "Welcome back")).text == "Welcome back"
    assert not (await sandbox.client.user(ANN))["blocked"]


async def test_start_payload_arrives_as_a_command_with_the_deep_link(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.start(ANN, "exhibition-42")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.text == "/start exhibition-42"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start")


async def test_per_chat_limit_answers_retry_after_until_the_clock_moves() -> None:
    clock = FakeClock()
    async with (
        run_sandbox(clock=clock.monotonic) as sandbox,
        sandbox_bot(sandbox) as bot,
    ):
        await sandbox.client.add_user(ANN, "Ann", started=True)
        for n in range(3):  # the burst Telegram tolerates
            await bot.send_message(ANN, f"part {n}")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(ANN, "one too many")
        assert refused.value.retry_after == dtm.timedelta(seconds=1)
        clock.advance(dtm.timedelta(seconds=1))
        await bot.send_message(ANN, "after a second")
        stats = await sandbox.client.stats()
    assert stats["rate_limited"] == 1 and stats["accepted_sends"] == 4


async def test_global_limit_is_30_per_second_and_paid_broadcast_lifts_it() -> None:
    clock = FakeClock()
    async with (
        run_sandbox(clock=clock.monotonic) as sandbox,
        sandbox_bot(sandbox) as bot,
    ):
        for user_id in range(1, 41):
            await sandbox.client.add_user(user_id, f"Supporter {user_id}", started=True)
        for user_id in range(1, 31):
            await bot.send_message(user_id, "Please help")
        with pytest.raises(RetryAfter):
            await bot.send_message(31, "Please help")
        for user_id in range(31, 41):
            await bot.send_message(user_id, "Please help", allow_paid_broadcast=True)
        clock.advance(dtm.timedelta(seconds=1))
        await bot.send_message(31, "Please help")
        accepted = await sandbox.client.sent(accepted_only=True)
    assert len(accepted) == 41
    assert sum(entry["allow_paid_broadcast"] for entry in accepted) == 10


async def test_paid_broadcasts_do_not_use_up_the_free_allowance() -> None:
    clock = FakeClock()
    async with (
        run_sandbox(clock=clock.monotonic) as sandbox,
        sandbox_bot(sandbox) as bot,
    ):
        for user_id in range(1, 72):
            await sandbox.client.add_user(user_id, f"Supporter {user_id}", started=True)
        for user_id in range(1, 41):
            await bot.send_message(user_id, "Please help", allow_paid_broadcast=True)
        for user_id in range(41, 71):
            await bot.send_message(user_id, "A reply to a supporter")
        with pytest.raises(RetryAfter):
            await bot.send_message(71, "one free message too many")


async def test_updates_the_bot_did_not_ask_for_are_not_delivered(
    sandbox: Sandbox, bot: Bot
) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    await sandbox.client.send_text(ANN, "ignored: the bot asked for button presses only")
    assert await bot.get_updates(timeout=0) == ()
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    await sandbox.client.send_text(ANN, "delivered")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.text == "delivered"


async def test_group_limit_is_20_per_minute_and_limits_can_be_switched_off() -> None:
    clock = FakeClock()
    async with (
        run_sandbox(clock=clock.monotonic) as sandbox,
        sandbox_bot(sandbox) as bot,
    ):
        await sandbox.client.add_chat(-100500, "supergroup", "Museum staff")
        for n in range(20):
            await bot.send_message(-100500, f"report {n}")
            clock.advance(dtm.timedelta(seconds=0.5))
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(-100500, "report 21")
        assert refused.value.retry_after == dtm.timedelta(seconds=50)
        await sandbox.client.set_limits(enabled=False)
        await bot.send_message(-100500, "report 21")


@pytest.mark.parametrize(
    ("text", "parse_mode", "chat", "expected"),
    [
        ("x" * 4097, None, ANN, "Message is too long"),
        ("<b>bold", "HTML", ANN, 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "HTML", ANN, 'expected "</b>", found "</i>"'),
        ("<blink>x</blink>", "HTML", ANN, 'Unsupported start tag "blink"'),
        ("1 < 2", "HTML", ANN, 'Unexpected character "<"'),
        ("<a>link</a>", "HTML", ANN, 'Unsupported start tag "a"'),
        ("hello", None, -999, "Chat not found"),
        ("hello", None, "@nosuchchannel", "Chat not found"),
    ],
)
async def test_bad_requests_are_refused_with_telegrams_description(
    sandbox: Sandbox, bot: Bot, text: str, parse_mode: str | None, chat: int | str, expected: str
) -> None:
    await sandbox.client.start(ANN)
    # PTB capitalizes descriptions (lower-casing the rest), so compare without case.
    with pytest.raises(BadRequest, match="(?i)" + re.escape(expected)) as refused:
        await bot.send_message(chat, text, parse_mode=parse_mode)
    assert "parse entities" in refused.value.message or parse_mode is None


@pytest.mark.parametrize(
    ("html", "shown"),
    [
        ("<b>Dear</b> <i>Ann</i>", "Dear Ann"),
        ('<a href="https://museum.example/d?a=1&amp;b=2">Give</a>', "Give"),
        ("Fish &amp; chips &lt;3 &quot;yum&quot; &#39;ok&#x27;", "Fish & chips <3 \"yum\" 'ok'"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><pre>p</pre>', "stp"),
        ("<blockquote>q</blockquote><u>u</u><s>s</s><code>c</code>", "qusc"),
        ("x" * 4090 + "<b>yyyy</b>", "x" * 4090 + "yyyy"),
    ],
)
async def test_valid_html_is_accepted_and_shown_without_tags(
    sandbox: Sandbox, bot: Bot, html: str, shown: str
) -> None:
    await sandbox.client.start(ANN)
    message = await bot.send_message(ANN, html, parse_mode="HTML")
    assert message.text == shown
    assert (await sandbox.client.sent(ANN))[-1]["text"] == html


async def test_channel_is_reachable_by_username(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.add_chat(-1001, "channel", "Harbour Museum", "@harbourmuseum", 350)
    post = await bot.send_message("@harbourmuseum", "We need you")
    assert post.chat.id == -1001 and post.sender_chat is not None
    chat = await bot.get_chat("@harbourmuseum")
    assert (chat.title, chat.username) == ("Harbour Museum", "harbourmuseum")
    assert await bot.get_chat_member_count(-1001) == 350
    assert [e["text"] for e in await sandbox.client.sent("@harbourmuseum")] == ["We need you"]


async def test_long_poll_returns_as_soon_as_a_user_writes(sandbox: Sandbox, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await sandbox.state.wait_for_change(5)  # the long poll has begun
    started = time.monotonic()
    await sandbox.client.send_text(ANN, "Is the museum open on Sunday?")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 2
    assert updates[0].message is not None
    assert updates[0].message.text == "Is the museum open on Sunday?"
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()


async def test_a_second_poll_ends_the_first_with_conflict(sandbox: Sandbox, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await sandbox.state.wait_for_change(5)
    # A second Bot: one Bot polls over a single connection and would queue the second poll.
    async with sandbox_bot(sandbox) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_webhook_delivery_carries_the_secret_token(sandbox: Sandbox, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    arrived = asyncio.Event()

    async def hook(request: Request) -> Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, json.loads(await request.body())))
        arrived.set()
        return Response(status_code=200)

    async with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cret-token")
        update = await sandbox.client.send_text(ANN, "Hello from a webhook")
        await asyncio.wait_for(arrived.wait(), 5)
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        info = await bot.get_webhook_info()
        assert await bot.delete_webhook()
    [(secret, body)] = received
    assert secret == "s3cret-token"
    assert body["update_id"] == update["update_id"]
    assert (info.url, info.pending_update_count) == (f"{url}/hook", 0)


async def _statuses(http: httpx.AsyncClient, sandbox: Sandbox, seed: int, count: int) -> list[int]:
    """Inject faults with `seed`, send `count` raw sendMessage calls, return their statuses."""
    await sandbox.client.set_faults(
        seed=seed, rate_429=0.2, retry_after=7, rate_5xx=0.2, methods=["sendMessage"]
    )
    statuses = []
    for n in range(count):
        answer = await http.post(
            f"{sandbox.bot_api_url}/sendMessage", data={"chat_id": ANN, "text": f"ask {n}"}
        )
        statuses.append(answer.status_code)
    return statuses


async def test_faults_repeat_exactly_for_the_same_seed(sandbox: Sandbox) -> None:
    await sandbox.client.start(ANN)
    await sandbox.client.set_limits(enabled=False)
    async with httpx.AsyncClient(verify=tls_context()) as http:
        first = await _statuses(http, sandbox, 11, 40)
        second = await _statuses(http, sandbox, 11, 40)
        other = await _statuses(http, sandbox, 12, 40)
        assert (await http.post(f"{sandbox.bot_api_url}/getMe")).status_code == 200
    assert first == second != other
    assert {200, 429} <= set(first) and set(first) & {500, 502}
    stats = await sandbox.client.stats()
    assert stats["rate_limited"] == first.count(429) + second.count(429) + other.count(429)


async def test_injected_429_carries_the_configured_retry_after(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.start(ANN)
    await sandbox.client.set_faults(seed=1, rate_429=1.0, retry_after=9, methods=["sendMessage"])
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(ANN, "hello")
    assert refused.value.retry_after == dtm.timedelta(seconds=9)


@pytest.mark.parametrize("after_send", [False, True])
async def test_dropped_connections_surface_as_network_errors(
    sandbox: Sandbox, bot: Bot, after_send: bool
) -> None:
    await sandbox.client.start(ANN)
    await sandbox.client.set_faults(
        seed=3, drop_rate=1.0, methods=["sendMessage"], drop_after_send=after_send
    )
    with pytest.raises(NetworkError):
        await bot.send_message(ANN, "Will this arrive?")
    [record] = await sandbox.client.sent(ANN)
    # Dropped after sending: Telegram delivered it, the bot never heard back.
    assert record["ok"] is after_send and record["response_dropped"] is after_send
    assert (await sandbox.client.stats())["dropped"] == 1


async def test_slow_answers_are_delayed(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.set_faults(seed=5, slow_rate=1.0, slow_seconds=0.3, methods=["getMe"])
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.3


async def test_send_photo_and_document_upload_bytes(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.start(ANN)
    photo = await bot.send_photo(ANN, PNG, caption="<b>The new gallery</b>", parse_mode="HTML")
    document = await bot.send_document(ANN, b"name,amount\nAnn,500\n", filename="gifts.csv")
    assert photo.caption == "The new gallery"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (640, 480)
    assert document.document is not None and document.document.file_name == "gifts.csv"
    again = await bot.send_photo(ANN, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    photo_record, document_record, _ = await sandbox.client.sent(ANN)
    assert photo_record["photo"]["file_size"] == len(PNG)
    assert photo_record["caption"] == "<b>The new gallery</b>"
    assert document_record["document"]["file_size"] == len(b"name,amount\nAnn,500\n")


async def test_inline_keyboard_is_echoed_and_a_press_reaches_the_bot(
    sandbox: Sandbox, bot: Bot
) -> None:
    await sandbox.client.start(ANN)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Donate", url="https://museum.example/give")],
            [InlineKeyboardButton("Not now", callback_data="ask:7:later")],
        ]
    )
    message = await bot.send_message(ANN, "Would you help?", reply_markup=keyboard)
    assert message.reply_markup == keyboard
    await bot.get_updates(offset=-1, timeout=0)
    press = await sandbox.client.press(ANN, message.message_id, "ask:7:later")
    [update] = await bot.get_updates(offset=press["update_id"], timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "ask:7:later" and query.from_user.id == ANN
    assert await bot.answer_callback_query(query.id, text="Maybe later then")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    answer = await sandbox.client.callback_answer(query.id)
    assert answer is not None and answer["text"] == "Maybe later then"


async def test_edits_replace_text_and_keyboard(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.start(ANN)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    message = await bot.send_message(ANN, "Join us?", reply_markup=keyboard)
    edited = await bot.edit_message_text("Thanks for joining!", ANN, message.message_id)
    assert isinstance(edited, Message) and edited.text == "Thanks for joining!"
    assert edited.reply_markup is None and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Thanks for joining!", ANN, message.message_id)
    await bot.edit_message_reply_markup(ANN, message.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("nope", ANN, 9999)
    methods = [(e["method"], e["ok"]) for e in await sandbox.client.sent(ANN)]
    assert methods[1:3] == [("editMessageText", True), ("editMessageText", False)]


async def test_replies_name_the_message_they_answer(sandbox: Sandbox, bot: Bot) -> None:
    update = await sandbox.client.send_text(ANN, "When do you open?")
    question_id = update["message"]["message_id"]
    answer = await bot.send_message(
        ANN, "At ten.", reply_parameters=ReplyParameters(message_id=question_id)
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "When do you open?"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(ANN, "?", reply_parameters=ReplyParameters(message_id=777))
    staff_reply = await sandbox.client.send_text(
        ANN, "Thanks!", reply_to_message_id=answer.message_id
    )
    assert staff_reply["message"]["reply_to_message"]["text"] == "At ten."


async def test_commands_are_kept_per_scope_and_language(bot: Bot) -> None:
    await bot.set_my_commands([("stop", "Stop all messages")])
    await bot.set_my_commands([("stop", "Keine Nachrichten mehr")], language_code="de")
    assert [c.description for c in await bot.get_my_commands()] == ["Stop all messages"]
    german = await bot.get_my_commands(language_code="de")
    assert [c.description for c in german] == ["Keine Nachrichten mehr"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_invoice_pre_checkout_and_payment(sandbox: Sandbox, bot: Bot) -> None:
    await sandbox.client.start(ANN)
    invoice = await bot.send_invoice(
        ANN, "Keep the lights on", "A gift to the museum", "ask-7", "EUR",
        [LabeledPrice("Gift", 1500)], provider_token="test",
    )  # fmt: skip
    assert invoice.invoice is not None and invoice.invoice.total_amount == 1500
    query = await sandbox.client.pre_checkout(ANN, "ask-7", "EUR", 1500)
    query_id = query["pre_checkout_query"]["id"]
    assert await bot.answer_pre_checkout_query(query_id, ok=True)
    assert (await sandbox.client.pre_checkout_answer(query_id) or {})["ok"] is True
    paid = await sandbox.client.successful_payment(ANN, "ask-7", "EUR", 1500)
    updates = await bot.get_updates(timeout=0)
    payment = updates[-1].message.successful_payment if updates[-1].message else None
    assert payment is not None and payment.total_amount == 1500
    assert updates[-1].update_id == paid["update_id"]


async def test_json_bodies_are_accepted_like_forms(sandbox: Sandbox) -> None:
    await sandbox.client.start(ANN)
    markup = {"inline_keyboard": [[{"text": "Give", "callback_data": "give"}]]}
    too_long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]}
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox.bot_api_url}/sendMessage",
            json={"chat_id": ANN, "text": "Hi", "reply_markup": markup},
        )
        bad = await http.post(
            f"{sandbox.bot_api_url}/sendMessage",
            json={"chat_id": ANN, "text": "Hi", "reply_markup": too_long_data},
        )
    assert answer.json()["result"]["reply_markup"] == markup
    assert (bad.status_code, bad.json()["description"]) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )


async def _welcome(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start with the deep-link payload, as a bot handler would."""
    assert update.effective_message is not None and context.args
    await update.effective_message.reply_text(f"Welcome, visitor of {context.args[0]}!")


async def test_a_polling_application_answers_start(sandbox: Sandbox) -> None:
    app = Application.builder().bot(sandbox_bot(sandbox)).build()
    app.add_handler(CommandHandler("start", _welcome))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        await sandbox.client.start(ANN, "ships-1890")
        [reply] = await sandbox.client.wait_sent(ANN, count=1, within=5)
        await app.updater.stop()
        await app.stop()
    assert reply["ok"] and reply["text"] == "Welcome, visitor of ships-1890!"
    # Stopping abandons a long poll; the sandbox notices instead of answering 409 later.
    assert "409" not in (await sandbox.client.stats())["by_method"]["getUpdates"]


async def test_reset_forgets_users_and_records_but_not_update_ids(
    sandbox: Sandbox, bot: Bot
) -> None:
    before = await sandbox.client.start(ANN)
    await bot.send_message(ANN, "before")
    await sandbox.client.reset()
    assert await sandbox.client.sent() == []
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(ANN, "after")
    await sandbox.client.add_user(ANN, "Ann")
    after = await sandbox.client.start(ANN)
    # A running bot keeps its getUpdates offset, so ids must keep growing.
    assert after["update_id"] > before["update_id"]


@pytest.mark.slow
def test_sandbox_runs_as_its_own_process() -> None:
    command = [sys.executable, "-m", "bot.sandbox", "--port", "0", "--no-limits"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first_line = process.stdout.readline().strip()
            assert first_line.startswith("SANDBOX_URL=http://127.0.0.1:")
            url = first_line.removeprefix("SANDBOX_URL=")
            answer = httpx.post(f"{url}/bot{DEFAULT_TOKEN}/getMe", timeout=10)
            assert answer.json()["result"]["username"] == "campaign_demo_bot"
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0
