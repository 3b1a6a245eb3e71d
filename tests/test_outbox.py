"""The outbox worker against the local Bot API sandbox: sends, skips, every failure class."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.config import Settings
from bot.domain.limits import LimitSettings, SendLimiter
from bot.domain.sending import Button, Result, SendOutcome
from bot.domain.spec import Campaign
from bot.net import free_port
from bot.sandbox import Sandbox
from bot.services.campaigns import pause_campaign
from bot.services.launch import launch_campaign
from bot.services.outbox import INTERRUPTED, OutboxWorker
from bot.services.posts import send_due_posts
from bot.storage.models import Ask, BroadcastPost, Supporter
from bot.telegram.sender import TelegramSender, classify_error
from tests.factories import (
    add_ask,
    add_campaign_row,
    add_supporter,
    delivery_settings,
    make_campaign,
)
from tests.helpers import FakeClock

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Amsterdam
LATER = NOW + timedelta(hours=9)  # 19:00 in Amsterdam: every ask of today is due, window open


@pytest.fixture
async def sender(sandbox: Sandbox, settings: Settings) -> AsyncIterator[TelegramSender]:
    """Yield a sender aimed at the sandbox (asking for it aims the settings there too)."""
    async with TelegramSender.from_settings(settings, pool_size=8) as running:
        yield running


async def person(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    user_id: int,
    name: str,
    *,
    language: str = "en",
    started: bool = True,
    **fields: Any,
) -> int:
    """Add a sandbox user and the matching supporter; return the supporter id."""
    await sandbox.client.add_user(user_id, name, language_code=language, started=started)
    async with sessions() as session, session.begin():
        row = await add_supporter(
            session,
            telegram_user_id=user_id,
            chat_id=user_id,
            first_name=name,
            language=language,
            **fields,
        )
        assert row.id is not None
        return row.id


def worker(
    sessions: async_sessionmaker[AsyncSession],
    sender: Any,
    settings: Settings,
    *,
    rate: float = 1000.0,
    clock: FakeClock | None = None,
    **options: Any,
) -> OutboxWorker:
    clock = clock or FakeClock()
    return OutboxWorker(
        sessions,
        sender,
        settings,
        limiter=SendLimiter(LimitSettings(per_second=rate)),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        batch_size=50,
        **options,
    )


async def asks(sessions: async_sessionmaker[AsyncSession]) -> list[Ask]:
    async with sessions() as session:
        return list((await session.execute(select(Ask).order_by(Ask.id))).scalars())  # type: ignore[arg-type]


async def supporter(sessions: async_sessionmaker[AsyncSession], supporter_id: int) -> Supporter:
    async with sessions() as session:
        found = await session.get(Supporter, supporter_id)
        assert found is not None
        return found


async def launch(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    campaign: Campaign | None = None,
) -> Campaign:
    campaign = campaign or make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}}
    )
    await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    return campaign


# --- sending ----------------------------------------------------------------------------------


async def test_due_asks_go_out_once_with_tracked_buttons_in_their_language(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    ann = await person(sessions, sandbox, 501, "Ann")
    bram = await person(sessions, sandbox, 502, "Bram", language="nl")
    await launch(sessions, settings)
    outbox = worker(sessions, sender, settings)

    assert await outbox.run_once(LATER) == 2
    assert await outbox.run_once(LATER + timedelta(hours=1)) == 0  # nothing is sent twice

    rows = {a.supporter_id: a for a in await asks(sessions)}
    for supporter_id, chat, greeting, labels in [
        (ann, 501, "Dear Ann", ["Donate", "Not now", "Stop messages"]),
        (bram, 502, "Beste Bram", ["Doneer", "Nu niet", "Stop berichten"]),
    ]:
        ask = rows[supporter_id]
        [message] = await sandbox.client.sent(chat, accepted_only=True)
        assert ask.state == "sent" and ask.attempts == 1
        assert ask.telegram_message_id == message["message_id"] and ask.chat_id == chat
        assert greeting in message["text"]
        assert f"https://bot.example.org/r/{ask.token}" in message["text"]
        keyboard = message["reply_markup"]["inline_keyboard"]
        assert [b["text"] for row in keyboard for b in row] == labels
        assert keyboard[0][0]["url"] == f"https://bot.example.org/r/{ask.token}"
        assert [b["callback_data"] for b in keyboard[1]] == [
            f"notnow:{ask.token}",
            f"stop:{ask.token}",
        ]
        assert (await supporter(sessions, supporter_id)).last_asked_at == ask.sent_at


async def test_no_more_than_concurrency_sends_are_in_flight_and_a_failing_send_stops_nothing(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    for uid in range(521, 528):
        await person(sessions, sandbox, uid, f"P{uid}")
    await launch(sessions, settings)
    started: list[int] = []
    in_flight = peak = 0

    class Watched:
        """Telegram behind a sender that counts its sends in flight; one send hits a bug."""

        async def send_text(
            self,
            chat_id: int | str,
            text: str,
            *,
            buttons: Sequence[Sequence[Button]] = (),
            paid: bool = False,
        ) -> SendOutcome:
            nonlocal in_flight, peak
            started.append(int(chat_id))
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                if chat_id == 523:
                    raise RuntimeError("a bug in the sender")
                return await sender.send_text(chat_id, text, buttons=buttons, paid=paid)
            finally:
                in_flight -= 1

    outbox = worker(sessions, Watched(), settings, concurrency=3)
    assert await outbox.run_once(LATER) == 7
    assert peak == 3  # three lanes, all busy at once, never a fourth
    rows = sorted(await asks(sessions), key=lambda a: (a.due_at, a.id))
    chat_of = {a.supporter_id: (await supporter(sessions, a.supporter_id)).chat_id for a in rows}
    assert started == [chat_of[a.supporter_id] for a in rows]  # sends start in queue order
    states = {chat_of[a.supporter_id]: a.state for a in rows}
    assert states.pop(523) == "sending"  # nobody knows whether it went: recovered as unknown
    assert set(states.values()) == {"sent"} and len(states) == 6
    assert sorted(m["chat_id"] for m in await sandbox.client.sent()) == sorted(states)
    restarted = worker(sessions, sender, settings)
    assert await restarted.recover(LATER) == 1
    assert await restarted.run_once(LATER) == 0


async def test_asks_not_yet_due_stay_queued(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    for uid in (511, 512):
        await person(sessions, sandbox, uid, f"P{uid}")
    spread = make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}}, spread="10h"
    )
    await launch(sessions, settings, spread)
    outbox = worker(sessions, sender, settings)
    # Two asks spread over today's window (10:00-20:00 local): one at 10:00, one at 15:00.
    assert await outbox.run_once(NOW + timedelta(hours=1)) == 1
    assert [a.state for a in await asks(sessions)] == ["sent", "pending"]
    assert await outbox.run_once(NOW + timedelta(hours=5)) == 1


async def test_opt_out_block_and_forget_between_launch_and_send_are_honoured(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    ids = [await person(sessions, sandbox, uid, f"P{uid}") for uid in (521, 522, 523, 524)]
    await launch(sessions, settings)
    async with sessions() as session, session.begin():
        for column, supporter_id in zip(
            ("opted_out_at", "blocked_at", "forgotten_at"), ids, strict=False
        ):
            await session.execute(
                update(Supporter).where(Supporter.id == supporter_id).values({column: NOW})  # type: ignore[arg-type]
            )
    await worker(sessions, sender, settings).run_once(LATER)
    outcome = {a.supporter_id: (a.state, a.failure_reason) for a in await asks(sessions)}
    assert outcome == {
        ids[0]: ("skipped", "opted out"),
        ids[1]: ("skipped", "blocked the bot"),
        ids[2]: ("skipped", "supporter asked to be forgotten"),
        ids[3]: ("sent", None),
    }
    assert [m["chat_id"] for m in await sandbox.client.sent(accepted_only=True)] == [524]


async def test_a_changed_name_and_a_corrected_template_are_used_at_send_time(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    ann = await person(sessions, sandbox, 531, "Ann")
    campaign = await launch(sessions, settings)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Supporter).where(Supporter.id == ann).values(first_name="Annemarie")  # type: ignore[arg-type]
        )
    messages = dict(campaign.messages)
    messages["personal"] = {"en": 'Hello again {{ name }}: <a href="{{ donate_link }}">give</a>'}
    corrected = make_campaign(arms=campaign.model_dump()["arms"], messages=messages)
    outbox = worker(sessions, sender, settings, specs=lambda: {corrected.name: corrected})
    await outbox.run_once(LATER)
    [message] = await sandbox.client.sent(531, accepted_only=True)
    assert message["text"].startswith("Hello again Annemarie")


async def test_another_campaigns_recent_ask_caps_this_one(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    ann = await person(sessions, sandbox, 541, "Ann")
    bo = await person(sessions, sandbox, 542, "Bo")
    await launch(sessions, settings)
    async with sessions() as session, session.begin():
        other = await add_campaign_row(session, "other-appeal")
        ann_row = await session.get(Supporter, ann)
        assert ann_row is not None
        # Sent by another campaign after this one launched: 3 days < the 14-day cap.
        await add_ask(session, other, ann_row, state="sent", sent_at=LATER - timedelta(days=3))
    await worker(sessions, sender, settings).run_once(LATER)
    mine = {a.supporter_id: a for a in await asks(sessions) if a.campaign_id != other.id}
    assert mine[ann].state == "skipped"
    assert mine[ann].failure_reason == "frequency cap: asked in another campaign recently"
    assert mine[bo].state == "sent"


async def test_an_ask_due_after_the_window_closed_waits_for_the_next_window(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    await person(sessions, sandbox, 551, "Ann")
    await launch(sessions, settings)
    evening = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)  # 21:30 in Amsterdam: closed
    assert await worker(sessions, sender, settings).run_once(evening) == 1
    [ask] = await asks(sessions)
    assert ask.state == "pending"
    assert ask.due_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 Amsterdam
    assert await sandbox.client.sent() == []


async def test_a_message_that_cannot_be_rendered_fails_with_the_reason(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    # Fine for the sample supporters the spec is checked with; too long for a 150-letter name.
    text = "{{ name }} " * 30 + '<a href="{{ donate_link }}">give</a>'
    campaign = make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}},
        messages={"personal": {"en": text}},
    )
    await person(sessions, sandbox, 561, "A" * 150)
    await launch(sessions, settings, campaign)
    await worker(sessions, sender, settings).run_once(LATER)
    [ask] = await asks(sessions)
    assert ask.state == "failed"
    assert ask.failure_reason is not None
    assert ask.failure_reason.startswith("message could not be rendered")
    assert "4096" in ask.failure_reason


async def test_a_pause_during_a_batch_stops_the_rest_of_the_batch(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    for uid in (571, 572, 573):
        await person(sessions, sandbox, uid, f"P{uid}")
    campaign = await launch(sessions, settings)

    class PausingAfterFirst:
        """Telegram, and a member of staff who sends /pause right after the first message."""

        async def send_text(
            self,
            chat_id: int | str,
            text: str,
            *,
            buttons: Sequence[Sequence[Button]] = (),
            paid: bool = False,
        ) -> SendOutcome:
            outcome = await sender.send_text(chat_id, text, buttons=buttons, paid=paid)
            await pause_campaign(sessions, campaign.name, now=LATER)
            return outcome

    outbox = worker(sessions, PausingAfterFirst(), settings, rate=1.0, concurrency=1)
    await outbox.run_once(LATER)
    assert sorted(a.state for a in await asks(sessions)) == ["pending", "pending", "sent"]
    assert len(await sandbox.client.sent()) == 1


async def test_a_worker_marks_asks_it_was_sending_when_it_died_unknown(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    await person(sessions, sandbox, 581, "Ann")
    await launch(sessions, settings)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Ask).values(
                state="sending", claimed_at=LATER - timedelta(minutes=1), worker="w1"
            )
        )
    other = worker(sessions, sender, settings, worker_id="w2")
    assert await other.recover(LATER) == 0  # w1 may still be alive: its lease has not run out
    same = worker(sessions, sender, settings, worker_id="w1")
    assert await same.recover(LATER) == 1  # w1 restarted: its old claims are from a dead process
    [ask] = await asks(sessions)
    assert (ask.state, ask.failure_reason) == ("unknown", INTERRUPTED)
    assert await same.run_once(LATER) == 0
    assert await sandbox.client.sent() == []


# --- what Telegram answers ---------------------------------------------------------------------


async def test_a_429_pauses_sending_for_retry_after_and_retries_without_counting(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    sessions = sqlite_sessions
    await person(sessions, sandbox, 601, "Ann")
    await launch(sessions, settings)
    clock = FakeClock()
    outbox = worker(sessions, sender, settings, clock=clock)
    await sandbox.client.set_faults(rate_429=1.0, retry_after=7, methods=["sendMessage"])
    await outbox.run_once(LATER)
    [ask] = await asks(sessions)
    assert (ask.state, ask.attempts) == ("pending", 0)
    assert ask.due_at == LATER + timedelta(seconds=7)
    assert ask.failure_reason == "flood limit: retry after 7 s"
    assert outbox.limiter.paused_until == pytest.approx(clock.monotonic() + 7)

    await sandbox.client.set_faults()
    assert await outbox.run_once(LATER + timedelta(seconds=6)) == 0
    assert await outbox.run_once(LATER + timedelta(seconds=7)) == 1
    [ask] = await asks(sessions)
    assert (ask.state, ask.attempts) == ("sent", 1)
    assert clock.monotonic() >= 1_000.0 + 7  # the second send waited out the pause


async def test_a_5xx_is_retried_with_backoff_and_then_sent(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    sessions = sqlite_sessions
    await person(sessions, sandbox, 611, "Ann")
    await launch(sessions, settings)
    outbox = worker(sessions, sender, settings)
    await sandbox.client.set_faults(rate_5xx=1.0, methods=["sendMessage"])
    await outbox.run_once(LATER)
    [ask] = await asks(sessions)
    assert (ask.state, ask.attempts, ask.due_at) == ("pending", 1, LATER + timedelta(seconds=2))
    assert ask.failure_reason is not None and ask.failure_reason.startswith("attempt 1 failed")
    await sandbox.client.set_faults()
    await outbox.run_once(LATER + timedelta(seconds=2))
    [ask] = await asks(sessions)
    assert (ask.state, ask.attempts) == ("sent", 2)
    assert len(await sandbox.client.sent(611, accepted_only=True)) == 1


async def test_a_5xx_that_persists_fails_after_max_attempts(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    sessions = sqlite_sessions
    await person(sessions, sandbox, 621, "Ann")
    await launch(sessions, settings)
    outbox = worker(sessions, sender, settings)
    await sandbox.client.set_faults(rate_5xx=1.0, methods=["sendMessage"])
    moment = LATER
    for _ in range(settings.max_send_attempts):
        assert await outbox.run_once(moment) == 1
        moment += timedelta(minutes=1)
    [ask] = await asks(sessions)
    assert (ask.state, ask.attempts) == ("failed", 3)
    assert ask.failure_reason is not None
    assert ask.failure_reason.startswith("gave up after 3 attempts: ")
    assert await outbox.run_once(moment + timedelta(hours=1)) == 0


@pytest.mark.parametrize("after_send", [True, False], ids=["answer lost", "request lost"])
async def test_a_dropped_connection_leaves_the_ask_unknown_and_never_resends(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
    after_send: bool,
) -> None:
    sessions = sqlite_sessions
    await person(sessions, sandbox, 631, "Ann")
    await launch(sessions, settings)
    outbox = worker(sessions, sender, settings)
    await sandbox.client.set_faults(
        drop_rate=1.0, drop_after_send=after_send, methods=["sendMessage"]
    )
    await outbox.run_once(LATER)
    [ask] = await asks(sessions)
    assert ask.state == "unknown"
    assert ask.failure_reason is not None and "not retried" in ask.failure_reason
    # When only the answer was lost, the supporter did get it: resending would duplicate it.
    delivered = await sandbox.client.sent(631, accepted_only=True)
    assert len(delivered) == (1 if after_send else 0)
    await sandbox.client.set_faults()
    assert await outbox.run_once(LATER + timedelta(hours=1)) == 0


async def test_403_marks_the_supporter_blocked_or_unreachable(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    blocker = await person(sessions, sandbox, 641, "Ann")
    stranger = await person(sessions, sandbox, 642, "Bo", started=False)
    await sandbox.client.block(641)
    await launch(sessions, settings)
    await worker(sessions, sender, settings).run_once(LATER)
    outcome = {a.supporter_id: (a.state, a.failure_reason) for a in await asks(sessions)}
    assert outcome[blocker] == ("failed", "blocked: Forbidden: bot was blocked by the user")
    assert outcome[stranger] == (
        "failed",
        "unreachable: Forbidden: bot can't initiate conversation with a user",
    )
    blocked_at = (await supporter(sessions, blocker)).blocked_at
    assert blocked_at is not None and LATER <= blocked_at < LATER + timedelta(seconds=1)
    # They must /start the bot again before anyone can message them.
    assert (await supporter(sessions, stranger)).chat_id is None


async def test_another_400_fails_the_ask_with_telegrams_description(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    sessions = sqlite_sessions
    async with sessions() as session, session.begin():
        await add_supporter(session, chat_id=999_999, first_name="Nobody")  # no such chat
    await launch(sessions, settings)
    await worker(sessions, sender, settings).run_once(LATER)
    [ask] = await asks(sessions)
    assert (ask.state, ask.failure_reason) == ("failed", "Chat not found")


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (httpx.ConnectError("refused"), Result.TRANSIENT),
        (httpx.ConnectTimeout("slow"), Result.TRANSIENT),
        (httpx.PoolTimeout("busy"), Result.TRANSIENT),
        (httpx.ReadTimeout("no answer"), Result.AMBIGUOUS),
        (httpx.RemoteProtocolError("cut"), Result.AMBIGUOUS),
        (None, Result.TRANSIENT),  # a 5xx answer: the server said it did nothing
    ],
)
def test_network_errors_are_retried_only_when_nothing_can_have_arrived(
    cause: Exception | None, expected: Result
) -> None:
    error = (
        TimedOut() if isinstance(cause, httpx.TimeoutException) else NetworkError("Bad Gateway")
    )
    error.__cause__ = cause
    assert classify_error(error).result is expected


async def test_the_senders_own_network_errors_keep_their_meaning() -> None:
    """A refused connection sent nothing (retry); a request left unanswered may have arrived."""

    held: list[asyncio.StreamWriter] = []

    async def listen_and_never_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        held.append(writer)
        await reader.read(65536)

    silent = await asyncio.start_server(listen_and_never_answer, "127.0.0.1", 0)
    silent_port = silent.sockets[0].getsockname()[1]
    closed_port = free_port()
    outcomes = {}
    async with silent:
        for name, port in (("closed", closed_port), ("silent", silent_port)):
            settings = delivery_settings(f"http://127.0.0.1:{port}/bot", "1:token")
            # Not entered: entering asks Telegram for the bot's own details first.
            sender = TelegramSender.from_settings(settings, read_timeout=0.3)
            try:
                outcomes[name] = (await sender.send_text(1, "hello")).result
            finally:
                await sender.bot.request.shutdown()
        for writer in held:
            writer.close()
            await writer.wait_closed()
    assert outcomes == {"closed": Result.TRANSIENT, "silent": Result.AMBIGUOUS}


def test_telegram_answers_map_to_outbox_results() -> None:
    assert classify_error(RetryAfter(12)).retry_after == 12.0
    assert classify_error(Forbidden("Forbidden: user is deactivated")).result is Result.UNREACHABLE
    assert classify_error(BadRequest("Message is too long")).result is Result.REJECTED


# --- broadcast post and paid broadcast --------------------------------------------------------


async def test_the_broadcast_post_goes_to_its_channel_once_with_its_own_link_and_reach(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    await sandbox.client.add_chat(
        -100123, "channel", "Harbour news", username="harbour_news", member_count=250
    )
    campaign = make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}},
        broadcast_post={
            "chat": "@harbour_news",
            "message": "generic",
            "at": "2026-12-01T12:00:00",
        },
    )
    await launch(sessions, settings, campaign)
    assert await send_due_posts(sessions, sender, settings, now=NOW) == 0  # due 12:00 local
    noon = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    assert await send_due_posts(sessions, sender, settings, now=noon) == 1
    assert await send_due_posts(sessions, sender, settings, now=noon + timedelta(hours=1)) == 0
    async with sessions() as session:
        [post] = (await session.execute(select(BroadcastPost))).scalars().all()
    [message] = await sandbox.client.sent(accepted_only=True)
    assert (post.state, post.reach, post.telegram_message_id) == (
        "sent",
        250,
        message["message_id"],
    )
    assert f"https://bot.example.org/r/{post.token}" in message["text"]


async def test_paid_broadcast_mode_asks_telegram_for_the_paid_limit(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, sender: TelegramSender
) -> None:
    sessions = sqlite_sessions
    paid = delivery_settings(sandbox.bot_base_url, sandbox.token, paid_broadcast=True)
    await person(sessions, sandbox, 651, "Ann")
    await launch(sessions, paid)
    outbox = OutboxWorker(sessions, sender, paid)
    assert outbox.limiter.limits.per_second == paid.paid_rate_per_second
    await outbox.run_once(LATER)
    [message] = await sandbox.client.sent(651, accepted_only=True)
    assert message["allow_paid_broadcast"] is True


# --- claiming ----------------------------------------------------------------------------------


async def test_a_claim_takes_at_most_its_limit_and_concurrent_claims_never_overlap(
    sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    from bot.storage.outbox import claim_due_asks

    for uid in range(701, 731):
        await person(sessions, sandbox, uid, f"P{uid}")
    await launch(sessions, settings)
    [campaign_id] = {a.campaign_id for a in await asks(sessions)}
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    async with sessions() as first, sessions() as second:
        await first.begin()
        mine = await claim_due_asks(
            session=first, campaign_id=campaign_id, now=LATER, limit=10, worker="a"
        )
        if not postgres:
            await first.commit()  # SQLite has one writer: the second claim waits for the first
        # On PostgreSQL the first claim is still uncommitted: SKIP LOCKED passes its rows by.
        theirs = await claim_due_asks(
            session=second, campaign_id=campaign_id, now=LATER, limit=10, worker="b"
        )
        await second.commit()
        if postgres:
            await first.commit()
    assert len(mine) == len(theirs) == 10
    assert not {a.id for a in mine} & {a.id for a in theirs}
    states = Counter((a.state, a.worker) for a in await asks(sessions))
    assert states == {("sending", "a"): 10, ("sending", "b"): 10, ("pending", None): 10}


# --- the scheduler -----------------------------------------------------------------------------


async def test_the_scheduler_derives_every_job_from_the_database(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    settings: Settings,
    sender: TelegramSender,
) -> None:
    from bot.scheduler import DeliveryScheduler

    sessions = sqlite_sessions
    for uid in (801, 802):
        await person(sessions, sandbox, uid, f"P{uid}")
    campaign = make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}},
        broadcast_post={
            "chat": "@harbour_news",
            "message": "generic",
            "at": "2026-12-01T12:00:00",
        },
    )
    await launch(sessions, settings, campaign)
    # Started twice, as after a restart: the same jobs again, nothing lost, nothing doubled.
    for _ in range(2):
        scheduler = DeliveryScheduler(
            sessions, settings, worker=worker(sessions, sender, settings), post_sender=sender,
            clock=lambda: NOW,
        )  # fmt: skip
        await scheduler.start()
        try:
            jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
            assert set(jobs) == {
                "outbox-wake",
                "broadcast-posts",
                "follow-ups",
                "resync",
                "weekly-summary",
                "community-flags",
                "member-counts",
                "scores",
            }
            assert jobs["outbox-wake"].next_run_time == NOW  # the first ask is due at once
            assert jobs["broadcast-posts"].next_run_time == datetime(
                2026, 12, 1, 11, 0, tzinfo=UTC
            )
            weekly = jobs["weekly-summary"].next_run_time
            assert (weekly.weekday(), weekly.hour, weekly.minute) == (
                0,
                9,
                0,
            )  # Monday 09:00 local
        finally:
            scheduler.shutdown()


async def test_running_delivery_sends_a_launched_ask_as_soon_as_it_is_woken(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    from bot.clock import utcnow
    from bot.scheduler import running_delivery

    sessions = sqlite_sessions
    await person(sessions, sandbox, 811, "Ann")
    always = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "00:00-24:00"}
    campaign = make_campaign(
        arms={"specific": {"kind": "specific", "weight": 1, "message": "personal"}},
        send_window=always,
    )
    async with running_delivery(settings, sessions, worker_id="e2e") as delivery:
        await launch_campaign(sessions, campaign, now=utcnow(), settings=settings)
        delivery.wake()
        [message] = await sandbox.client.wait_sent(811, 1, within=10, accepted_only=True)
    [ask] = await asks(sessions)
    assert (ask.state, ask.telegram_message_id, ask.worker) == (
        "sent",
        message["message_id"],
        "e2e",
    )
