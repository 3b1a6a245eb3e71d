"""Tracked links through HTTP: redirect with the reference, previewers and repeats not counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.config import load_settings
from bot.domain.campaign import dump_campaign
from bot.domain.spec import Campaign
from bot.storage.db import make_engine, session_maker
from bot.storage.models import SENT, Click, Interaction, Supporter
from bot.storage.models import Campaign as CampaignRow
from bot.web import create_web_app
from tests.factories import NOW, add_ask, add_campaign_row, add_post, add_supporter, make_campaign
from tests.helpers import FakeClock

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
SPEC = make_campaign(
    name="museum", donate_url="https://donate.example.org/pay?lang=nl&fund=winter"
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def client_for(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    specs: Callable[[], dict[str, Campaign]] = lambda: {"museum": SPEC},
) -> httpx.AsyncClient:
    settings = load_settings({"click_dedup_seconds": 30}, env_file=None)
    app = create_web_app(sessions=sessions, settings=settings, specs=specs, clock=clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sessions, clock) as http:
        yield http


async def _ask_token(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, int, int]:
    async with sessions() as session, session.begin():
        campaign = await add_campaign_row(session, "museum")
        person = await add_supporter(session, first_name="Anna")
        ask = await add_ask(
            session, campaign, person, state=SENT, sent_at=NOW - timedelta(hours=1)
        )
        assert ask.id is not None and person.id is not None
        return ask.token, ask.id, person.id


async def _clicks(sessions: async_sessionmaker[AsyncSession]) -> list[Click]:
    async with sessions() as session:
        return list((await session.execute(select(Click).order_by(col(Click.id)))).scalars())


async def test_click_redirects_with_the_reference_and_keeps_the_query(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    token, ask_id, supporter_id = await _ask_token(sessions)
    response = await client.get(f"/r/{token}", headers={"User-Agent": PHONE})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.netloc, location.path) == ("donate.example.org", "/pay")
    assert parse_qs(location.query) == {
        "lang": ["nl"], "fund": ["winter"], "client_reference_id": [token]
    }  # fmt: skip
    assert response.headers["cache-control"] == "no-store"
    [click] = await _clicks(sessions)
    assert (click.token, click.ask_id, click.supporter_id) == (token, ask_id, supporter_id)
    assert click.clicked_at == NOW and click.user_agent == PHONE
    assert (click.arm, click.reached) == ("specific", True)  # copied from the sent ask
    async with sessions() as session:
        kinds = (await session.execute(select(Interaction.kind, Interaction.detail))).all()
        person = await session.get(Supporter, supporter_id)
    assert [tuple(k) for k in kinds] == [("click", "museum")]
    assert person is not None and person.interaction_count == 1
    assert person.last_interaction_at == NOW


async def test_a_campaigns_own_reference_parameter_is_used(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    paypal = make_campaign(
        name="museum", donate_url="https://paypal.example/donate", reference_param="custom"
    )
    token, _, _ = await _ask_token(sessions)
    async with client_for(sessions, clock, lambda: {"museum": paypal}) as http:
        response = await http.get(f"/r/{token}")
    assert response.headers["location"] == f"https://paypal.example/donate?custom={token}"


@pytest.mark.parametrize(
    ("method", "agent"),
    [
        ("GET", "TelegramBot (like TwitterBot)"),
        ("GET", "facebookexternalhit/1.1"),
        ("GET", "WhatsApp/2.23.20.0 A"),
        ("HEAD", PHONE),
    ],
)
async def test_link_previewers_are_redirected_but_not_counted(
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    method: str,
    agent: str,
) -> None:
    token, _, _ = await _ask_token(sessions)
    response = await client.request(method, f"/r/{token}", headers={"User-Agent": agent})
    assert response.status_code == 302
    assert await _clicks(sessions) == []


async def test_repeats_within_the_interval_count_once(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token, _, supporter_id = await _ask_token(sessions)
    for seconds in (0, 5, 29):
        clock.now = NOW + timedelta(seconds=seconds)
        assert (await client.get(f"/r/{token}", headers={"User-Agent": PHONE})).status_code == 302
    assert len(await _clicks(sessions)) == 1
    clock.now = NOW + timedelta(seconds=61)
    await client.get(f"/r/{token}", headers={"User-Agent": PHONE})
    clicks = await _clicks(sessions)
    assert [c.clicked_at for c in clicks] == [NOW, NOW + timedelta(seconds=61)]
    async with sessions() as session:
        person = await session.get(Supporter, supporter_id)
    assert person is not None and person.interaction_count == 2


async def test_a_broadcast_post_link_is_counted_without_a_supporter(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    async with sessions() as session, session.begin():
        post = await add_post(session, await add_campaign_row(session, "museum"))
    response = await client.get(f"/r/{post.token}", headers={"User-Agent": PHONE})
    assert response.status_code == 302
    assert f"client_reference_id={post.token}" in response.headers["location"]
    [click] = await _clicks(sessions)
    assert (click.post_id, click.ask_id, click.supporter_id) == (post.id, None, None)
    assert (click.arm, click.reached) == (None, None)
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Interaction))).scalar() == 0


async def test_a_post_link_counts_each_reader_once_within_the_interval(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    async with sessions() as session, session.begin():
        post = await add_post(session, await add_campaign_row(session, "museum"))
    for reader in ("Ann", "Ben", "Ann", "Cas", "Ben"):
        agent = f"{PHONE} {reader}"
        assert (
            await client.get(f"/r/{post.token}", headers={"User-Agent": agent})
        ).status_code == 302
    clicks = await _clicks(sessions)
    assert len(clicks) == 3
    assert len({c.client for c in clicks}) == 3 and all(c.client for c in clicks)


async def test_a_campaign_not_loaded_now_redirects_by_its_frozen_spec(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    token, _, _ = await _ask_token(sessions)
    url = "https://old.example/give?x=1"
    frozen = dump_campaign(make_campaign(name="museum", donate_url=url, reference_param="ref"))
    async with sessions() as session, session.begin():
        await session.execute(update(CampaignRow).values(spec_yaml=frozen))
    async with client_for(sessions, clock, lambda: {}) as http:
        response = await http.get(f"/r/{token}", headers={"User-Agent": PHONE})
    assert response.headers["location"] == f"https://old.example/give?x=1&ref={token}"
    assert len(await _clicks(sessions)) == 1


@pytest.mark.parametrize(
    "path", ["/r/UnknownToken123", "/r/bad%20token", "/r/x", "/r/" + "a" * 40]
)
async def test_unknown_or_malformed_tokens_get_a_plain_404(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, path: str
) -> None:
    await _ask_token(sessions)
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "This link is not known."
    assert await _clicks(sessions) == []


async def test_health_answers_ok_with_a_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_health_and_links_answer_503_without_a_database(
    tmp_path: object, clock: FakeClock
) -> None:
    engine = make_engine("sqlite+aiosqlite:////nonexistent-dir/for/sure/bot.db")
    before = set(threading.enumerate())
    try:
        async with client_for(session_maker(engine), clock) as http:
            health = await http.get("/healthz")
            link = await http.get("/r/SomeToken123")
    finally:
        await engine.dispose()
        # A failed aiosqlite connect stops its worker thread without waiting for it, and the
        # thread reports back to this test's event loop: let it finish while the loop is open,
        # or it raises "Event loop is closed" in whichever test runs next.
        for thread in set(threading.enumerate()) - before:
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)
    assert (health.status_code, health.json()) == (503, {"status": "unavailable"})
    assert link.status_code == 503 and "Traceback" not in link.text
