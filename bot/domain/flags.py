"""Low-value and fake followers: the flags' reasons, and the rules that raise them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

BURST_JOIN = "burst_join"
INACTIVE = "inactive"
LEFT_FAST = "left_fast"
DELETED = "deleted"
SPAM_FIRST_MESSAGE = "spam_first_message"
CAS_BANNED = "cas_banned"
REASONS = (BURST_JOIN, INACTIVE, LEFT_FAST, DELETED, SPAM_FIRST_MESSAGE, CAS_BANNED)

# What each reason means, in the words staff read in /preview and the community report.
MEANINGS = {
    BURST_JOIN: "joined through one link in a burst",
    INACTIVE: "no interaction in the 60 days after joining",
    LEFT_FAST: "left within a day of joining",
    DELETED: "Telegram says the account is deleted",
    SPAM_FIRST_MESSAGE: "first message soon after joining carried a link",
    CAS_BANNED: "on the Combot Anti-Spam list",
}

INACTIVE_AFTER = timedelta(days=60)
LEFT_FAST_WITHIN = timedelta(days=1)
SPAM_WITHIN = timedelta(hours=1)
# Telegram's answer when the bot writes to a deleted account.
DEACTIVATED = "user is deactivated"
# Message entities that point outside the chat: a link, or a mention of a chat or channel.
OUTSIDE_ENTITIES = frozenset({"url", "text_link", "mention"})


@dataclass(frozen=True)
class BurstRule:
    """At least `joins` joins through one link within `seconds` seconds is a burst."""

    joins: int = 20
    seconds: int = 60


def burst_members(joins: Sequence[tuple[int, datetime]], rule: BurstRule) -> set[int]:
    """Return the members whose join falls in a window of rule.seconds holding rule.joins.

    `joins` are (member, time) through one link; every join inside such a window counts.
    """
    ordered = sorted(joins, key=lambda join: join[1])
    window = timedelta(seconds=rule.seconds)
    found: set[int] = set()
    start = 0
    taken = 0  # ordered[:taken] are in `found` already: windows only move forward
    for end in range(len(ordered)):
        while ordered[end][1] - ordered[start][1] > window:
            start += 1
        if end - start + 1 >= rule.joins:
            found.update(member for member, _ in ordered[max(start, taken) : end + 1])
            taken = end + 1
    return found


def points_elsewhere(entity_types: Collection[str], *, forwarded_from_chat: bool) -> bool:
    """Tell whether a message carries a link or names another chat (never reading its text)."""
    return forwarded_from_chat or not OUTSIDE_ENTITIES.isdisjoint(entity_types)


def is_deactivated(description: str | None) -> bool:
    """Tell whether Telegram's refusal says the account was deleted."""
    return DEACTIVATED in (description or "").lower()
