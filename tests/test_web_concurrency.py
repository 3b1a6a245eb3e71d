"""Bursts through the web app: concurrent taps and replayed gifts are each stored exactly once."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.config import load_settings
from bot.domain.attribution import sign_body, stripe_signature
from bot.services.supporters import forget_supporter
from bot.storage.models import SENT, Click, Donation, Interaction, Supporter
from bot.web import create_web_app
from tests.factories import NOW, add_ask, add_campaign_row, add_post, add_supporter, make_campaign

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
HOOK_SECRET = "burst-secret"
STRIPE_SECRET = "whsec_burst"
SPEC = make_campaign(name="museum", donate_url="https://donate.example.org/give")


async def _world(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[list[tuple[str, int]], str, tuple[str, int]]:
    """Six supporters with sent asks, a broadcast post, and one ask of someone forgotten."""
    async with sessions() as session, session.begin():
        campaign = await add_campaign_row(session, "museum")
        asks = []
        for n in range(7):
            person = await add_supporter(session, first_name=f"P{n}", telegram_user_id=500 + n)
            ask = await add_ask(
                session, campaign, person, state=SENT, sent_at=NOW - timedelta(hours=1)
            )
            assert person.id is not None
            asks.append((ask.token, person.id))
        post = await add_post(session, campaign, state=SENT, sent_at=NOW - timedelta(hours=1))
    gone = asks.pop()
    await forget_supporter(sessions, gone[1], now=NOW)
    return asks, post.token, gone


def _generic(event_id: str, person: int) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps(
        {
            "id": event_id,
            "amount": 1000,
            "currency": "EUR",
            "donated_at": NOW.isoformat(),
            "donor": {"telegram_user_id": person},
        }
    ).encode()
    headers = {"Content-Type": "application/json", "X-Signature": sign_body(body, HOOK_SECRET)}
    return "/donations/webhook", headers, body


def _stripe(event_id: str, token: str) -> tuple[str, dict[str, str], bytes]:
    session = {"amount_total": 700, "currency": "eur", "client_reference_id": token}
    event = {
        "id": event_id,
        "type": "checkout.session.completed",
        "created": int(NOW.timestamp()),
        "data": {"object": session | {"payment_status": "paid"}},
    }
    body = json.dumps(event).encode()
    signature = stripe_signature(body, STRIPE_SECRET, int(NOW.timestamp()))
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return "/donations/stripe", headers, body


async def _count(sessions: async_sessionmaker[AsyncSession], query: object) -> int:
    async with sessions() as session:
        return int((await session.execute(query)).scalar_one())  # type: ignore[call-overload]


async def test_a_burst_of_taps_and_replayed_gifts_is_stored_exactly_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    asks, post_token, (gone_token, gone_id) = await _world(sessions)
    settings = load_settings(
        {
            "click_dedup_seconds": 30,
            "donation_webhook_secret": HOOK_SECRET,
            "stripe_webhook_secret": STRIPE_SECRET,
        },
        env_file=None,
    )
    app = create_web_app(
        sessions=sessions, settings=settings, specs=lambda: {"museum": SPEC}, clock=lambda: NOW
    )
    taps = [(f"/r/{token}", PHONE) for token, _ in asks for _ in range(8)]
    taps += [(f"/r/{post_token}", f"{PHONE} reader {n % 3}") for n in range(15)]
    taps += [(f"/r/{gone_token}", PHONE) for _ in range(5)]
    taps += [(f"/r/{token}", "TelegramBot (like TwitterBot)") for token, _ in asks]
    gifts = [_generic(f"g-{n}", 500 + n) for n in range(len(asks))]
    gifts += [_stripe(f"evt_{n}", token) for n, (token, _) in enumerate(asks)]
    gifts += [_stripe("evt_gone", gone_token)]
    posts = [gift for gift in gifts for _ in range(3)]  # every event delivered three times
    random.Random(3).shuffle(taps)
    random.Random(4).shuffle(posts)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        redirects = [http.get(path, headers={"User-Agent": agent}) for path, agent in taps]
        hooks = [http.post(path, headers=headers, content=body) for path, headers, body in posts]
        answers = await asyncio.gather(*redirects, *hooks)
    assert [a.status_code for a in answers[: len(taps)]] == [302] * len(taps)
    statuses = Counter(a.json()["status"] for a in answers[len(taps) :])
    assert statuses == {"recorded": len(gifts), "duplicate": 2 * len(gifts)}
    # Each event's three answers name the same donation.
    ids: dict[bytes, set[int]] = {}
    for (_, _, body), answer in zip(posts, answers[len(taps) :], strict=True):
        ids.setdefault(body, set()).add(answer.json()["donation_id"])
    assert all(len(found) == 1 for found in ids.values())

    async with sessions() as session:
        per_token = dict(
            (await session.execute(select(Click.token, func.count()).group_by(Click.token))).all()
        )
        readers = (
            await session.execute(
                select(func.count(func.distinct(Click.client))).where(Click.token == post_token)
            )
        ).scalar_one()
        people = {
            row.id: row
            for row in (
                await session.execute(
                    select(Supporter).where(
                        col(Supporter.id).in_([p for _, p in asks] + [gone_id])
                    )
                )
            ).scalars()
        }
    assert per_token == {**{token: 1 for token, _ in asks}, post_token: 3}
    assert readers == 3
    assert gone_token not in per_token
    for _, person in asks:  # a click, a gift by Telegram id and one through their link
        assert (people[person].interaction_count, people[person].gift_count) == (3, 2)
    assert people[gone_id].interaction_count == 0 and people[gone_id].gift_count == 0
    assert await _count(sessions, select(func.count()).select_from(Donation)) == len(gifts)
    clicks_seen = select(func.count()).where(col(Interaction.kind) == "click")
    assert await _count(sessions, clicks_seen) == len(asks)
