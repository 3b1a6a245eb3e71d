"""Signed but hostile donation bodies get a 400 and record nothing; never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.money import MAX_GIFT_MINOR
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import Donation, Supporter
from tests.factories import NOW
from tests.test_donations import (
    client_for,
    donations,
    generic,
    make_world,
    post_generic,
    post_stripe,
    settings_with,
    stripe_event,
)

WAY_TOO_BIG = 10**1000


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": 2**63 - 1}, "at most"),
        ({"amount": MAX_GIFT_MINOR + 1}, "at most"),
        ({"amount": WAY_TOO_BIG}, "at most"),
        ({"amount": -2500}, "more than zero"),
        ({"currency": "ABC"}, "ISO 4217"),
        ({"currency": "XXX"}, "ISO 4217"),
        ({"currency": "e\u20acr"}, "ISO 4217"),
        ({"donated_at": "9999-12-31T23:59:59-01:00"}, "outside the calendar"),
        ({"donated_at": "0001-01-01T00:00:00+01:00"}, "outside the calendar"),
        ({"donated_at": "1899-12-31T23:00:00Z"}, "before 1900"),
        ({"donated_at": "9999-12-31T23:59:59Z"}, "in the future"),
        ({"donated_at": (NOW + timedelta(days=1)).isoformat()}, "in the future"),
        ({"donor": {"telegram_user_id": 2**64}}, "telegram_user_id"),
        ({"donor": {"telegram_user_id": WAY_TOO_BIG}}, "telegram_user_id"),
        ({"donor": {"telegram_user_id": -5}}, "telegram_user_id"),
        ({"reference": "tok\x00en"}, "control characters"),
        ({"id": "evt-\ud800"}, "lone surrogates"),
        ({"donor": {"username": "a\x00"}}, "control characters"),
    ],
)
async def test_generic_refuses_signed_out_of_range_values(
    sessions: async_sessionmaker[AsyncSession], fields: dict[str, Any], message: str
) -> None:
    await make_world(sessions)
    async with client_for(sessions, settings_with(), None) as client:
        response = await post_generic(client, generic("g-bad", **fields))
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await donations(sessions) == []


async def test_the_largest_gift_and_a_little_clock_skew_are_accepted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(sessions)
    ahead = (NOW + timedelta(minutes=10)).isoformat()
    async with client_for(sessions, settings_with(), None) as client:
        big = await post_generic(client, generic("g-max", amount=MAX_GIFT_MINOR))
        early = await post_generic(client, generic("g-skew", donated_at=ahead))
    assert (big.status_code, early.status_code) == (200, 200)
    assert [d.amount_minor for d in await donations(sessions)] == [MAX_GIFT_MINOR, 2500]


async def test_a_supporters_total_survives_the_largest_gifts_and_forget(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    anna = {"telegram_user_id": 111}
    async with client_for(sessions, settings_with(), None) as client:
        first = await post_generic(client, generic("g-1", amount=2**63 - 1, donor=anna))
        for n in range(3):
            ok = await post_generic(client, generic(f"g-{n}", amount=MAX_GIFT_MINOR, donor=anna))
            assert ok.status_code == 200
    assert first.status_code == 400
    async with sessions() as session:
        row = await session.get(Supporter, world.anna_id)
    assert row is not None and row.gift_total_minor == 3 * MAX_GIFT_MINOR


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "deep", "donor": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"id": "deep", "donor": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}",
        b'{"id": "big", "amount": 1' + b"0" * 5_000 + b"}",
        b'{"id": "big", "amount": 2500, "donor": {"telegram_user_id": 9' + b"9" * 9_000 + b"}}",
    ],
    ids=["nested-lists", "nested-objects", "5000-digit-amount", "9000-digit-id"],
)
async def test_generic_refuses_deep_nesting_and_huge_integers(
    sqlite_sessions: async_sessionmaker[AsyncSession], body: bytes
) -> None:
    async with client_for(sqlite_sessions, settings_with(), None) as client:
        response = await post_generic(client, body)
    assert response.status_code == 400, response.text
    assert await donations(sqlite_sessions) == []


def _stripe(event_id: str, **session_fields: Any) -> bytes:
    event = json.loads(stripe_event(event_id))
    created = session_fields.pop("event_created", None)
    if created is not None:
        event["created"] = created
    event["data"]["object"].update(session_fields)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_stripe("evt_neg", amount_total=-2500), "more than zero"),
        (_stripe("evt_big", amount_total=2**63), "at most"),
        (_stripe("evt_huge", amount_total=WAY_TOO_BIG), "at most"),
        (_stripe("evt_cur", currency="abc"), "ISO 4217"),
        (_stripe("evt_t1", event_created=10**30), "created"),
        (_stripe("evt_t2", event_created=-(10**12)), "created"),
        (_stripe("evt_t3", event_created=WAY_TOO_BIG), "created"),
        (_stripe("evt_t4", event_created=int((NOW + timedelta(days=365)).timestamp())), "created"),
        (_stripe("evt_t5", event_created=1.5e9), "created"),
    ],
)
async def test_stripe_refuses_signed_out_of_range_values(
    sqlite_sessions: async_sessionmaker[AsyncSession], body: bytes, message: str
) -> None:
    async with client_for(sqlite_sessions, settings_with(), None) as client:
        response = await post_stripe(client, body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await donations(sqlite_sessions) == []


async def test_stripe_refuses_deep_nesting(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    body = b'{"id": "evt_deep", "data": ' + b"[" * 60_000 + b"]" * 60_000 + b"}"
    async with client_for(sqlite_sessions, settings_with(), None) as client:
        response = await post_stripe(client, body)
    assert response.status_code == 400, response.text


# --- random signed bodies -----------------------------------------------------------------

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))]
)
_RECENT = st.datetimes(
    min_value=datetime(2026, 11, 1), max_value=datetime(2026, 12, 1, 9, 10), timezones=_ZONES
)
_DATES = st.one_of(
    st.datetimes(timezones=_ZONES).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00+01:00", "2026-12-01", ""]),
)
_INTS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 2**52, 2**52 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, WAY_TOO_BIG]),
)
_TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["\x00", "a\ud800b", "\u202eevil", "EUR", "XXX", "x" * 300]),
)
_LEAVES = st.one_of(st.none(), st.booleans(), _INTS, st.floats(), _TEXTS, _DATES)
_ANY = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def _field(valid: st.SearchStrategy[Any], typed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, often one of the right type but any size, sometimes any JSON."""
    return st.one_of(valid, valid, typed, typed, _ANY)


_AMOUNT = _field(st.integers(1, 10**6), _INTS)
_CURRENCY = _field(
    st.sampled_from(["EUR", "eur", "JPY"]), st.sampled_from(["XXX", "ABC", "EURO", "", "KWD"])
)
_ID = _field(st.text("abc123", min_size=1, max_size=6), _TEXTS)
_USER_ID = _field(st.sampled_from([111, 222, 333]), _INTS)
_GENERIC = st.fixed_dictionaries(
    {
        "id": _ID,
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "donated_at": _field(_RECENT.map(lambda d: d.isoformat()), _DATES),
    },
    optional={
        "reference": _field(st.just("NoSuchToken99"), _TEXTS),
        "campaign": _field(st.just("museum"), _TEXTS),
        "donor": _field(
            st.fixed_dictionaries(
                {},
                optional={
                    "telegram_user_id": _USER_ID,
                    "username": _field(st.just("anna_k"), _TEXTS),
                    "external_id": _field(st.just("crm-anna"), _TEXTS),
                    "email": _field(st.just("a@example.org"), _TEXTS),
                },
            ),
            _ANY,
        ),
    },
)
_STRIPE = st.fixed_dictionaries(
    {
        "id": _ID,
        "type": _field(st.just("checkout.session.completed"), _TEXTS),
        "created": _field(_RECENT.map(lambda d: int(d.timestamp())), _INTS),
        "data": _field(
            st.fixed_dictionaries(
                {
                    "object": _field(
                        st.fixed_dictionaries(
                            {
                                "amount_total": _AMOUNT,
                                "currency": _CURRENCY,
                                "payment_status": _field(st.just("paid"), _TEXTS),
                            },
                            optional={"client_reference_id": _field(st.just("x"), _TEXTS)},
                        ),
                        _ANY,
                    )
                }
            ),
            _ANY,
        ),
    },
)

Post = Callable[[httpx.AsyncClient, bytes], Awaitable[httpx.Response]]


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Donation))).scalar())


async def _post_and_check(
    sessions: async_sessionmaker[AsyncSession], post: Post, data: dict[str, Any]
) -> None:
    body = json.dumps(data).encode()
    before = await _count(sessions)
    async with client_for(sessions, settings_with(), None) as client:
        response = await post(client, body)
    after = await _count(sessions)
    assert response.status_code in (200, 400), (response.status_code, response.text, data)
    recorded = response.status_code == 200 and response.json().get("status") == "recorded"
    assert after == before + (1 if recorded else 0), (response.text, data)


def _random_bodies(db_url: str, examples: int) -> None:
    with asyncio.Runner() as runner:
        engine = make_engine(db_url)
        runner.run(create_all(engine))
        sessions = session_maker(engine)
        runner.run(make_world(sessions))

        async def stripe(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
            return await post_stripe(client, body, signed_at=NOW)

        async def hook(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
            return await post_generic(client, body)

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(generic_body=_GENERIC, stripe_body=_STRIPE)
        def check(generic_body: dict[str, Any], stripe_body: dict[str, Any]) -> None:
            runner.run(_post_and_check(sessions, hook, generic_body))
            runner.run(_post_and_check(sessions, stripe, stripe_body))

        try:
            check()
        finally:
            runner.run(engine.dispose())


def test_random_signed_bodies_get_200_or_400_and_record_only_on_200(db_url: str) -> None:
    _random_bodies(db_url, 60 if db_url.startswith("sqlite") else 30)
