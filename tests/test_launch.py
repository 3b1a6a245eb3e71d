"""Launching a campaign into queued asks, and pause, resume, cancel, status and the list."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.campaign import dump_campaign, frozen_spec
from bot.domain.campaign_state import CampaignStateError
from bot.domain.experiment import assign_arm
from bot.services.campaigns import (
    campaign_status,
    cancel_campaign,
    list_campaigns,
    pause_campaign,
    resume_campaign,
)
from bot.services.launch import launch_campaign, launch_outlook
from bot.storage.models import Ask, BroadcastPost, Reply, Supporter
from bot.storage.models import Campaign as CampaignRow
from tests.factories import (
    add_ask,
    add_campaign_row,
    add_donation,
    add_supporter,
    make_campaign,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 10:00 in Amsterdam
THREE_ARMS = {
    "specific": {"kind": "specific", "weight": 2, "message": "personal"},
    "broadcast": {"kind": "broadcast", "weight": 1, "message": "generic"},
    "holdout": {"kind": "holdout", "weight": 1},
}
ONE_ARM = {"specific": {"kind": "specific", "weight": 1, "message": "personal"}}


async def people(
    sessions: async_sessionmaker[AsyncSession], count: int, **fields: object
) -> list[int]:
    """Store reachable supporters, highest engagement first; return their ids in that order."""
    ids = []
    async with sessions() as session, session.begin():
        for i in range(count):
            row = await add_supporter(session, engagement_score=float(count - i), **fields)  # type: ignore[arg-type]
            assert row.id is not None
            ids.append(row.id)
    return ids


async def asks(sessions: async_sessionmaker[AsyncSession]) -> list[Ask]:
    async with sessions() as session:
        return list((await session.execute(select(Ask).order_by(Ask.due_at, Ask.id))).scalars())  # type: ignore[arg-type]


async def campaign_row(sessions: async_sessionmaker[AsyncSession], name: str) -> CampaignRow:
    async with sessions() as session:
        row = (
            (await session.execute(select(CampaignRow).where(CampaignRow.name == name)))
            .scalars()
            .one()
        )  # type: ignore[arg-type]
        return row


async def test_launch_queues_one_ask_per_supporter_with_arm_rule_and_language(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await people(sessions, 12)
    async with sessions() as session, session.begin():
        await add_supporter(session, reachable=False, first_name="Not started")
        await add_supporter(session, language="nl", engagement_score=0.5)
    campaign = make_campaign(arms=THREE_ARMS)
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings, batch=5)

    rows = await asks(sessions)
    assert len(rows) == 13 and result.audience_size == 13
    assert result.queued + result.holdout == 13 and sum(result.per_arm.values()) == 13
    weights = campaign.weights()
    for ask in rows:
        assert ask.supporter_id is not None
        assert ask.arm == assign_arm(campaign.name, ask.supporter_id, weights)
        assert ask.state == ("holdout" if ask.arm == "holdout" else "pending")
        assert ask.rule == "everyone" and ask.step == "ask"
        assert len(ask.token) == 16
    assert len({a.token for a in rows}) == 13
    assert Counter(a.language for a in rows) == {"en": 12, "nl": 1}
    assert result.holdout == sum(1 for a in rows if a.arm == "holdout")
    assert set(ids) <= {a.supporter_id for a in rows}

    row = await campaign_row(sessions, campaign.name)
    assert (row.state, row.audience_size, row.launched_at) == ("running", 13, NOW)
    assert frozen_spec(row.spec_yaml) == campaign


async def test_launching_a_running_campaign_again_queues_nothing(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await people(sessions, 3)
    campaign = make_campaign(arms=ONE_ARM)
    await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    again = await launch_campaign(
        sessions, campaign, now=NOW + timedelta(hours=1), settings=settings
    )
    assert again.already and again.state == "running" and again.queued == 3
    assert "already launched" in again.message
    assert len(await asks(sessions)) == 3


async def test_an_interrupted_launch_resumes_without_duplicates(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await people(sessions, 5)
    campaign = make_campaign(arms=ONE_ARM)
    async with sessions() as session, session.begin():
        row = await add_campaign_row(session, campaign.name, state="launching")
        row.spec_yaml = dump_campaign(campaign)
        for supporter_id in ids[:2]:
            supporter = await session.get(Supporter, supporter_id)
            assert supporter is not None
            await add_ask(session, row, supporter, due_at=NOW)
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    assert not result.already and result.state == "running"
    rows = await asks(sessions)
    assert sorted(a.supporter_id for a in rows if a.supporter_id) == sorted(ids)
    assert (await campaign_row(sessions, campaign.name)).audience_size == 5


async def test_asks_are_spread_over_the_window_in_each_supporters_time_zone(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    amsterdam = await people(sessions, 4)
    [new_york] = await people(sessions, 1, timezone="America/New_York")
    campaign = make_campaign(
        arms=ONE_ARM,
        spread="2d",
        send_window={"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "10:00-18:00"},
    )
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    due = {a.supporter_id: a.due_at for a in await asks(sessions)}
    # Five asks over two 8-hour days of open time: 3.2 hours of window apart, in audience order.
    assert [due[i] for i in amsterdam] == [
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 12, 12, tzinfo=UTC),
        datetime(2026, 12, 7, 15, 24, tzinfo=UTC),
        datetime(2026, 12, 8, 10, 36, tzinfo=UTC),  # 1.6 h after Tuesday's 10:00 opening
    ]
    # The fifth ask is 12.8 h into New York's own open time: Tuesday 14:48 there.
    assert due[new_york].astimezone(ZoneInfo("America/New_York")) == datetime(
        2026, 12, 8, 14, 48, tzinfo=ZoneInfo("America/New_York")
    )
    assert result.first_due == due[amsterdam[0]] and result.last_due == due[new_york]


async def test_without_a_spread_every_ask_is_due_at_launch(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await people(sessions, 5)
    campaign = make_campaign(arms=ONE_ARM)
    foreseen = await launch_outlook(sessions, campaign, now=NOW, settings=settings)
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    due = {a.supporter_id: a.due_at for a in await asks(sessions)}
    # The window is open at launch: all due now; the send rate alone paces them.
    assert [due[i] for i in ids] == [NOW] * 5
    assert result.outlook == foreseen
    assert (foreseen.asks, foreseen.starts, foreseen.waits) == (5, NOW, False)
    assert foreseen.sending == timedelta(seconds=5 / settings.send_rate_per_second)


async def test_without_a_spread_a_closed_window_holds_the_asks_until_it_opens(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    amsterdam = await people(sessions, 2)
    [new_york] = await people(sessions, 1, timezone="America/New_York")
    saturday = NOW - timedelta(days=2)
    window = {"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "10:00-18:00"}
    campaign = make_campaign(arms=ONE_ARM, send_window=window)
    result = await launch_campaign(sessions, campaign, now=saturday, settings=settings)
    due = {a.supporter_id: a.due_at for a in await asks(sessions)}
    assert [due[i] for i in amsterdam] == [NOW, NOW]
    # New York's window opens at 10:00 there, six hours after Amsterdam's.
    assert due[new_york] == NOW + timedelta(hours=6)
    assert result.outlook is not None
    assert (result.outlook.starts, result.outlook.waits) == (NOW, True)


async def test_a_future_start_is_kept_and_the_post_is_created_for_its_time(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await people(sessions, 2)
    campaign = make_campaign(
        arms=ONE_ARM,
        start="2026-12-10T11:00:00",
        broadcast_post={
            "chat": "@harbour_news",
            "message": "generic",
            "at": "2026-12-10T15:00:00",
        },
    )
    result = await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    assert result.first_due == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    async with sessions() as session:
        [post] = (await session.execute(select(BroadcastPost))).scalars().all()
    assert (post.state, post.chat, post.due_at) == (
        "pending",
        "@harbour_news",
        datetime(2026, 12, 10, 14, 0, tzinfo=UTC),
    )
    assert post.token not in {a.token for a in await asks(sessions)}


async def test_a_supporter_asked_by_another_campaign_within_the_cap_is_left_out(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await people(sessions, 3)
    async with sessions() as session, session.begin():
        other = await add_campaign_row(session, "spring-appeal", state="finished")
        recent = await session.get(Supporter, ids[0])
        assert recent is not None
        await add_ask(session, other, recent, state="sent", sent_at=NOW - timedelta(days=10))
    result = await launch_campaign(
        sessions, make_campaign(arms=ONE_ARM), now=NOW, settings=settings
    )
    assert result.audience_size == 2
    assert ids[0] not in {
        a.supporter_id
        for a in await asks(sessions)
        if a.step == "ask" and a.campaign_id != other.id
    }


async def test_pause_resume_and_cancel_follow_the_rules(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await people(sessions, 3)
    campaign = make_campaign(
        arms=ONE_ARM, broadcast_post={"chat": "@harbour_news", "message": "generic"}
    )
    name = campaign.name
    with pytest.raises(CampaignStateError, match="has not been launched"):
        await pause_campaign(sessions, name, now=NOW)
    await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    with pytest.raises(CampaignStateError, match="is already running"):
        await resume_campaign(sessions, name, now=NOW)
    await pause_campaign(sessions, name, now=NOW)
    with pytest.raises(CampaignStateError, match="already paused"):
        await pause_campaign(sessions, name, now=NOW)
    assert (await campaign_row(sessions, name)).paused_at == NOW
    await resume_campaign(sessions, name, now=NOW)
    assert (await campaign_row(sessions, name)).state == "running"

    await cancel_campaign(sessions, name, now=NOW)
    assert {a.state for a in await asks(sessions)} == {"cancelled"}
    async with sessions() as session:
        [post] = (await session.execute(select(BroadcastPost))).scalars().all()
    assert post.state == "cancelled"
    with pytest.raises(CampaignStateError, match="cancelled; only a paused campaign"):
        await resume_campaign(sessions, name, now=NOW)
    with pytest.raises(CampaignStateError, match="cannot be launched again"):
        await launch_campaign(sessions, campaign, now=NOW, settings=settings)


async def test_status_shows_queue_outcomes_by_reason_next_due_and_rate(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await people(sessions, 5)
    campaign = make_campaign(arms=ONE_ARM, spread="1d")
    await launch_campaign(sessions, campaign, now=NOW, settings=settings)
    rows = await asks(sessions)
    outcomes = [
        ("sent", None, NOW + timedelta(minutes=1)),
        ("sent", None, NOW + timedelta(minutes=3)),
        ("failed", "blocked: Forbidden: bot was blocked by the user", None),
        ("unknown", "interrupted while sending; not retried to avoid a duplicate", None),
    ]
    async with sessions() as session, session.begin():
        for ask, (state, reason, sent_at) in zip(rows, outcomes, strict=False):
            await session.execute(
                update(Ask)
                .where(Ask.id == ask.id)
                .values(state=state, failure_reason=reason, sent_at=sent_at)  # type: ignore[arg-type]
            )
    status = await campaign_status(sessions, campaign.name, now=NOW + timedelta(minutes=4))
    assert (status.state, status.audience_size, status.queued, status.sent) == ("running", 5, 1, 2)
    assert status.failed_by_reason == {"blocked: Forbidden: bot was blocked by the user": 1}
    assert status.unknown == 1 and status.skipped == 0
    assert status.next_due_at == rows[4].due_at
    assert status.rate_per_minute == pytest.approx(2 / 5) and status.sent_last_hour == 2
    assert status.by_step == {"ask": {"sent": 2, "failed": 1, "unknown": 1, "pending": 1}}

    draft = await campaign_status(sessions, "never-launched", now=NOW)
    assert (draft.state, draft.queued, draft.next_due_at) == ("draft", 0, None)


async def test_the_list_shows_every_campaign_with_sent_replies_and_gifts(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await people(sessions, 2)
    launched = make_campaign(arms=ONE_ARM)
    waiting = make_campaign(name="spring-appeal", arms=ONE_ARM)
    await launch_campaign(sessions, launched, now=NOW, settings=settings)
    row = await campaign_row(sessions, launched.name)
    async with sessions() as session, session.begin():
        await session.execute(update(Ask).values(state="sent", sent_at=NOW))
        session.add(
            Reply(supporter_id=ids[0], campaign_id=row.id, text="Lovely!", received_at=NOW)
        )
        await add_donation(session, ids[0], 2500, NOW, campaign_id=row.id)
        await add_donation(session, ids[1], 1000, NOW, campaign_id=row.id)
    specs = {c.name: c for c in (launched, waiting)}
    summaries = {s.name: s for s in await list_campaigns(sessions, specs)}
    assert summaries["spring-appeal"].state == "draft"
    mine = summaries[launched.name]
    assert (mine.state, mine.audience_size, mine.sent, mine.replies, mine.gifts) == (
        "running", 2, 2, 1, 2,
    )  # fmt: skip
    assert mine.amounts == {"EUR": 3500}
