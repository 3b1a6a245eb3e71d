"""Flag rules, the time-based flags on both databases, the audience's exclusion, the CAS check."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.flags import (
    BurstRule,
    burst_members,
    is_deactivated,
    points_elsewhere,
)
from bot.services.flags import CasCheck, evaluate_flags
from bot.storage import audience
from bot.storage.flags import add_flags, clear_flags
from bot.storage.models import SupporterFlag
from tests.cas_fake import closed_port_url, fake_cas
from tests.factories import NOW, add_interaction, add_supporter, make_campaign

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_burst_is_every_join_inside_a_window_holding_enough_joins() -> None:
    joins = [(1, _at(0)), (2, _at(10)), (3, _at(59)), (4, _at(200)), (5, _at(400))]
    assert burst_members(joins, BurstRule(joins=3, seconds=60)) == {1, 2, 3}
    assert burst_members(joins, BurstRule(joins=4, seconds=60)) == set()
    # 59 s to 200 s is 141 s: a wider window takes the fourth join in, not the fifth.
    assert burst_members(joins, BurstRule(joins=4, seconds=200)) == {1, 2, 3, 4}
    assert burst_members(list(reversed(joins)), BurstRule(joins=3, seconds=60)) == {1, 2, 3}


@pytest.mark.parametrize(
    ("kinds", "forwarded", "expected"),
    [
        ([], False, False),
        (["hashtag", "bold"], False, False),
        (["url"], False, True),
        (["text_link"], False, True),
        (["mention"], False, True),
        ([], True, True),
    ],
)
def test_a_message_points_elsewhere_by_its_links_mentions_or_forwarded_chat(
    kinds: list[str], forwarded: bool, expected: bool
) -> None:
    assert points_elsewhere(kinds, forwarded_from_chat=forwarded) is expected


def test_only_telegrams_deactivated_answer_means_deleted() -> None:
    assert is_deactivated("Forbidden: user is deactivated")
    assert not is_deactivated("Forbidden: bot was blocked by the user")
    assert not is_deactivated(None)


async def _flags(session: AsyncSession) -> set[tuple[int, str]]:
    rows = await session.execute(
        select(SupporterFlag.supporter_id, SupporterFlag.reason).where(
            SupporterFlag.cleared_at.is_(None)  # type: ignore[union-attr]
        )
    )
    return {(int(sid), str(reason)) for sid, reason in rows}


async def test_time_reveals_members_who_left_fast_or_never_took_part(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        quick = await add_supporter(session, first_name="Quick")
        silent = await add_supporter(session, first_name="Silent")
        talker = await add_supporter(session, first_name="Talker")
        late = await add_supporter(session, first_name="Late talker")
        stayer = await add_supporter(session, first_name="Stayer")
        for person in (quick, silent, talker, late, stayer):
            await add_interaction(session, person, "joined", T0, source="Chat")
        await add_interaction(session, quick, "left", T0 + timedelta(hours=23), source="Chat")
        await add_interaction(session, stayer, "left", T0 + timedelta(days=3), source="Chat")
        await add_interaction(session, talker, "comment", T0 + timedelta(days=59), source="Chat")
        await add_interaction(session, late, "comment", T0 + timedelta(days=61), source="Chat")
    ids = {p.first_name: p.id for p in (quick, silent, talker, late, stayer)}
    assert await evaluate_flags(sessions, now=T0 + timedelta(days=59)) == {
        "left_fast": 1,
        "inactive": 0,
    }
    added = await evaluate_flags(sessions, now=T0 + timedelta(days=61))
    assert added == {"left_fast": 0, "inactive": 4}
    async with sessions() as session:
        assert await _flags(session) == {
            (ids["Quick"], "left_fast"),
            (ids["Quick"], "inactive"),
            (ids["Silent"], "inactive"),
            (ids["Late talker"], "inactive"),
            (ids["Stayer"], "inactive"),
        }


async def test_flagged_supporters_are_left_out_unless_the_campaign_includes_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        people = [await add_supporter(session, first_name=f"P{n}") for n in range(4)]
        for person in people:
            await add_interaction(session, person, "visited_exhibition", NOW - timedelta(days=3))
        ids = [int(p.id or 0) for p in people]
        await add_flags(
            session=session,
            rows=[
                {"supporter_id": ids[0], "reason": "burst_join", "flagged_at": NOW},
                {"supporter_id": ids[0], "reason": "inactive", "flagged_at": NOW},
                {"supporter_id": ids[1], "reason": "deleted", "flagged_at": NOW},
                {"supporter_id": ids[2], "reason": "inactive", "flagged_at": NOW},
            ],
        )
        await clear_flags(session=session, supporter_id=ids[2], by="Sam", now=NOW)
    rules = {"any": [{"interaction": "visited_exhibition"}]}
    plain = make_campaign(rules)
    wide = make_campaign({**rules, "include_flagged": True})
    async with sessions() as session:
        assert await audience.count_audience(session, plain, now=NOW, cap=None) == 2
        assert await audience.count_audience(session, wide, now=NOW, cap=None) == 4
        out = await audience.count_flagged_out(session, plain, now=NOW, cap=None)
        assert out == (2, {"burst_join": 1, "deleted": 1, "inactive": 1})
        assert await audience.count_flagged_out(session, wide, now=NOW, cap=None) == (0, {})
        chosen = [
            row.supporter_id
            async for batch in audience.stream_audience(session, plain, now=NOW, cap=None)
            for row in batch
        ]
        assert sorted(chosen) == [ids[2], ids[3]]


async def test_cas_answers_banned_and_clean_and_nothing_when_slow_or_down() -> None:
    # The time-out leaves a busy machine room for the quick answers; the slow one never comes.
    async with fake_cas(banned={666}, slow={777}, delay=60.0) as cas:
        check = CasCheck(cas.url, timeout=2.0)
        try:
            assert await check.banned(666) is True
            assert await check.banned(42) is False
            started = time.monotonic()
            assert await check.banned(777) is None
            assert time.monotonic() - started < 30.0  # the time-out, not the fake's delay
        finally:
            await check.aclose()
        assert cas.asked == [666, 42, 777]
    down = CasCheck(closed_port_url(), timeout=0.3)
    try:
        assert await down.banned(666) is None
    finally:
        await down.aclose()
