"""The desk's buttons under a supporter's message: callback data and the patterns parsing it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

# Each button's callback data is PREFIX + the message (reply) id, and for a saved answer
# ":" + its key; the patterns below route each press to its handler in bot.telegram.desk.
ANSWER = "desk:a:"
DONE = "desk:d:"
STOP = "desk:s:"
WHO = "desk:w:"
SAVED = "desk:k:"
ANSWER_PATTERN = re.compile(r"^desk:a:(\d+)$")
DONE_PATTERN = re.compile(r"^desk:d:(\d+)$")
STOP_PATTERN = re.compile(r"^desk:s:(\d+)$")
WHO_PATTERN = re.compile(r"^desk:w:(\d+)$")
SAVED_PATTERN = re.compile(r"^desk:k:(\d+):([a-z0-9][a-z0-9_-]{0,31})$")
# The forced-reply prompt after Answer starts with this, so a late reply to it can be told.
PROMPT_START = "✍️"
# Telegram refuses callback data over 64 bytes; the longest here is SAVED with a 32-byte key.
CALLBACK_LIMIT = 64


def reply_id_of(data: str | None, pattern: re.Pattern[str]) -> int | None:
    """Read the message id from a button's callback data."""
    found = pattern.match(data or "")
    return int(found.group(1)) if found else None


def saved_of(data: str | None) -> tuple[int, str] | None:
    """Read (message id, answer key) from a saved answer's callback data."""
    found = SAVED_PATTERN.match(data or "")
    return (int(found.group(1)), found.group(2)) if found else None


def desk_buttons(
    reply_id: int, suggested: Sequence[str] = (), *, holder: str | None = None, waits: bool = True
) -> InlineKeyboardMarkup:
    """Build the buttons under a supporter's message; a claim shows on the Answer button.

    A message that needs no answer (an opt-out) gets only Who.
    """
    if not waits:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton("🪪 Who", callback_data=f"{WHO}{reply_id}")]]
        )
    answer = f"✋ {holder} is answering" if holder else "✍️ Answer"
    rows = [
        [
            InlineKeyboardButton(answer[:60], callback_data=f"{ANSWER}{reply_id}"),
            InlineKeyboardButton("✓ Done", callback_data=f"{DONE}{reply_id}"),
            InlineKeyboardButton("⛔ Stop", callback_data=f"{STOP}{reply_id}"),
            InlineKeyboardButton("🪪 Who", callback_data=f"{WHO}{reply_id}"),
        ]
    ]
    saved = [
        InlineKeyboardButton(f"💬 {key}", callback_data=f"{SAVED}{reply_id}:{key}")
        for key in suggested
        if len(f"{SAVED}{reply_id}:{key}".encode()) <= CALLBACK_LIMIT
    ]
    if saved:
        rows.append(saved)
    return InlineKeyboardMarkup(rows)
