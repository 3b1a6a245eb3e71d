"""Forget always erases and stays erased: extreme totals, writing again, old links."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli import app
from bot.config import RunMode, SettingsError, load_settings
from bot.domain.attribution import reader_key
from bot.services.donations import IncomingGift, record_donation
from bot.services.supporters import forget_supporter, upsert_started_supporter
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import (
    Ask,
    Click,
    Donation,
    Interaction,
    Supporter,
)
from bot.storage.supporters import BIGINT_MAX, refresh_supporter_scores
from tests.botharness import SPRING_APPEAL, STAFF_CHAT_ID, BotHarness, bot_harness
from tests.factories import NOW, add_donation, add_interaction, add_supporter
from tests.test_donations import client_for, generic, make_world, post_generic, settings_with
from tests.test_supporters import FakeUser


async def _overflowing_supporter(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Store a supporter with two gifts of 2^63-1 and 1, as an old version could let in."""
    async with sessions() as session, session.begin():
        person = await add_supporter(
            session,
            telegram_user_id=555,
            chat_id=555,
            username="ann",
            first_name="Ann",
            gift_count=2,
            gift_total_minor=BIGINT_MAX,
        )
        assert person.id is not None
        await add_interaction(session, person, "visited_exhibition", NOW, detail="Dutch Masters")
        await add_donation(session, person, BIGINT_MAX, NOW - timedelta(days=2))
        await add_donation(session, person, 1, NOW - timedelta(days=1))
        return person.id


async def _seed(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        await create_all(engine)
        return await _overflowing_supporter(session_maker(engine))
    finally:
        await engine.dispose()


async def _profile(db_url: str, supporter_id: int) -> Supporter | None:
    engine = make_engine(db_url)
    try:
        async with session_maker(engine)() as session:
            return await session.get(Supporter, supporter_id)
    finally:
        await engine.dispose()


def test_forget_on_the_command_line_erases_a_supporter_whose_gifts_overflow(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supporter_id = asyncio.run(_seed(db_url))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["supporters", "forget", "--telegram-id", "555", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"Forgot supporter #{supporter_id}" in result.output
    profile = asyncio.run(_profile(db_url, supporter_id))
    assert profile is not None and profile.forgotten_at is not None
    assert (profile.telegram_user_id, profile.username, profile.first_name) == (None, None, "")
    assert (profile.interaction_count, profile.engagement_score) == (0, 0.0)


async def test_score_refresh_saturates_instead_of_overflowing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    supporter_id = await _overflowing_supporter(sessions)
    async with sessions() as session, session.begin():
        await refresh_supporter_scores(
            session=session, now=NOW, supporter_ids=[supporter_id], main_currency="EUR"
        )
    async with sessions() as session:
        person = await session.get(Supporter, supporter_id)
    assert person is not None
    assert (person.gift_count, person.gift_total_minor) == (2, BIGINT_MAX)
    assert person.rfm_score % 10 == 5  # the top monetary score, not an error
    # A further gift and the supporter's /start (which refreshes) go through too.
    outcome = await record_donation(
        sessions,
        IncomingGift(
            provider="webhook",
            provider_event_id="one-more",
            amount_minor=500,
            currency="EUR",
            donated_at=NOW,
            telegram_user_id=555,
        ),
        now=NOW,
        specs={},
    )
    assert outcome.supporter_id == supporter_id
    async with sessions() as session, session.begin():
        again = await upsert_started_supporter(
            session, telegram_user=FakeUser(555), payload=None, now=NOW, main_currency="EUR"
        )
    assert (again.id, again.gift_count, again.gift_total_minor) == (supporter_id, 3, BIGINT_MAX)
    async with sessions() as session:
        gifts = (await session.execute(select(Donation.amount_minor))).scalars().all()
    assert sorted(gifts) == [1, 500, BIGINT_MAX]


# --- through the bot ---------------------------------------------------------------------

EVERYONE = SPRING_APPEAL.replace(
    "audience:\n  any:\n    - {interaction: visited_exhibition}\n", "audience: {}\n"
).replace("spring-appeal", "everyone")


async def _forget_in_the_chat(bot: BotHarness, user_id: int) -> None:
    await bot.client.send_text(user_id, "/forget")
    question = await bot.next_message(user_id, "Delete everything")
    await bot.client.press(user_id, question["message_id"], "forget:yes")
    await bot.next_message(user_id, "your personal data is deleted")


async def test_yes_delete_my_data_erases_a_supporter_whose_gifts_overflow(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        tess = await bot.supporter_starts(701, "Tess", username="tess")
        async with bot.sessions() as session, session.begin():
            await add_donation(session, tess.id, BIGINT_MAX, NOW)
            await add_donation(session, tess.id, 1, NOW)
            stored = await session.get(Supporter, tess.id)
            assert stored is not None
            stored.gift_total_minor = BIGINT_MAX
        await _forget_in_the_chat(bot, 701)
        (row,) = await bot.rows(Supporter, Supporter.id == tess.id)
        assert row.forgotten_at is not None
        assert (row.telegram_user_id, row.username, row.first_name) == (None, None, "")


async def test_a_forgotten_person_who_writes_again_is_heard_but_never_asked(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path, campaigns={"everyone.yaml": EVERYONE}) as bot:
        await bot.supporter_starts(701, "Tess", username="tess")
        await bot.supporter_starts(702, "Ruud")
        await _forget_in_the_chat(bot, 701)
        await bot.client.send_text(701, "Why did you write to me?")
        await bot.next_message(STAFF_CHAT_ID, "Why did you write to me?")
        # Someone the bot never knew (a chat older than the database) is heard the same way.
        await bot.client.add_user(703, "Nina", started=True)
        await bot.client.send_text(703, "Hello?")
        await bot.next_message(STAFF_CHAT_ID, "Hello?")
        consenting = await bot.rows(
            Supporter,
            col(Supporter.consented_at).is_not(None),
            col(Supporter.forgotten_at).is_(None),
        )
        assert sorted(s.telegram_user_id or 0 for s in consenting) == [702]
        result = await bot.launch("everyone", deliver_to=[702])
        assert "1 asks queued" in result["text"]
        asks = await bot.rows(Ask)
        assert [a.supporter_id for a in asks] == [consenting[0].id]
        assert await bot.quiet(701) == [] and await bot.quiet(703) == []
        # Only /start makes them reachable again.
        await bot.client.start(701)
        await bot.next_message(701, "Hello Tess")
        (tess,) = await bot.rows(Supporter, Supporter.telegram_user_id == 701)
        assert tess.consented_at is not None and tess.forgotten_at is None


# --- tracked links after forget ----------------------------------------------------------


async def test_an_old_link_of_a_forgotten_person_redirects_but_records_nothing_about_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    async with client_for(sessions, settings_with(), None) as http:
        first = await http.get(f"/r/{world.token}", headers={"User-Agent": "Firefox"})
        assert first.status_code == 302
        [before] = await _clicks(sessions)
        assert before.client is not None and before.user_agent == "Firefox"
        await forget_supporter(sessions, world.anna_id, now=NOW + timedelta(minutes=1))
        [erased] = await _clicks(sessions)
        assert (erased.user_agent, erased.client) == (None, None)
        # Days later the donor taps the old link, and then gives through it.
        again = await http.get(f"/r/{world.token}", headers={"User-Agent": "Firefox"})
        assert again.status_code == 302 and world.token in again.headers["location"]
        response = await post_generic(http, generic("after-forget", reference=world.token))
    assert response.status_code == 200
    assert (response.json()["attribution"], response.json()["campaign"]) == ("token", "museum")
    assert len(await _clicks(sessions)) == 1
    async with sessions() as session:
        kinds = (
            await session.execute(
                select(Interaction.kind).where(col(Interaction.supporter_id) == world.anna_id)
            )
        ).scalars()
        gift = (
            await session.execute(
                select(Donation).where(col(Donation.provider_event_id) == "after-forget")
            )
        ).scalar_one()
        anna = await session.get(Supporter, world.anna_id)
    assert list(kinds) == []
    # The gift is kept as an anonymous count: credited to the ask, on nobody's record.
    assert (gift.ask_id, gift.supporter_id, gift.amount_minor) == (world.ask_id, None, 2500)
    assert anna is not None and anna.gift_count == 0 and anna.interaction_count == 0


async def _clicks(sessions: async_sessionmaker[AsyncSession]) -> list[Click]:
    async with sessions() as session:
        return list((await session.execute(select(Click).order_by(col(Click.id)))).scalars())


def test_the_reader_hash_is_keyed_by_a_server_secret() -> None:
    one = reader_key("203.0.113.7", "Firefox", "secret-one")
    assert one == reader_key("203.0.113.7", "Firefox", "secret-one")
    assert one != reader_key("203.0.113.7", "Firefox", "secret-two")
    assert one != reader_key("203.0.113.8", "Firefox", "secret-one")
    # Without the key, trying every address with the old unkeyed hash finds nothing.
    unkeyed = hashlib.blake2b(b"203.0.113.7|Firefox", digest_size=12).hexdigest()
    assert one != unkeyed and len(one) <= 32


def test_running_the_bot_refuses_an_empty_link_hash_secret_and_tools_get_a_generated_one() -> None:
    base = {"telegram_bot_token": "123:abc", "staff_user_ids": "1", "staff_chat_id": -5}
    for mode in (RunMode.POLLING, RunMode.WEBHOOK):
        with pytest.raises(SettingsError) as refused:
            load_settings({**base, "webhook_secret": "s"}, env_file=None, mode=mode)
        assert [line.split(":")[0] for line in refused.value.lines] == ["LINK_HASH_SECRET"]
    given = {**base, "link_hash_secret": "k" * 32}
    assert load_settings(given, env_file=None, mode=RunMode.POLLING).link_hash_secret == "k" * 32
    one, two = load_settings({}, env_file=None), load_settings({}, env_file=None)
    assert len(one.link_hash_secret) >= 32 and one.link_hash_secret != two.link_hash_secret
