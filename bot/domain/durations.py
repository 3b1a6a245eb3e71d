"""Parse and format the short durations campaigns use ("30d", "12h", "90m", "2w", "1d12h")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
_UNITS["m"] = timedelta(minutes=1)
_PART = re.compile(r"(\d+)([wdhm])")
_WHOLE = re.compile(r"(?:\d+[wdhm])+")
_EXAMPLES = "a duration like 30d, 12h, 90m or 2w"


def parse_duration(text: str) -> timedelta:
    """Turn "30d", "12h", "90m", "2w" or a sum like "1d12h" into a positive timedelta."""
    compact = text.replace(" ", "").lower()
    if not _WHOLE.fullmatch(compact):
        raise ValueError(f"must be {_EXAMPLES} (got {text!r})")
    total = sum(
        (int(amount) * _UNITS[unit] for amount, unit in _PART.findall(compact)), timedelta()
    )
    if total <= timedelta():
        raise ValueError(f"must be longer than zero (got {text!r})")
    return total


def format_duration(value: timedelta) -> str:
    """Write a timedelta back in the same short form ("2w", "30d", "1d12h", "90m" as "1h30m")."""
    minutes = int(value.total_seconds() // 60)
    if minutes <= 0:
        return "0m"
    week = 7 * 24 * 60
    if minutes % week == 0:
        return f"{minutes // week}w"
    parts = []
    for unit, size in (("d", 24 * 60), ("h", 60), ("m", 1)):
        amount, minutes = divmod(minutes, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _coerce(value: Any) -> timedelta:
    # Only text (or an already parsed timedelta) is a duration: a bare number has no unit.
    if isinstance(value, timedelta):
        if value <= timedelta():
            raise ValueError("must be longer than zero")
        return value
    if isinstance(value, str):
        return parse_duration(value)
    shown = "true/false" if isinstance(value, bool) else repr(value)
    raise ValueError(f"must be {_EXAMPLES}, with a unit (got {shown})")


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A positive timedelta written in a campaign file as "30d", "12h", "90m" or "2w"."""
