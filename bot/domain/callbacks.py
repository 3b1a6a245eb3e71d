"""Callback data of the ask buttons: each prefix once, how to build it, how handlers match it.

Telegram sends a button's callback data back when it is pressed (at most 64 bytes). The
outbox builds it here and the handlers register the patterns from here, so the two agree.
"""

from __future__ import annotations

import re

# "give:<token>" offers gift amounts; "give:<token>:<minor units>" sends the invoice.
GIVE = "give:"
NOT_NOW = "notnow:"
STOP = "stop:"
# A thank-you's "Share with a friend" button: answered with the supporter's /share links.
SHARE = "share"


def _pattern(prefix: str) -> str:
    return f"^{re.escape(prefix)}"


# The patterns the handlers register, one per kind of button.
GIVE_PATTERN = _pattern(GIVE)
NOT_NOW_PATTERN = _pattern(NOT_NOW)
STOP_PATTERN = _pattern(STOP)
SHARE_PATTERN = f"^{SHARE}$"


def give(token: str, amount_minor: int | None = None) -> str:
    """Build the data of a "Give in Telegram" button, or of one of its amount buttons."""
    return f"{GIVE}{token}" if amount_minor is None else f"{GIVE}{token}:{amount_minor}"


def not_now(token: str) -> str:
    """Build the data of an ask's "Not now" button."""
    return f"{NOT_NOW}{token}"


def stop(token: str) -> str:
    """Build the data of an ask's "Stop messages" button."""
    return f"{STOP}{token}"


def token_of(data: str | None, prefix: str) -> str:
    """Read the ask token from a pressed button's data."""
    return (data or "").removeprefix(prefix)


def read_give(data: str | None) -> tuple[str, str | None]:
    """Read a give button's data as its token and its amount text (None: offer amounts)."""
    parts = (data or "").split(":")
    token = parts[1] if len(parts) > 1 else ""
    return token, parts[2] if len(parts) > 2 else None
