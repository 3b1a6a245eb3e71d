"""Follow-up steps: after a delay, to those who did not reply, click or give; once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.limits import LimitSettings, SendLimiter
from bot.domain.spec import Campaign
from bot.sandbox import Sandbox
from bot.services.campaigns import pause_campaign
from bot.services.followups import enqueue_all_follow_ups, enqueue_follow_ups
from bot.services.launch import launch_campaign
from bot.services.outbox import OutboxWorker
from bot.storage.models import Ask, Click, Interaction, Reply, Supporter
from bot.telegram.sender import TelegramSender
from tests.factories import add_donation, add_supporter, make_campaign
from tests.helpers import FakeClock

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Amsterdam
SENT_AT = NOW + timedelta(minutes=5)
ARMS = {
    "specific": {"kind": "specific", "weight": 1, "message": "personal"},
    "broadcast": {"kind": "broadcast", "weight": 1, "message": "generic"},
}


def campaign_with(
    when: str = "no_click", arms: list[str] | None = None, **overrides: object
) -> Campaign:
    step: dict[str, object] = {
        "name": "reminder",
        "after": "3d",
        "when": when,
        "message": "generic",
    }
    if arms is not None:
        step["arms"] = arms
    return make_campaign(arms=ARMS, follow_ups=[step], **overrides)


async def launched(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, campaign: Campaign, count: int
) -> list[int]:
    """Launch to `count` supporters and mark every first ask sent; return supporter ids."""
    ids = []
    async with sessions() as session, session.begin():
        for i in range(count):
            row = await add_supporter(session, chat_id=700 + i, first_name=f"P{i}")
            assert row.id is not None
            ids.append(row.id)
    await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    async with sessions() as session, session.begin():
        await session.execute(update(Ask).values(state="sent", sent_at=SENT_AT))
    return ids


async def follow_ups(sessions: async_sessionmaker[AsyncSession]) -> dict[int | None, Ask]:
    async with sessions() as session:
        rows = (await session.execute(select(Ask).where(Ask.step == "reminder"))).scalars()  # type: ignore[arg-type]
        return {a.supporter_id: a for a in rows}


async def campaign_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        [ask] = (await session.execute(select(Ask).limit(1))).scalars().all()
        return ask.campaign_id


async def test_a_follow_up_goes_after_the_delay_to_those_who_did_not_click_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    campaign = campaign_with("no_click")
    quiet, clicked, stopped = await launched(sessions, settings, campaign, 3)
    cid = await campaign_id(sessions)
    async with sessions() as session, session.begin():
        session.add(Click(token="t", campaign_id=cid, supporter_id=clicked, clicked_at=SENT_AT))
        await session.execute(
            update(Supporter).where(Supporter.id == stopped).values(opted_out_at=SENT_AT)  # type: ignore[arg-type]
        )
    assert await enqueue_follow_ups(sessions, campaign, now=SENT_AT + timedelta(days=2)) == 0
    later = SENT_AT + timedelta(days=3)
    assert await enqueue_follow_ups(sessions, campaign, now=later, settings=settings) == 1
    assert await enqueue_follow_ups(sessions, campaign, now=later, settings=settings) == 0
    [(who, ask)] = (await follow_ups(sessions)).items()
    first = {a.supporter_id: a for a in await all_asks(sessions) if a.step == "ask"}
    assert who == quiet
    assert (ask.state, ask.arm, ask.due_at) == ("pending", first[quiet].arm, later)
    assert ask.token != first[quiet].token


async def all_asks(sessions: async_sessionmaker[AsyncSession]) -> list[Ask]:
    async with sessions() as session:
        return list((await session.execute(select(Ask))).scalars())


@pytest.mark.parametrize("when", ["no_reply", "no_gift"])
async def test_a_reply_or_a_gift_means_no_follow_up_of_that_kind(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, when: str
) -> None:
    campaign = campaign_with(when)
    quiet, answered = await launched(sessions, settings, campaign, 2)
    cid = await campaign_id(sessions)
    async with sessions() as session, session.begin():
        if when == "no_reply":
            session.add(
                Reply(supporter_id=answered, campaign_id=cid, text="Maybe", received_at=SENT_AT)
            )
        else:
            await add_donation(session, answered, 1500, SENT_AT, campaign_id=cid)
    await enqueue_follow_ups(
        sessions, campaign, now=SENT_AT + timedelta(days=4), settings=settings
    )
    assert set(await follow_ups(sessions)) == {quiet}


async def test_only_the_listed_arms_get_the_step_and_not_now_is_respected(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    campaign = campaign_with(arms=["specific"])
    ids = await launched(sessions, settings, campaign, 12)
    arms = {a.supporter_id: a.arm for a in await all_asks(sessions)}
    specific = [i for i in ids if arms[i] == "specific"]
    assert 0 < len(specific) < len(ids)
    async with sessions() as session, session.begin():
        session.add(
            Interaction(
                supporter_id=specific[0], kind="not_now", detail=campaign.name, occurred_at=SENT_AT
            )
        )
    await enqueue_follow_ups(
        sessions, campaign, now=SENT_AT + timedelta(days=3), settings=settings
    )
    assert set(await follow_ups(sessions)) == set(specific[1:])


async def test_a_follow_up_waits_for_the_window_in_the_supporters_zone(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    campaign = campaign_with(
        send_window={"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "10:00-18:00"}
    )
    await launched(sessions, settings, campaign, 1)
    async with sessions() as session, session.begin():
        await session.execute(update(Supporter).values(timezone="America/New_York"))
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    await enqueue_all_follow_ups(sessions, now=saturday, settings=settings)
    [ask] = (await follow_ups(sessions)).values()
    assert ask.due_at == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York


async def test_a_paused_campaign_queues_no_follow_ups(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    campaign = campaign_with()
    await launched(sessions, settings, campaign, 2)
    await pause_campaign(sessions, campaign.name, now=SENT_AT)
    assert await enqueue_follow_ups(sessions, campaign, now=SENT_AT + timedelta(days=5)) == 0


async def test_the_follow_up_is_sent_with_its_own_message_and_link(
    sqlite_sessions: async_sessionmaker[AsyncSession], sandbox: Sandbox, settings: Settings
) -> None:
    sessions = sqlite_sessions
    await sandbox.client.add_user(700, "P0", started=True)
    campaign = campaign_with()
    await launched(sessions, settings, campaign, 1)
    later = SENT_AT + timedelta(days=3)
    await enqueue_follow_ups(sessions, campaign, now=later, settings=settings)
    clock = FakeClock()
    async with TelegramSender.from_settings(settings, pool_size=2) as sender:
        outbox = OutboxWorker(
            sessions, sender, settings, limiter=SendLimiter(LimitSettings(per_second=100)),
            monotonic=clock.monotonic, sleep=clock.sleep,
        )  # fmt: skip
        assert await outbox.run_once(later) == 1
    ask = (await follow_ups(sessions))[next(iter(await follow_ups(sessions)))]
    [message] = await sandbox.client.sent(700, accepted_only=True)
    assert ask.state == "sent"
    assert message["text"].startswith("Please give")
    assert f"/r/{ask.token}" in message["text"]
