"""Telegram's limit on the length of one message, counted the way Telegram counts it."""

from __future__ import annotations

import re
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


# A tag, an entity, or one character: the pieces an HTML line may be cut between.
_HTML_PIECE = re.compile(r"<[^>]*>|&[#\w]+;|.", re.DOTALL)


def _shorten_html(line: str, room: int) -> str:
    """Cut one HTML line to `room` UTF-16 units, between tags and entities, closing open tags."""
    kept: list[str] = []
    open_tags: list[str] = []
    size = 0
    for piece in _HTML_PIECE.findall(line):
        closing = "".join(f"</{tag}>" for tag in reversed(open_tags))
        if size + utf16_length(piece) + utf16_length(closing) + 1 > room:
            return "".join(kept) + "…" + closing
        if piece.startswith("</"):
            if open_tags:
                open_tags.pop()
        elif piece.startswith("<") and not piece.endswith("/>"):
            open_tags.append(piece[1:-1].split()[0] if piece[1:-1].split() else "")
        kept.append(piece)
        size += utf16_length(piece)
    return line


def split_lines(lines: Iterable[str]) -> list[str]:
    """Group HTML lines into messages Telegram accepts, splitting only between whole lines.

    A line too long for a message on its own is shortened with "…" between tags and entities,
    its open tags closed, so each message stays valid HTML of at most MESSAGE_MAX_UTF16 units.
    """
    messages: list[str] = []
    part: list[str] = []
    size = 0
    for line in lines:
        if utf16_length(line) > MESSAGE_MAX_UTF16:
            line = _shorten_html(line, MESSAGE_MAX_UTF16)
        length = utf16_length(line) + (1 if part else 0)
        if part and size + length > MESSAGE_MAX_UTF16:
            messages.append("\n".join(part))
            part, length = [], utf16_length(line)
            size = 0
        part.append(line)
        size += length
    messages.append("\n".join(part))
    return [message for message in messages if message.strip()]  # Telegram refuses blank text
