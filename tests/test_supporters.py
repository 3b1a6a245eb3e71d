"""Joining from /start, scores, export of everything stored, and forget (GDPR)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import scoring
from bot.services.supporters import (
    SupporterNotFound,
    export_supporter,
    find_supporter,
    forget_supporter,
    refresh_all_scores,
    upsert_started_supporter,
)
from bot.storage.models import SENT, Click, Reply, Supporter
from bot.storage.tables import DONATION, INTERACTION, TAG
from tests.factories import (
    NOW,
    add_ask,
    add_campaign_row,
    add_donation,
    add_interaction,
    add_supporter,
)


@dataclass(frozen=True)
class FakeUser:
    """The fields of a Telegram user that /start hands over."""

    id: int
    username: str | None = None
    first_name: str = "Tess"
    last_name: str | None = None
    language_code: str | None = "nl"


def test_scores_follow_the_documented_tables() -> None:
    assert scoring.interaction_weight("visited_exhibition", None) == 2
    assert scoring.interaction_weight("comment", "positive") == 3
    assert scoring.interaction_weight("gift", "negative") == 0
    assert scoring.decay_percent(NOW - timedelta(days=30), NOW) == 100
    assert scoring.decay_percent(NOW - timedelta(days=31), NOW) == 60
    assert scoring.decay_percent(NOW - timedelta(days=400), NOW) == 10
    rfm = scoring.rfm_score(
        last_interaction_at=NOW - timedelta(days=100),
        last_gift_at=NOW - timedelta(days=20),
        interaction_count=12,
        gift_total_minor=2500,
        now=NOW,
    )
    assert rfm == 543


async def test_start_creates_a_new_supporter_with_consent_and_a_start_interaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        made = await upsert_started_supporter(
            session,
            telegram_user=FakeUser(42, "tess_b"),
            payload="exh-dutch",
            now=NOW,
            main_currency="EUR",
        )
    async with sessions() as session:
        found = await find_supporter(session, telegram_id=42)
        starts = (await session.execute(select(INTERACTION))).all()
    assert found.id == made.id
    assert (found.chat_id, found.language, found.consented_at) == (42, "nl", NOW)
    assert (found.start_payload, found.interaction_count, found.engagement_score) == (
        "exh-dutch",
        1,
        1.0,
    )
    assert [(row.kind, row.detail, row.source) for row in starts] == [
        ("start", "exh-dutch", "telegram")
    ]


async def test_start_links_an_imported_supporter_by_username_case_insensitively(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        imported = await add_supporter(
            session, reachable=False, external_id="m-1", username="Ann_V", first_name="Ann"
        )
        blocked = await add_supporter(session, telegram_user_id=7, blocked_at=NOW)
    async with sessions() as session, session.begin():
        linked = await upsert_started_supporter(
            session,
            telegram_user=FakeUser(99, "ann_v", "Annie"),
            payload=None,
            now=NOW,
            main_currency="EUR",
        )
        back = await upsert_started_supporter(
            session, telegram_user=FakeUser(7), payload=None, now=NOW, main_currency="EUR"
        )
    assert linked.id == imported.id
    assert (linked.telegram_user_id, linked.chat_id, linked.first_name) == (99, 99, "Ann")
    assert back.id == blocked.id and back.blocked_at is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Supporter)) == 2


async def test_find_supporter_explains_what_is_missing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await add_supporter(session, username="twin")
        await add_supporter(session, username="Twin")
    async with sessions() as session:
        with pytest.raises(SupporterNotFound, match="2 supporters share username"):
            await find_supporter(session, username="@twin")
        with pytest.raises(SupporterNotFound, match="no supporter has external_id 'x'"):
            await find_supporter(session, external_id="x")


async def _history(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        person = await add_supporter(
            session,
            external_id="m-1",
            telegram_user_id=555,
            chat_id=555,
            username="ann",
            first_name="Ann",
            last_name="de Vries",
            tags=("member",),
        )
        assert person.id is not None
        await add_interaction(session, person, "visited_exhibition", NOW, detail="Dutch Masters")
        campaign = await add_campaign_row(session, "winter")
        ask = await add_ask(session, campaign, person, state=SENT, sent_at=NOW, chat_id=555)
        session.add(
            Reply(supporter_id=person.id, ask_id=ask.id, text="I loved it!", received_at=NOW)
        )
        session.add(Click(token=ask.token, ask_id=ask.id, supporter_id=person.id,
                          clicked_at=NOW, user_agent="Firefox"))  # fmt: skip
        await add_donation(session, person, 2500, NOW, ask_id=ask.id, attribution="token")
        assert ask.id is not None
        return person.id, ask.id


async def test_export_contains_everything_stored_about_the_person(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    supporter_id, ask_id = await _history(sessions)
    record = await export_supporter(sessions, supporter_id)
    json.dumps(record)  # every value is JSON-ready
    assert record["profile"]["first_name"] == "Ann"
    assert record["tags"] == ["member"]
    assert [(i["kind"], i["detail"]) for i in record["interactions"]] == [
        ("visited_exhibition", "Dutch Masters")
    ]
    assert [(a["id"], a["campaign"]) for a in record["asks"]] == [(ask_id, "winter")]
    assert [r["text"] for r in record["replies"]] == ["I loved it!"]
    assert [c["user_agent"] for c in record["clicks"]] == ["Firefox"]
    assert [d["amount_minor"] for d in record["donations"]] == [2500]


async def test_forget_erases_personal_data_but_keeps_anonymous_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    supporter_id, ask_id = await _history(sessions)
    done = await forget_supporter(sessions, supporter_id, now=NOW + timedelta(hours=1))
    assert (done.asks_kept, done.donations_kept, done.replies_blanked) == (1, 1, 1)
    record = await export_supporter(sessions, supporter_id)
    profile = record["profile"]
    assert profile["forgotten_at"] is not None
    for column in ("external_id", "telegram_user_id", "chat_id", "username", "timezone"):
        assert profile[column] is None, column
    assert (profile["first_name"], profile["last_name"]) == ("", "")
    assert record["tags"] == [] and record["interactions"] == []
    assert [r["text"] for r in record["replies"]] == [""]
    assert [c["user_agent"] for c in record["clicks"]] == [None]
    [ask] = record["asks"]
    assert (ask["id"], ask["arm"], ask["state"], ask["chat_id"]) == (
        ask_id,
        "specific",
        SENT,
        None,
    )
    [gift] = record["donations"]
    assert (gift["amount_minor"], gift["currency"], gift["ask_id"]) == (2500, "EUR", ask_id)
    # Forget sets the scores itself (no refresh that could fail runs inside it).
    assert (profile["interaction_count"], profile["engagement_score"], profile["rfm_score"]) == (
        0,
        0.0,
        0,
    )
    async with sessions() as session:
        with pytest.raises(SupporterNotFound):
            await find_supporter(session, telegram_id=555)
        assert await session.scalar(select(func.count()).select_from(TAG)) == 0
        assert await session.scalar(select(func.count()).select_from(DONATION)) == 1
    # Starting the bot again afterwards makes a new, unrelated supporter.
    async with sessions() as session, session.begin():
        again = await upsert_started_supporter(
            session,
            telegram_user=FakeUser(555),
            payload=None,
            now=NOW + timedelta(days=1),
            main_currency="EUR",
        )
    assert again.id != supporter_id


async def test_start_keeps_gift_totals_in_the_main_currency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # An organisation counting in US dollars: starting the bot must not recount gifts in euros.
    async with sessions() as session, session.begin():
        donor = await add_supporter(session, reachable=False, username="dollar_donor")
        assert donor.id is not None
        await add_donation(session, donor, 4000, NOW - timedelta(days=3), currency="USD")
        await add_donation(session, donor, 900, NOW - timedelta(days=2), currency="EUR")
    async with sessions() as session, session.begin():
        started = await upsert_started_supporter(
            session,
            telegram_user=FakeUser(501, "dollar_donor"),
            payload=None,
            now=NOW,
            main_currency="USD",
        )
    assert started.id == donor.id
    assert started.gift_total_minor == 4000


async def test_the_daily_scores_job_counts_community_facts_recorded_without_scores(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The community recorder writes comments in batches and leaves scores alone; the daily
    # job brings the commenter's engagement up to date, and lets an old one decay.
    async with sessions() as session, session.begin():
        member = await add_supporter(session, reachable=False)
        assert member.id is not None
        await add_interaction(session, member, "comment", NOW, sentiment="positive")
    async with sessions() as session:
        before = await session.get(Supporter, member.id)
    assert before is not None and before.engagement_score == 0
    await refresh_all_scores(sessions, now=NOW, main_currency="EUR")
    async with sessions() as session:
        fresh = await session.get(Supporter, member.id)
    assert fresh is not None
    assert fresh.engagement_score == scoring.interaction_weight("comment", "positive")
    await refresh_all_scores(sessions, now=NOW + timedelta(days=400), main_currency="EUR")
    async with sessions() as session:
        old = await session.get(Supporter, member.id)
    assert old is not None and 0 < old.engagement_score < fresh.engagement_score
