"""The influence score: SQL against the Python oracle on generated histories, both databases,
and the audience rule and order that use it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.influence import influence_of
from bot.storage import referrals
from bot.storage.audience import audience_query
from bot.storage.community import save_responses
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.influence import influence_scores
from bot.storage.models import CommunityResponse, Donation, Referral, Supporter
from tests.factories import add_donation, add_supporter, make_campaign

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PEOPLE = 6

person = st.integers(0, PEOPLE - 1)
day = st.integers(0, 20)
histories = st.tuples(
    st.lists(st.tuples(person, person, day), max_size=8),  # referred, referrer, day
    st.lists(st.tuples(person, day), max_size=10),  # giver, day
    st.lists(st.tuples(person, person), max_size=10),  # author, responder
)


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    case: tuple[list[tuple[int, int, int]], list[tuple[int, int]], list[tuple[int, int]]],
) -> tuple[list[int], dict[int, int]]:
    """Write a generated history through the production functions; return ids and oracle."""
    wanted_referrals, wanted_gifts, wanted_responses = case
    async with sessions() as session, session.begin():
        for table in (CommunityResponse, Referral, Donation, Supporter):
            await session.execute(delete(table))
        ids = [(await add_supporter(session)).id for _ in range(PEOPLE)]
        assert all(sid is not None for sid in ids)
        people = [int(sid) for sid in ids if sid is not None]
        stored_referrals = []
        for referred, referrer, when in wanted_referrals:
            at = NOW - timedelta(days=when)
            recorded = await referrals.credit(
                session=session,
                referred_id=people[referred],
                referrer_id=people[referrer],
                via="start",
                new=True,
                at=at,
            )
            if recorded:
                stored_referrals.append((people[referred], people[referrer], at))
        gifts = []
        for giver, when in wanted_gifts:
            at = NOW - timedelta(days=when)
            await add_donation(session, people[giver], 1000, at)
            gifts.append((people[giver], at))
        rows = [
            {
                "event": f"r:{i}",
                "author_id": people[author],
                "responder_id": people[responder],
                "kind": "reaction",
                "at": NOW,
            }
            for i, (author, responder) in enumerate(wanted_responses)
        ]
        await save_responses(session=session, rows=rows)
    oracle = {
        sid: influence_of(
            sid,
            referrals=stored_referrals,
            gifts=gifts,
            response_authors=[people[author] for author, _ in wanted_responses],
        )
        for sid in people
    }
    return people, oracle


async def _run_case(sessions: async_sessionmaker[AsyncSession], case: Any, least: int) -> None:
    people, oracle = await _store(sessions, case)
    async with sessions() as session:
        assert await influence_scores(session=session, ids=people) == oracle
        campaign = make_campaign(
            audience={"any": [{"influence_at_least": least}], "order_by": "influence"}
        )
        rows = (await session.execute(audience_query(campaign, now=NOW, cap=None))).all()
    chosen = [row.supporter_id for row in rows]
    assert set(chosen) == {sid for sid, score in oracle.items() if score >= least}
    scores = [oracle[sid] for sid in chosen]
    assert scores == sorted(scores, reverse=True)


def _oracle_test(db_url: str, **hypothesis_settings: Any) -> None:
    with asyncio.Runner() as runner:
        engine = make_engine(db_url)
        runner.run(create_all(engine))
        sessions = session_maker(engine)

        @settings(
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            **hypothesis_settings,
        )
        @given(histories, st.integers(0, 8))
        def check(case: Any, least: int) -> None:
            runner.run(_run_case(sessions, case, least))

        try:
            check()
        finally:
            runner.run(engine.dispose())


def test_influence_sql_equals_the_oracle_on_sqlite(sqlite_url: str) -> None:
    _oracle_test(sqlite_url, max_examples=40)


@pytest.mark.postgres
def test_influence_sql_equals_the_oracle_on_postgres(pg_server: str) -> None:
    from tests.conftest import drop_pg_database, fresh_pg_database

    url = fresh_pg_database(pg_server)
    try:
        _oracle_test(url, max_examples=15, derandomize=True)
    finally:
        drop_pg_database(url)
