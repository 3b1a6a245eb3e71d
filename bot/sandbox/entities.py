"""Find the entities Telegram marks in what people write: commands, hashtags, mentions, links."""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.markup import utf16_len

JsonDict = dict[str, Any]

# Telegram marks these wherever they stand, as long as no word character comes right before.
_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")),
)


def entities_of(text: str) -> list[JsonDict]:
    """Return the MessageEntity objects of `text`, ordered by offset (UTF-16 units)."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS[::-1]:  # links first: a # or @ inside a link is not one
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < stop and begin < end for begin, stop in taken):
                continue
            taken.append((start, end))
            found.append((start, end, kind))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in found
    ]


def commands_of(text: str, entities: list[JsonDict]) -> list[str]:
    """Return the commands a message holds, as written (with any @botname)."""
    encoded = text.encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in entities
        if e["type"] == "bot_command"
    ]
