"""Telegram's limit on the length of one message, counted the way Telegram counts it."""

from __future__ import annotations

from collections.abc import Iterable

# Telegram refuses a text message over 4096 UTF-16 code units (after entity parsing).
MESSAGE_MAX_UTF16 = 4096


def utf16_length(text: str) -> int:
    """Count text in UTF-16 code units, as Telegram does (an emoji is usually two)."""
    return len(text.encode("utf-16-le")) // 2


def fit_lines(lines: Iterable[str], more: str) -> str:
    """Join whole lines while they fit one message; end with `more` where the rest is cut."""
    # Cut whole lines only, so no HTML tag or entity is ever split; the raw HTML is never
    # shorter than what Telegram shows, so counting it keeps the shown text under the limit.
    kept: list[str] = []
    size = 0
    room = MESSAGE_MAX_UTF16 - utf16_length(more) - 1
    for line in lines:
        length = utf16_length(line) + 1
        if size + length > room:
            kept.append(more)
            break
        kept.append(line)
        size += length
    return "\n".join(kept)
