"""Public asks (via: group_reply arms): the start payload, the mention, the message to answer."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.names import shown_name

GROUP_REPLY = "group_reply"
PRIVATE = "private"
# The /start payload of a public ask: this prefix and the ask's token. Referral codes start
# with "r-"; named sources may not use either prefix (bot.services.sources).
ASK_PAYLOAD_PREFIX = "a-"
REFERRAL_PREFIX = "r-"
RESERVED_PREFIXES = (ASK_PAYLOAD_PREFIX, REFERRAL_PREFIX)
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_MESSAGE = "no message of theirs in a community chat to reply to"


def ask_payload(token: str) -> str:
    """Give the /start payload that opens a public ask privately (<= 64 of A-Za-z0-9_-)."""
    payload = ASK_PAYLOAD_PREFIX + token
    if not _PAYLOAD.fullmatch(payload):
        raise ValueError(f"token {token!r} cannot make a start payload")
    return payload


def token_of_payload(payload: str | None) -> str | None:
    """Return the ask token a /start payload carries, or None when it is no public ask's."""
    if payload and payload.startswith(ASK_PAYLOAD_PREFIX) and _PAYLOAD.fullmatch(payload):
        return payload[len(ASK_PAYLOAD_PREFIX) :]
    return None


def start_url(bot_username: str, payload: str) -> str:
    """Give the t.me deep link that starts the bot with a payload."""
    return f"https://t.me/{bot_username}?start={payload}"


def mention(
    *, telegram_user_id: int, first_name: str, last_name: str, username: str | None
) -> str:
    """Mention a member in HTML: @username, else their name linked to tg://user?id=."""
    if username:
        return "@" + html.escape(username)
    name = shown_name(" ".join(p for p in (first_name, last_name) if p)) or "friend"
    return f'<a href="tg://user?id={telegram_user_id}">{html.escape(name)}</a>'


@dataclass(frozen=True)
class WrittenMessage:
    """A member's message in a community chat, as its facts (never its text)."""

    chat_id: int
    message_id: int
    sent_at: datetime
    sentiment: str | None
    answered: bool


def reply_target(messages: Iterable[WrittenMessage]) -> WrittenMessage | None:
    """Pick the message a public ask replies to.

    The latest of their positive messages and answered questions (what got them selected),
    else their latest message.
    """
    ordered: Sequence[WrittenMessage] = sorted(
        messages, key=lambda m: (m.sent_at, m.message_id), reverse=True
    )
    chosen = [m for m in ordered if m.sentiment == "positive" or m.answered]
    if chosen:
        return chosen[0]
    return ordered[0] if ordered else None


def over_hourly_cap(sent: Sequence[datetime], now: datetime, per_hour: int) -> datetime | None:
    """Say when the next public reply may go to a chat, or None when it may go now.

    `sent` are the times this campaign's replies went to that chat within the last hour.
    """
    recent = sorted(at for at in sent if (now - at).total_seconds() < 3600)
    if len(recent) < per_hour:
        return None
    return recent[len(recent) - per_hour] + timedelta(hours=1)
