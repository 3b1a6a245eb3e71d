"""Public asks (via: group_reply arms): the start payload, the mention, the message to answer."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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


# How the community report names the deep links that are one per ask or per referrer.
FOLDED_DEEP_LINKS = {
    ASK_PAYLOAD_PREFIX: "public-reply buttons (a-…)",
    REFERRAL_PREFIX: "referral links (r-…)",
}
_SUMMED = ("joined", "still_member", "active_30_days_after", "donors", "flagged")


def fold_deep_links(ways_in: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold the report's per-ask and per-referrer deep links into one row for each family.

    Each public ask and each referrer has a start payload of its own, so the value-by-source
    table would list hundreds of one-member rows; staff want to know what public replies and
    referrals brought as a whole. Counts and amounts are summed (a supporter who came in
    through two asks counts in each, as in the rows folded). Other rows pass unchanged, and
    the result is ordered as the report orders ways in: most joined first.
    """
    kept: list[dict[str, Any]] = []
    folded: dict[str, dict[str, Any]] = {}
    for row in ways_in:
        family = next(
            (
                label
                for prefix, label in FOLDED_DEEP_LINKS.items()
                if str(row["name"]).startswith(prefix)
            ),
            None,
        )
        if row["kind"] != "deep link" or family is None:
            kept.append(row)
            continue
        empty = {"kind": "deep link", "name": family, "amounts": {}}
        into = folded.setdefault(family, {**empty, **dict.fromkeys(_SUMMED, 0)})
        for field in _SUMMED:
            into[field] += row[field]
        for code, total in row["amounts"].items():
            into["amounts"][code] = into["amounts"].get(code, 0) + total
    merged = kept + list(folded.values())
    return sorted(merged, key=lambda r: (-r["joined"], r["kind"], r["name"]))
