"""Public asks in the outbox against the sandbox: Telegram's group limit, the campaign's hourly
cap, a 429, and an opted-out member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.limits import LimitSettings, SendLimiter
from bot.sandbox import Sandbox
from bot.services.community import Member, Spoke, record_facts
from bot.services.launch import launch_campaign
from bot.services.outbox import OutboxWorker
from bot.storage.models import Ask, Supporter
from bot.storage.tables import COMMUNITY_MESSAGE
from bot.telegram.sender import TelegramSender
from tests.factories import make_campaign
from tests.helpers import FakeClock

GROUP = -1001000000777
LAUNCHED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Amsterdam
NOW = LAUNCHED + timedelta(minutes=2)  # every ask due (spread over a minute)
FIRST_USER = 8100


def public_campaign(per_hour: int = 100) -> object:
    return make_campaign(
        arms={
            "public": {
                "kind": "specific",
                "weight": 1,
                "message": "personal",
                "via": "group_reply",
            }
        },
        group_replies_per_hour=per_hour,
        spread="1m",
    )


async def community_of(
    sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, size: int
) -> list[int]:
    """Have `size` members write in the group, recorded as the listener records them."""
    await sandbox.client.add_chat(GROUP, "supergroup", "Harbour chat")
    facts = []
    users = list(range(FIRST_USER, FIRST_USER + size))
    for user in users:
        await sandbox.client.add_user(user, f"Member{user}")
        await sandbox.client.set_member(GROUP, user)
        said = await sandbox.client.post(GROUP, user, "Lovely museum!")
        facts.append(
            Spoke(
                chat_id=GROUP,
                source="Harbour chat",
                message_id=said["message"]["message_id"],
                member=Member(user, f"Member{user}"),
                occurred_at=NOW - timedelta(days=3),
                sentiment="positive",
                question=False,
            )
        )
    async with sessions() as session, session.begin():
        await record_facts(session, facts, main_currency="EUR")
    return users


def worker(
    sessions: async_sessionmaker[AsyncSession], sender: TelegramSender, settings: Settings
) -> tuple[OutboxWorker, FakeClock]:
    clock = FakeClock()
    outbox = OutboxWorker(
        sessions,
        sender,
        settings,
        limiter=SendLimiter(LimitSettings(per_second=1000.0)),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        batch_size=50,
    )
    return outbox, clock


async def states(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, datetime]]:
    async with sessions() as session:
        rows = await session.execute(select(Ask.state, Ask.due_at).order_by(Ask.id))  # type: ignore[call-overload]
        return [tuple(row) for row in rows]


async def test_public_asks_keep_twenty_a_minute_to_one_group_through_a_429(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    sessions = sqlite_sessions
    await community_of(sessions, sandbox, 25)
    await launch_campaign(sessions, public_campaign(), now=LAUNCHED, settings=settings)
    async with TelegramSender.from_settings(settings, pool_size=8) as sender:
        outbox, clock = worker(sessions, sender, settings)
        await sandbox.client.set_faults(rate_429=1.0, retry_after=3, methods=["sendMessage"])
        await outbox.run_once(NOW)
        assert {state for state, _ in await states(sessions)} == {"pending"}
        assert not await sandbox.client.sent(GROUP, accepted_only=True)

        await sandbox.client.set_faults()
        # The refused attempts held their places in the group's minute: a minute later the
        # group is free again, and the worker sends twenty at once and no more.
        clock.advance(timedelta(seconds=61))
        later = NOW + timedelta(seconds=61)
        await outbox.run_once(later)
        sent = await sandbox.client.sent(GROUP, accepted_only=True)
        assert len(sent) == 20
        waiting = [due for state, due in await states(sessions) if state == "pending"]
        assert len(waiting) == 5
        assert all(due >= later + timedelta(seconds=50) for due in waiting)

        clock.advance(timedelta(seconds=61))
        await outbox.run_once(later + timedelta(seconds=61))
        assert len(await sandbox.client.sent(GROUP, accepted_only=True)) == 25
        assert {state for state, _ in await states(sessions)} == {"sent"}
        # Every reply answers its member's own message.
        for entry in await sandbox.client.sent(GROUP, accepted_only=True):
            assert entry["reply_to_message_id"] is not None


async def test_the_campaign_caps_its_public_replies_per_group_per_hour(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    sessions = sqlite_sessions
    await community_of(sessions, sandbox, 6)
    await launch_campaign(sessions, public_campaign(per_hour=4), now=LAUNCHED, settings=settings)
    async with TelegramSender.from_settings(settings, pool_size=8) as sender:
        outbox, _ = worker(sessions, sender, settings)
        await outbox.run_once(NOW)
        assert len(await sandbox.client.sent(GROUP, accepted_only=True)) == 4
        waiting = [due for state, due in await states(sessions) if state == "pending"]
        assert len(waiting) == 2 and all(due >= NOW + timedelta(hours=1) for due in waiting)
        await outbox.run_once(NOW + timedelta(minutes=59))
        assert len(await sandbox.client.sent(GROUP, accepted_only=True)) == 4
        await outbox.run_once(NOW + timedelta(hours=1, seconds=1))
        assert len(await sandbox.client.sent(GROUP, accepted_only=True)) == 6


async def test_a_member_who_opts_out_after_launch_is_never_mentioned(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    sessions = sqlite_sessions
    users = await community_of(sessions, sandbox, 3)
    await launch_campaign(sessions, public_campaign(), now=LAUNCHED, settings=settings)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Supporter)
            .where(Supporter.telegram_user_id == users[1])  # type: ignore[arg-type]
            .values(opted_out_at=NOW)
        )
    async with TelegramSender.from_settings(settings, pool_size=8) as sender:
        outbox, _ = worker(sessions, sender, settings)
        await outbox.run_once(NOW)
    texts = [e["text"] for e in await sandbox.client.sent(GROUP, accepted_only=True)]
    assert len(texts) == 2
    assert not any(f"id={users[1]}" in text for text in texts)
    assert sorted(state for state, _ in await states(sessions)) == ["sent", "sent", "skipped"]


async def test_a_reply_to_a_deleted_message_is_sent_as_a_plain_mention(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    sessions = sqlite_sessions
    await community_of(sessions, sandbox, 1)
    # The member's message is gone from the chat (here: never existed in the sandbox).
    async with sessions() as session, session.begin():
        await session.execute(update(COMMUNITY_MESSAGE).values(message_id=999_999))
    await launch_campaign(sessions, public_campaign(), now=LAUNCHED, settings=settings)
    async with TelegramSender.from_settings(settings, pool_size=8) as sender:
        outbox, _ = worker(sessions, sender, settings)
        await outbox.run_once(NOW)
    [entry] = await sandbox.client.sent(GROUP, accepted_only=True)
    assert entry["text"].startswith(f'<a href="tg://user?id={FIRST_USER}">')
    assert [state for state, _ in await states(sessions)] == ["sent"]
