"""Donations through HTTP (Stripe and the generic webhook) and the attribution service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from telegram import Bot

from bot.config import Settings, load_settings
from bot.domain.attribution import sign_body, stripe_signature
from bot.sandbox import run_sandbox
from bot.services.donations import (
    DonationOutcome,
    IncomingGift,
    announce_gift,
    record_donation,
    record_donation_in,
    staff_line,
)
from bot.services.payments import gift_from_payment, gift_invoice, pre_checkout_problem
from bot.storage.donations import donation_totals
from bot.storage.models import SENT, Donation, Interaction, Supporter
from bot.telegram.sender import TelegramSender
from bot.web import create_web_app
from tests.factories import NOW, add_ask, add_campaign_row, add_post, add_supporter, make_campaign

STRIPE_SECRET = "whsec_test_secret"
HOOK_SECRET = "generic-secret"
STAFF_CHAT = -100_555
SPEC = make_campaign(
    name="museum",
    attribution_window="7d",
    thank_you="thanks",
    messages={
        "personal": {"en": 'Dear {{ name }}, <a href="{{ donate_link }}">give</a>'},
        "generic": {"en": 'Please <a href="{{ donate_link }}">give</a>'},
        "thanks": {
            "en": "Thank you{% if gift %} for {{ gift }}{% endif %}, <b>{{ name }}</b>!"
            " {{ organisation }} is grateful."
        },
    },
)
SPECS = {"museum": SPEC}


@dataclass
class World:
    """A campaign, a supporter with a recent ask and one whose ask is long past."""

    anna_id: int
    anna_chat: int
    bob_id: int
    token: str
    ask_id: int
    post_token: str
    post_id: int
    campaign_id: int


async def make_world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        campaign = await add_campaign_row(session, "museum")
        anna = await add_supporter(
            session,
            first_name="Anna <&>",
            telegram_user_id=111,
            username="Anna_K",
            external_id="crm-anna",
        )
        bob = await add_supporter(session, first_name="Bob", telegram_user_id=222)
        ask = await add_ask(session, campaign, anna, state=SENT, sent_at=NOW - timedelta(days=3))
        await add_ask(session, campaign, bob, state=SENT, sent_at=NOW - timedelta(days=20))
        post = await add_post(session, campaign, state=SENT, sent_at=NOW - timedelta(days=1))
        assert anna.id and bob.id and ask.id and post.id and campaign.id and anna.chat_id
        return World(
            anna.id, anna.chat_id, bob.id, ask.token, ask.id, post.token, post.id, campaign.id
        )


def settings_with(**overrides: Any) -> Settings:
    values = {
        "stripe_webhook_secret": STRIPE_SECRET,
        "donation_webhook_secret": HOOK_SECRET,
        "staff_chat_id": STAFF_CHAT,
        **overrides,
    }
    return load_settings(values, env_file=None)


class Recorder:
    """Collects what the app hands to on_gift."""

    def __init__(self) -> None:
        self.outcomes: list[DonationOutcome] = []

    async def __call__(self, outcome: DonationOutcome) -> None:
        self.outcomes.append(outcome)


@pytest.fixture
def gifts() -> Recorder:
    return Recorder()


def client_for(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, on_gift: Recorder | None
) -> httpx.AsyncClient:
    app = create_web_app(
        sessions=sessions,
        settings=settings,
        specs=lambda: SPECS,
        clock=lambda: NOW + timedelta(seconds=30),
        on_gift=on_gift,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession], gifts: Recorder
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sessions, settings_with(), gifts) as http:
        yield http


@pytest.fixture
async def quick(
    sqlite_sessions: async_sessionmaker[AsyncSession], gifts: Recorder
) -> AsyncIterator[httpx.AsyncClient]:
    """A client over SQLite only, for rejections that never reach the database."""
    async with client_for(sqlite_sessions, settings_with(), gifts) as http:
        yield http


async def donations(sessions: async_sessionmaker[AsyncSession]) -> list[Donation]:
    async with sessions() as session:
        found = await session.execute(select(Donation).order_by(col(Donation.id)))
        return list(found.scalars())


async def supporter(sessions: async_sessionmaker[AsyncSession], supporter_id: int) -> Supporter:
    async with sessions() as session:
        row = await session.get(Supporter, supporter_id)
    assert row is not None
    return row


# --- Stripe -------------------------------------------------------------------------------


def stripe_event(
    event_id: str,
    *,
    kind: str = "checkout.session.completed",
    amount: int = 2500,
    currency: str = "eur",
    reference: str | None = None,
    payment_status: str = "paid",
    created: datetime = NOW,
) -> bytes:
    session = {
        "id": "cs_test_" + event_id,
        "object": "checkout.session",
        "amount_total": amount,
        "currency": currency,
        "client_reference_id": reference,
        "payment_status": payment_status,
        "created": int(created.timestamp()) - 60,
    }
    event = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(created.timestamp()),
        "data": {"object": session},
    }
    return json.dumps(event).encode()


async def post_stripe(
    client: httpx.AsyncClient,
    body: bytes,
    *,
    secret: str = STRIPE_SECRET,
    signed_at: datetime = NOW,
    content_type: str = "application/json; charset=utf-8",
    signature: str | None = None,
) -> httpx.Response:
    header = signature or stripe_signature(body, secret, int(signed_at.timestamp()))
    headers = {"Stripe-Signature": header, "Content-Type": content_type}
    return await client.post("/donations/stripe", content=body, headers=headers)


async def test_stripe_checkout_is_recorded_and_credited_by_its_reference(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, gifts: Recorder
) -> None:
    world = await make_world(sessions)
    response = await post_stripe(client, stripe_event("evt_1", reference=world.token))
    assert response.status_code == 200
    assert response.json()["status"] == "recorded"
    assert response.json()["attribution"] == "token"
    [gift] = await donations(sessions)
    assert (gift.provider, gift.provider_event_id) == ("stripe", "evt_1")
    assert (gift.amount_minor, gift.currency, gift.donated_at) == (2500, "EUR", NOW)
    assert (gift.ask_id, gift.supporter_id, gift.campaign_id) == (
        world.ask_id, world.anna_id, world.campaign_id
    )  # fmt: skip
    assert (gift.attribution, gift.reference, gift.recorded_at) == (
        "token", world.token, NOW + timedelta(seconds=30)
    )  # fmt: skip
    [outcome] = gifts.outcomes
    assert (outcome.donation_id, outcome.chat_id, outcome.campaign_name) == (
        gift.id, world.anna_chat, "museum"
    )  # fmt: skip
    anna = await supporter(sessions, world.anna_id)
    assert (anna.gift_count, anna.gift_total_minor, anna.last_gift_at) == (1, 2500, NOW)


async def test_stripe_async_payment_success_is_recorded(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    world = await make_world(sessions)
    body = stripe_event(
        "evt_async", kind="checkout.session.async_payment_succeeded", reference=world.post_token
    )
    assert (await post_stripe(client, body)).json()["status"] == "recorded"
    [gift] = await donations(sessions)
    assert (gift.post_id, gift.ask_id, gift.supporter_id) == (world.post_id, None, None)
    assert gift.attribution == "token"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (stripe_event("evt_u", payment_status="unpaid"), "not paid yet"),
        (stripe_event("evt_r", kind="charge.refunded"), "not a donation"),
        (stripe_event("evt_p", kind="payment_intent.created"), "not a donation"),
        (stripe_event("evt_z", amount=0), "no amount"),
    ],
)
async def test_stripe_events_that_are_not_gifts_are_acknowledged_and_ignored(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    quick: httpx.AsyncClient,
    body: bytes,
    reason: str,
) -> None:
    response = await post_stripe(quick, body)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored" and reason in response.json()["reason"]
    assert await donations(sqlite_sessions) == []


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        ({"secret": "whsec_forged"}, 400, "does not match"),
        ({"signature": "t=1,v1=" + "ab" * 32}, 400, "does not match"),
        ({"signature": "garbage"}, 400, "needs t="),
        ({"signed_at": NOW - timedelta(minutes=6)}, 400, "300 s"),
        ({"content_type": "text/plain"}, 415, "application/json"),
        ({"content_type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ],
)
async def test_stripe_rejects_forged_stale_and_mistyped_posts(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    quick: httpx.AsyncClient,
    gifts: Recorder,
    options: dict[str, Any],
    status: int,
    message: str,
) -> None:
    world = await make_world(sqlite_sessions)
    response = await post_stripe(quick, stripe_event("evt_x", reference=world.token), **options)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert await donations(sqlite_sessions) == []
    assert gifts.outcomes == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({"id": "evt_m", "type": "checkout.session.completed"}).encode(),
        stripe_event("evt_a", amount=0).replace(b'"amount_total": 0', b'"amount_total": "25"'),
        stripe_event("evt_c", currency="euro"),
    ],
)
async def test_stripe_rejects_signed_but_malformed_bodies(
    sqlite_sessions: async_sessionmaker[AsyncSession], quick: httpx.AsyncClient, body: bytes
) -> None:
    response = await post_stripe(quick, body)
    assert response.status_code == 400
    assert response.json()["error"] and "Traceback" not in response.text
    assert await donations(sqlite_sessions) == []


async def test_stripe_gift_with_a_foreign_reference_is_still_recorded(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    body = stripe_event("evt_f", reference="order 42 / not one of our tokens")
    assert (await post_stripe(client, body)).json()["attribution"] == "unattributed"
    [gift] = await donations(sessions)
    assert (gift.reference, gift.amount_minor) == (None, 2500)


async def test_stripe_replay_is_recorded_once(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, gifts: Recorder
) -> None:
    world = await make_world(sessions)
    body = stripe_event("evt_replay", reference=world.token)
    first = await post_stripe(client, body)
    again = await post_stripe(client, body, signed_at=NOW + timedelta(seconds=40))
    assert first.json()["status"] == "recorded"
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "donation_id": first.json()["donation_id"]}
    assert len(await donations(sessions)) == 1
    assert len(gifts.outcomes) == 1
    assert (await supporter(sessions, world.anna_id)).gift_count == 1


async def test_stripe_without_a_secret_is_not_configured(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with client_for(sessions, settings_with(stripe_webhook_secret=""), None) as http:
        response = await post_stripe(http, stripe_event("evt_1"))
    assert response.status_code == 503 and "not configured" in response.json()["error"]
    assert await donations(sessions) == []


# --- generic webhook ----------------------------------------------------------------------


def generic(event_id: str = "g-1", **fields: Any) -> dict[str, Any]:
    data = {"id": event_id, "amount": 2500, "currency": "EUR", "donated_at": "2026-12-01T09:00Z"}
    data.update(fields)
    return data


async def post_generic(
    client: httpx.AsyncClient,
    data: dict[str, Any] | bytes,
    *,
    secret: str = HOOK_SECRET,
    content_type: str = "application/json",
    signature: str | None = None,
) -> httpx.Response:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {"X-Signature": signature or sign_body(body, secret), "Content-Type": content_type}
    return await client.post("/donations/webhook", content=body, headers=headers)


async def test_generic_gift_with_a_token_is_credited_to_that_ask(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    world = await make_world(sessions)
    # Bob gave through Anna's forwarded link: the ask is credited, the gift counts for Bob.
    data = generic(reference=world.token, donor={"telegram_user_id": 222, "email": "b@x.org"})
    response = await post_generic(client, data)
    assert response.status_code == 200
    assert response.json()["attribution"] == "token"
    [gift] = await donations(sessions)
    assert (gift.ask_id, gift.supporter_id, gift.provider) == (
        world.ask_id,
        world.bob_id,
        "webhook",
    )


@pytest.mark.parametrize(
    "donor",
    [{"telegram_user_id": 111}, {"username": "@anna_k"}, {"external_id": "crm-anna"}],
)
async def test_generic_gift_without_a_token_is_credited_by_window(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, donor: dict[str, Any]
) -> None:
    world = await make_world(sessions)
    response = await post_generic(client, generic(donor=donor))
    assert response.json()["attribution"] == "window"
    [gift] = await donations(sessions)
    assert (gift.attribution, gift.ask_id, gift.supporter_id, gift.campaign_id) == (
        "window", world.ask_id, world.anna_id, world.campaign_id
    )  # fmt: skip
    async with sessions() as session:
        kinds = (await session.execute(select(Interaction.kind, Interaction.source))).all()
    assert [tuple(k) for k in kinds] == [("gift", "webhook")]


async def test_generic_gift_outside_the_window_is_unattributed_but_kept(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    world = await make_world(sessions)  # Bob's ask went out 20 days ago; the window is 7 days
    response = await post_generic(client, generic(donor={"telegram_user_id": 222}))
    assert response.json()["attribution"] == "unattributed"
    [gift] = await donations(sessions)
    assert (gift.attribution, gift.ask_id, gift.supporter_id) == (
        "unattributed",
        None,
        world.bob_id,
    )
    assert (await supporter(sessions, world.bob_id)).gift_count == 1


async def test_generic_gift_from_a_stranger_is_unattributed(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, gifts: Recorder
) -> None:
    await make_world(sessions)
    data = generic(reference="NoSuchToken99", donor={"username": "nobody_here"})
    assert (await post_generic(client, data)).json()["attribution"] == "unattributed"
    [gift] = await donations(sessions)
    assert (gift.supporter_id, gift.ask_id, gift.reference) == (None, None, "NoSuchToken99")
    assert gifts.outcomes[0].chat_id is None


async def test_generic_replay_is_recorded_once(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    await make_world(sessions)
    first = await post_generic(client, generic("same-id", donor={"telegram_user_id": 111}))
    again = await post_generic(client, generic("same-id", donor={"telegram_user_id": 111}))
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "donation_id": first.json()["donation_id"]}
    assert len(await donations(sessions)) == 1


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        ({"secret": "wrong"}, 401, "does not match"),
        ({"signature": "sha1=abc"}, 401, "sha256="),
        ({"content_type": "text/plain"}, 415, "application/json"),
        ({"content_type": "multipart/form-data"}, 415, "application/json"),
    ],
)
async def test_generic_rejects_forged_and_mistyped_posts(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    quick: httpx.AsyncClient,
    options: dict[str, Any],
    status: int,
    message: str,
) -> None:
    response = await post_generic(quick, generic(), **options)
    assert response.status_code == status and message in response.json()["error"]
    assert await donations(sqlite_sessions) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b'"just a string"', "JSON object"),
        ({"amount": 100, "currency": "EUR", "donated_at": "2026-12-01T09:00Z"}, "id: is required"),
        (generic(amount=25.0), "integer of minor units"),
        (generic(amount="2500"), "integer of minor units"),
        (generic(amount=0), "more than zero"),
        (generic(amount=True), "must be an integer"),
        (generic(currency="euro"), "ISO 4217 currency"),
        (generic(currency=None), "currency: is required"),
        (generic(donated_at="yesterday"), "ISO 8601"),
        (generic(donated_at="2026-12-01T09:00:00"), "time zone"),
        (generic(reference=123), "reference: must be a string"),
        (generic(donor=["x"]), "donor: must be an object"),
        (generic(donor={"telegram_user_id": "111"}), "donor.telegram_user_id"),
    ],
)
async def test_generic_rejects_malformed_bodies_with_a_clear_error(
    sqlite_sessions: async_sessionmaker[AsyncSession],
    quick: httpx.AsyncClient,
    data: dict[str, Any] | bytes,
    message: str,
) -> None:
    response = await post_generic(quick, data)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert await donations(sqlite_sessions) == []


async def test_generic_rejects_an_oversized_body_without_a_traceback(
    sqlite_sessions: async_sessionmaker[AsyncSession], quick: httpx.AsyncClient
) -> None:
    response = await post_generic(quick, generic(note="x" * 300_000))
    assert response.status_code == 413 and "Traceback" not in response.text
    assert await donations(sqlite_sessions) == []


async def test_mixed_currencies_are_stored_and_summed_separately(
    sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    world = await make_world(sessions)
    anna = {"telegram_user_id": 111}
    gifts = [("m1", 2500, "EUR"), ("m2", 1000, "usd"), ("m3", 500, "JPY"), ("m4", 700, "EUR")]
    for event_id, amount, currency in gifts:
        data = generic(event_id, amount=amount, currency=currency, donor=anna)
        assert (await post_generic(client, data)).status_code == 200
    async with sessions() as session:
        totals = await donation_totals(session=session, campaign_id=world.campaign_id)
    assert totals == {"EUR": (2, 3200), "USD": (1, 1000), "JPY": (1, 500)}
    person = await supporter(sessions, world.anna_id)
    # Only the main currency (EUR) adds to the running total; every gift counts.
    assert (person.gift_count, person.gift_total_minor) == (4, 3200)


# --- the service, as the staff command and the CSV import use it --------------------------


def staff_gift(event_id: str, **fields: Any) -> IncomingGift:
    values: dict[str, Any] = {
        "provider": "staff",
        "provider_event_id": event_id,
        "amount_minor": 5000,
        "currency": "EUR",
        "donated_at": NOW,
    }
    values.update(fields)
    return IncomingGift(**values)


async def test_a_staff_gift_can_be_restricted_to_a_campaign(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    other = make_campaign(name="library")
    specs = {**SPECS, "library": other}
    named = await record_donation(
        sessions,
        staff_gift("s1", username="anna_k", campaign_name="library"),
        now=NOW,
        specs=specs,
    )
    assert (named.attribution, named.campaign_name, named.ask_id) == (
        "unattributed",
        "library",
        None,
    )
    anywhere = await record_donation(
        sessions, staff_gift("s2", supporter_id=world.anna_id), now=NOW, specs=specs
    )
    assert (anywhere.attribution, anywhere.ask_id, anywhere.first_name) == (
        "window", world.ask_id, "Anna <&>"
    )  # fmt: skip


async def test_the_window_default_applies_to_campaigns_not_loaded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    # Without the spec the default 14-day window applies: Bob's 20-day-old ask is still out.
    late = staff_gift("w1", telegram_user_id=222, donated_at=NOW - timedelta(days=7))
    outcome = await record_donation(sessions, late, now=NOW, specs={})
    assert (outcome.attribution, outcome.supporter_id) == ("window", world.bob_id)


async def test_record_donation_in_joins_the_callers_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(sessions)
    async with sessions() as session, session.begin():
        first = await record_donation_in(session, staff_gift("t1"), now=NOW, specs=SPECS)
        again = await record_donation_in(session, staff_gift("t1"), now=NOW, specs=SPECS)
        assert not first.duplicate and again.duplicate
        assert again.donation_id == first.donation_id
        await session.rollback()
    assert await donations(sessions) == []


async def test_concurrent_copies_of_one_event_make_one_donation(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    gift = staff_gift("race", telegram_user_id=111)
    outcomes = await asyncio.gather(
        *(record_donation(sessions, gift, now=NOW, specs=SPECS) for _ in range(6))
    )
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * 5
    assert len({o.donation_id for o in outcomes}) == 1
    assert (await supporter(sessions, world.anna_id)).gift_count == 1
    async with sessions() as session:
        count = await session.execute(select(func.count()).select_from(Interaction))
    assert count.scalar() == 1


# --- thank-you and staff note -------------------------------------------------------------


def test_staff_line_escapes_names_and_formats_money() -> None:
    outcome = DonationOutcome(
        donation_id=1, duplicate=False, attribution="window", campaign_name="museum",
        ask_id=3, post_id=None, supporter_id=4, chat_id=5, amount_minor=2500, currency="EUR",
        first_name="<b>Eve</b> & co",
    )  # fmt: skip
    assert staff_line(outcome) == (
        "🎁 <b>€25.00</b> from &lt;b&gt;Eve&lt;/b&gt; &amp; co for <b>museum</b>,"
        " credited via an ask they received."
    )


async def test_announce_gift_thanks_the_giver_and_tells_staff(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    outcome = await record_donation(
        sessions, staff_gift("a1", telegram_user_id=111, amount_minor=500, currency="JPY"),
        now=NOW, specs=SPECS,
    )  # fmt: skip
    async with run_sandbox(limits_enabled=False) as sandbox:
        await sandbox.client.add_user(world.anna_chat, "Anna", started=True)
        await sandbox.client.add_chat(STAFF_CHAT, "supergroup", "Staff")
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            await announce_gift(TelegramSender(bot), outcome, specs=SPECS,
                                settings=settings_with(), sessions=sessions)  # fmt: skip
        thanked = await sandbox.client.sent(world.anna_chat, accepted_only=True)
        staff = await sandbox.client.sent(STAFF_CHAT, accepted_only=True)
    assert [m["text"] for m in thanked] == [
        "Thank you for JPY 500, <b>Anna &lt;&amp;&gt;</b>! Harbour Museum is grateful."
    ]
    assert [m["text"] for m in staff] == [
        "🎁 <b>JPY 500</b> from Anna &lt;&amp;&gt; for <b>museum</b>,"
        " credited via an ask they received."
    ]


async def test_announce_gift_never_raises_when_telegram_is_unreachable(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    await make_world(sessions)
    outcome = await record_donation(
        sessions, staff_gift("a2", telegram_user_id=111), now=NOW, specs=SPECS
    )
    bot = Bot("123:abc", base_url="http://127.0.0.1:9/bot")
    await announce_gift(
        TelegramSender(bot), outcome, specs=SPECS, settings=settings_with(), sessions=sessions
    )
    assert "not sent" in caplog.text


# --- Telegram payments --------------------------------------------------------------------


async def test_a_telegram_payment_is_credited_through_its_invoice_payload(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    invoice = gift_invoice(SPEC, world.token, 1500, "eur")
    assert (invoice.payload, invoice.currency, invoice.prices) == (
        f"gift:{world.token}", "EUR", [("Gift", 1500)]
    )  # fmt: skip
    assert await pre_checkout_problem(sessions, invoice.payload, 1500, "EUR") is None
    assert await pre_checkout_problem(sessions, "gift:Unknown12345", 1500, "EUR") is not None
    assert await pre_checkout_problem(sessions, "something-else", 1500, "EUR") is not None
    gift = gift_from_payment(
        payload=invoice.payload, currency="EUR", total_amount=1500,
        telegram_payment_charge_id="tg-charge-1", telegram_user_id=222, paid_at=NOW,
    )  # fmt: skip
    first = await record_donation(sessions, gift, now=NOW, specs=SPECS)
    again = await record_donation(sessions, gift, now=NOW, specs=SPECS)
    assert (first.attribution, first.ask_id, first.supporter_id) == (
        "token",
        world.ask_id,
        world.bob_id,
    )
    assert again.duplicate and again.donation_id == first.donation_id


async def test_announce_gift_sends_no_thank_you_after_stop(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    async with sessions() as session, session.begin():
        anna = await session.get(Supporter, world.anna_id)
        assert anna is not None
        anna.opted_out_at = NOW - timedelta(days=1)
    outcome = await record_donation(
        sessions, staff_gift("a3", telegram_user_id=111), now=NOW, specs=SPECS
    )
    async with run_sandbox(limits_enabled=False) as sandbox:
        await sandbox.client.add_user(world.anna_chat, "Anna", started=True)
        await sandbox.client.add_chat(STAFF_CHAT, "supergroup", "Staff")
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            await announce_gift(
                TelegramSender(bot), outcome, specs=SPECS, settings=settings_with(),
                sessions=sessions,
            )  # fmt: skip
        assert await sandbox.client.sent(world.anna_chat) == []
        assert len(await sandbox.client.sent(STAFF_CHAT, accepted_only=True)) == 1
