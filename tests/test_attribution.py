"""The pure attribution rules: tokens, previewers, reference URLs, signatures, windows, money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.attribution import (
    TOKEN,
    UNATTRIBUTED,
    WINDOW,
    DeliveredAsk,
    SignatureError,
    credit_by_window,
    is_link_preview,
    is_token,
    sign_body,
    stripe_signature,
    verify_body_signature,
    verify_stripe_signature,
    with_reference,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_test"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Ab3_-xYz09", True),
        ("a" * 32, True),
        ("a" * 33, False),
        ("abc", False),
        ("abc/def", False),
        ("abc%20def", False),
        ("", False),
        ("ünïcode1", False),
    ],
)
def test_is_token_accepts_only_short_url_safe_strings(text: str, ok: bool) -> None:
    assert is_token(text) is ok


@pytest.mark.parametrize(
    "agent",
    [
        "TelegramBot (like TwitterBot)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Twitterbot/1.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "SomeCrawler spider/3",
    ],
)
def test_link_previewers_are_recognised(agent: str) -> None:
    assert is_link_preview(agent)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile",
        "Mozilla/5.0 (Linux; Android 14; CUBOT X70) Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        None,
    ],
)
def test_people_are_not_previewers(agent: str | None) -> None:
    assert not is_link_preview(agent)


def test_a_head_request_is_never_a_person() -> None:
    assert is_link_preview("Mozilla/5.0 Firefox/121.0", "HEAD")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://d.example/pay", "https://d.example/pay?client_reference_id=tok123"),
        (
            "https://d.example/pay?lang=nl&amount=",
            "https://d.example/pay?lang=nl&amount=&client_reference_id=tok123",
        ),
        (
            "https://d.example/pay?client_reference_id=old&x=1#top",
            "https://d.example/pay?x=1&client_reference_id=tok123#top",
        ),
    ],
)
def test_with_reference_keeps_other_parameters(url: str, expected: str) -> None:
    assert with_reference(url, "client_reference_id", "tok123") == expected


def test_stripe_signature_round_trips_and_returns_the_timestamp() -> None:
    body = b'{"id": "evt_1"}'
    stamp = int(NOW.timestamp())
    header = stripe_signature(body, SECRET, stamp)
    assert verify_stripe_signature(body, header, SECRET, now=NOW) == stamp


def test_stripe_signature_accepts_any_of_several_v1() -> None:
    body = b"{}"
    stamp = int(NOW.timestamp())
    good = stripe_signature(body, SECRET, stamp).split("v1=")[1]
    header = f"t={stamp},v1={'0' * 64},v0=abc,v1={good}"
    assert verify_stripe_signature(body, header, SECRET, now=NOW) == stamp


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "needs t="),
        ("t=abc,v1=abc", "not a number"),
        ("t=1", "needs t="),
    ],
)
def test_stripe_signature_rejects_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_stripe_signature(b"{}", header, SECRET, now=NOW)


def test_stripe_signature_rejects_a_forgery_and_a_changed_body() -> None:
    stamp = int(NOW.timestamp())
    with pytest.raises(SignatureError, match="does not match"):
        verify_stripe_signature(b"{}", stripe_signature(b"{}", "other", stamp), SECRET, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify_stripe_signature(b"{ }", stripe_signature(b"{}", SECRET, stamp), SECRET, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_stripe_signature_rejects_stale_or_future_timestamps(age: int) -> None:
    stamp = int(NOW.timestamp()) - age
    with pytest.raises(SignatureError, match="300 s"):
        verify_stripe_signature(b"{}", stripe_signature(b"{}", SECRET, stamp), SECRET, now=NOW)


def test_stripe_signature_allows_the_tolerance_exactly() -> None:
    stamp = int(NOW.timestamp()) - 300
    verify_stripe_signature(b"{}", stripe_signature(b"{}", SECRET, stamp), SECRET, now=NOW)


def test_body_signature_round_trips_in_either_case() -> None:
    body = b'{"id": "g1"}'
    verify_body_signature(body, sign_body(body, SECRET), SECRET)
    verify_body_signature(
        body, sign_body(body, SECRET).upper().replace("SHA256", "sha256"), SECRET
    )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("abc", "sha256="),
        ("md5=abc", "sha256="),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_body_signature_rejects_bad_headers(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_body_signature(b"{}", header, SECRET)


def _ask(ask_id: int, campaign: str, days_before: float) -> DeliveredAsk:
    return DeliveredAsk(ask_id, campaign, NOW - timedelta(days=days_before))


def _windows(name: str) -> timedelta:
    return {"short": timedelta(days=3)}.get(name, timedelta(days=14))


def test_window_credits_the_latest_ask_in_reach() -> None:
    asks = [_ask(1, "museum", 10), _ask(2, "museum", 2), _ask(3, "museum", 5)]
    credit = credit_by_window(asks, donated_at=NOW, window_for=_windows)
    assert (credit.method, credit.ask_id, credit.campaign_name) == (WINDOW, 2, "museum")


def test_window_uses_each_campaigns_own_length() -> None:
    asks = [_ask(1, "short", 4), _ask(2, "museum", 13)]
    credit = credit_by_window(asks, donated_at=NOW, window_for=_windows)
    assert (credit.method, credit.ask_id) == (WINDOW, 2)


def test_window_ignores_asks_after_the_gift_and_outside_the_window() -> None:
    asks = [_ask(1, "museum", 15), _ask(2, "museum", -1)]
    credit = credit_by_window(asks, donated_at=NOW, window_for=_windows)
    assert credit.method == UNATTRIBUTED and credit.ask_id is None


def test_window_can_be_restricted_to_a_campaign() -> None:
    asks = [_ask(1, "museum", 5), _ask(2, "library", 1)]
    credit = credit_by_window(asks, donated_at=NOW, window_for=_windows, campaign_name="museum")
    assert (credit.method, credit.ask_id) == (WINDOW, 1)
    none = credit_by_window(asks, donated_at=NOW, window_for=_windows, campaign_name="zoo")
    assert none.method == UNATTRIBUTED and none.campaign_name == "zoo"
    assert none.method != TOKEN
