"""Field types of campaign files (slug, key, language, dates, URL, zone, chat) and their checks."""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
import zoneinfo
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from bot.domain.i18n import language_tag

# Each check raises ValueError with a message a member of staff can act on.


def describe_value(value: Any) -> str:
    """Describe a value from a campaign file in a few words, for an error message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
        raise ValueError(f"must be a slug of lowercase letters, digits and dashes (got {value!r})")
    return value


def _key(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise ValueError(
            "must be lowercase letters, digits, '_' or '-' like visited_exhibition "
            f"(got {value!r})"
        )
    return value


def _language(value: str) -> str:
    code = language_tag(value) or ""
    if not re.fullmatch(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?", code):
        raise ValueError(f"must be a language code like en, nl or pt-br (got {value!r})")
    return code


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value.strip())
    if isinstance(value, datetime):
        raise ValueError(
            f"must be a date without a time, like 2026-01-01 (got {describe_value(value)})"
        )
    if not isinstance(value, date):
        raise ValueError(f"must be a date like 2026-01-01 (got {describe_value(value)})")
    return value


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise ValueError(
            f"must be a date and time like 2026-12-01T10:00:00 (got {describe_value(value)})"
        )
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL like https://donate.example.org (got {value!r})")
    return value.strip()


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, _zone_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"must be an IANA time zone like Europe/Amsterdam (got {value!r}){hint}"
        ) from None
    return value


def _chat(value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d+", text):
        raise ValueError(
            f"must be a @channelname or a numeric chat id (got {describe_value(value)})"
        )
    return text


Slug = Annotated[str, AfterValidator(_slug)]
Key = Annotated[str, AfterValidator(_key)]
Language = Annotated[str, AfterValidator(_language)]
Day = Annotated[date, BeforeValidator(_to_date)]
Moment = Annotated[datetime, BeforeValidator(_to_datetime)]
Text = Annotated[str, Field(min_length=1)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Chat = Annotated[str, BeforeValidator(_chat)]
