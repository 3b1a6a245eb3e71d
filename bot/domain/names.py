"""Names people chose (Telegram names, usernames), made safe to show inside the bot's own lines."""

from __future__ import annotations

import unicodedata

# Invisible characters that may stay: the joiners shape emoji sequences and Persian or Indic
# words, and reorder nothing.
_KEPT = frozenset({"\u200c", "\u200d"})
# Format (bidi controls, invisible operators, tags), control and line/paragraph separator
# characters: none is visible, and the bidi ones could reorder the text around a name.
_DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Zl", "Zp"})
# Directional isolates: a right-to-left name inside them cannot move the text around it.
_ISOLATE, _POP_ISOLATE = "\u2068", "\u2069"


def shown_name(text: str) -> str:
    """Return a name without invisible formatting, isolated if it runs right to left."""
    kept = "".join(
        char
        for char in text
        if char in _KEPT or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    if any(unicodedata.bidirectional(char) in ("R", "AL") for char in kept):
        return f"{_ISOLATE}{kept}{_POP_ISOLATE}"
    return kept
