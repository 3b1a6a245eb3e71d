"""Which ask or post a click or gift belongs to, and whether a request may be believed."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# How a donation was credited; stored on every donation row.
TOKEN = "token"
WINDOW = "window"
UNATTRIBUTED = "unattributed"

DEFAULT_WINDOW = timedelta(days=14)
STRIPE_TOLERANCE_SECONDS = 300
# A gift dated after now by more than this is refused: a provider's clock may run a little
# ahead, but a gift from the future would pin its giver's recency (RFM) for years.
GIFT_FUTURE_TOLERANCE = timedelta(minutes=15)
# Gifts dated before this are refused: no record that old is a gift to credit, and dates near
# the start of the calendar overflow when windows are subtracted from them.
EARLIEST_GIFT = datetime(1900, 1, 1, tzinfo=UTC)
# Telegram user ids have at most 52 significant bits (Bot API); larger numbers are no one.
MAX_TELEGRAM_ID = 2**52

# Tokens are short URL-safe strings; anything else is rejected before touching the database.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{4,32}")

# Link unfurlers fetch a URL as soon as it is posted; their fetches are not people tapping.
_PREVIEWERS = (
    "telegrambot",
    "twitterbot",
    "facebookexternalhit",
    "facebot",
    "slackbot",
    "slack-imgproxy",
    "whatsapp",
    "discordbot",
    "linkedinbot",
    "googlebot",
    "bingbot",
    "applebot",
    "skypeuripreview",
    "vkshare",
    "redditbot",
    "pinterestbot",
    "mastodon",
    "iframely",
    "embedly",
    "yandexbot",
    "duckduckbot",
    "bitlybot",
    "google-pagerenderer",
)
_CRAWLER = re.compile(r"\b(?:crawler|spider|preview)\b", re.IGNORECASE)


class SignatureError(ValueError):
    """A webhook whose signature is missing, malformed, wrong or too old."""


def gift_date_problem(donated_at: datetime, *, now: datetime) -> str | None:
    """Say why a gift's aware date cannot be believed (too old, in the future), or None."""
    if donated_at < EARLIEST_GIFT:
        return f"is before {EARLIEST_GIFT:%Y-%m-%d}"
    if donated_at > now + GIFT_FUTURE_TOLERANCE:
        minutes = int(GIFT_FUTURE_TOLERANCE.total_seconds() // 60)
        return f"is more than {minutes} minutes in the future"
    return None


def is_telegram_id(number: int) -> bool:
    """Tell whether a number can be a Telegram user id (positive, at most 52 bits)."""
    return 0 < number <= MAX_TELEGRAM_ID


def is_token(text: str) -> bool:
    """Tell whether a path segment has the shape of a tracked-link token."""
    return _TOKEN.fullmatch(text) is not None


def reader_key(address: str, user_agent: str | None, secret: str) -> str:
    """Return a one-way key for one reader (address and browser), storing neither.

    Keyed with a server secret (HMAC): unkeyed, the few billion addresses could all be tried
    to find which one a stored key belongs to.
    """
    raw = f"{address}|{user_agent or ''}".encode()
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()[:24]


def is_link_preview(user_agent: str | None, method: str = "GET") -> bool:
    """Tell whether a request is a link previewer or a HEAD probe rather than a person."""
    if method.upper() == "HEAD":
        return True
    agent = (user_agent or "").lower()
    return any(name in agent for name in _PREVIEWERS) or _CRAWLER.search(agent) is not None


def with_reference(url: str, param: str, token: str) -> str:
    """Add `param=token` to a URL's query, keeping its other parameters and fragment."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param]
    query.append((param, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _hmac_hex(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def sign_body(body: bytes, secret: str) -> str:
    """Return the `X-Signature` header value for a generic donation webhook body.

    Reference for tests and benchmarks, which sign as a provider does; the bot only verifies.
    """
    return "sha256=" + _hmac_hex(secret, body)


def verify_body_signature(body: bytes, header: str | None, secret: str) -> None:
    """Raise SignatureError unless `header` is `sha256=<hex HMAC of body>` under `secret`."""
    if not header:
        raise SignatureError("missing X-Signature header")
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        raise SignatureError("X-Signature must look like sha256=<hex digest>")
    if not hmac.compare_digest(given.lower().encode(), _hmac_hex(secret, body).encode()):
        raise SignatureError("signature does not match")


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """Return a `Stripe-Signature` header value as Stripe would send it.

    Reference for tests and benchmarks, which sign as Stripe does; the bot only verifies.
    """
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={_hmac_hex(secret, signed)}"


def verify_stripe_signature(
    body: bytes,
    header: str | None,
    secret: str,
    *,
    now: datetime,
    tolerance_seconds: int = STRIPE_TOLERANCE_SECONDS,
) -> int:
    """Check a `Stripe-Signature` header against the raw body; return its timestamp."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Stripe-Signature timestamp is not a number") from None
        elif key == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError("Stripe-Signature needs t=<timestamp> and v1=<signature>")
    expected = _hmac_hex(secret, f"{timestamp}.".encode() + body).encode()
    # Compare with every v1 so a rotating secret (two signatures) still verifies.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise SignatureError("signature does not match")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise SignatureError(f"timestamp is more than {tolerance_seconds} s from now")
    return timestamp


@dataclass(frozen=True)
class DeliveredAsk:
    """An ask that reached a supporter: a candidate for a gift that names no token."""

    ask_id: int
    campaign_name: str
    sent_at: datetime
    campaign_id: int | None = None


@dataclass(frozen=True)
class Credit:
    """Where a gift is credited, and by which rule."""

    method: str
    ask_id: int | None = None
    post_id: int | None = None
    campaign_name: str | None = None
    campaign_id: int | None = None


def credit_by_window(
    delivered: Iterable[DeliveredAsk],
    *,
    donated_at: datetime,
    window_for: Callable[[str], timedelta],
    campaign_name: str | None = None,
) -> Credit:
    """Credit a gift to the latest ask delivered within its campaign's window before the gift."""
    best: DeliveredAsk | None = None
    for ask in delivered:
        if campaign_name is not None and ask.campaign_name != campaign_name:
            continue
        if not donated_at - window_for(ask.campaign_name) <= ask.sent_at <= donated_at:
            continue
        if best is None or (ask.sent_at, ask.ask_id) > (best.sent_at, best.ask_id):
            best = ask
    if best is None:
        return Credit(UNATTRIBUTED, campaign_name=campaign_name)
    return Credit(
        WINDOW, ask_id=best.ask_id, campaign_name=best.campaign_name, campaign_id=best.campaign_id
    )
