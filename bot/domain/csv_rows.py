"""CSV rows for import: the columns of each file and the checks every cell must pass.

Pure: each parse function turns one row (column -> text) into typed values or raises
BadCell naming the column and the reason; bot/services/importer.py streams and writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.attribution import gift_date_problem, is_telegram_id
from bot.domain.i18n import language_tag
from bot.domain.money import currency_problem, gift_amount_problem, parse_amount

Kind = Literal["supporters", "interactions", "donations"]
KINDS: tuple[Kind, ...] = ("supporters", "interactions", "donations")
# Column -> required?  The README's header reference is written from these.
COLUMNS: dict[Kind, dict[str, bool]] = {
    "supporters": {
        "external_id": True, "first_name": False, "last_name": False, "username": False,
        "telegram_user_id": False, "language": False, "timezone": False, "tags": False,
        "source": False, "consent": False,
    },
    "interactions": {
        "external_id": True, "kind": True, "detail": False, "sentiment": False,
        "occurred_at": True, "source": False,
    },
    "donations": {
        "external_id": False, "provider_event_id": True, "amount": True, "currency": True,
        "donated_at": True, "reference": False, "provider": False,
    },
}  # fmt: skip

_KIND = re.compile(r"[a-z0-9][a-z0-9_-]*")
INTERACTION_KIND = _KIND  # the same rule for kinds staff give a named source
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
SENTIMENTS = ("positive", "neutral", "negative")


class BadCell(Exception):
    """One cell that fails its check."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(column, message)
        self.column = column
        self.message = message


def _text(
    row: Mapping[str, str], column: str, limit: int, *, required: bool = False
) -> str | None:
    value = row.get(column, "").strip()
    if not value:
        if required:
            raise BadCell(column, "is required")
        return None
    if len(value) > limit:
        raise BadCell(column, f"is {len(value)} characters long; at most {limit} fit")
    return value


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """Read an ISO 8601 date or date-time; naive values are local time in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not a date ({text!r}); use ISO 8601 like 2026-03-01 or 2026-03-01T14:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ValueError(f"{text!r} is outside the calendar in UTC") from None


def _moment(row: Mapping[str, str], column: str, zone: ZoneInfo) -> datetime:
    text = _text(row, column, 64, required=True) or ""
    try:
        return parse_moment(text, zone)
    except ValueError as exc:
        raise BadCell(column, str(exc)) from None


def _choice(row: Mapping[str, str], column: str, options: Sequence[str]) -> str | None:
    value = row.get(column, "").strip().lower()
    if value and value not in options:
        raise BadCell(column, f"must be one of {', '.join(options)} or empty (got {value!r})")
    return value or None


def parse_supporter(row: Mapping[str, str]) -> dict[str, Any]:
    """Check one supporters.csv row and return its typed values."""
    values: dict[str, Any] = {
        "external_id": _text(row, "external_id", 120, required=True),
        "first_name": _text(row, "first_name", 200),
        "last_name": _text(row, "last_name", 200),
        "source": _text(row, "source", 120),
    }
    username = (_text(row, "username", 65) or "").removeprefix("@")
    if username and not _USERNAME.fullmatch(username):
        raise BadCell(
            "username", f"must be a Telegram username: letters, digits, _ (got {username!r})"
        )
    values["username"] = username or None
    user_id = _text(row, "telegram_user_id", 20)
    if user_id is not None:
        if not user_id.isdigit() or not is_telegram_id(int(user_id)):
            raise BadCell("telegram_user_id", f"must be a Telegram user id (got {user_id!r})")
        values["telegram_user_id"] = int(user_id)
    language = language_tag(_text(row, "language", 8)) or ""
    if language and not _LANGUAGE.fullmatch(language):
        raise BadCell(
            "language", f"must be a language code like en, nl or pt-br (got {language!r})"
        )
    values["language"] = language or None
    zone = _text(row, "timezone", 64)
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadCell(
                "timezone", f"unknown time zone {zone!r}; use an IANA name like Europe/Amsterdam"
            ) from None
    values["timezone"] = zone
    tags = [tag.strip() for tag in row.get("tags", "").split(";") if tag.strip()]
    for tag in tags:
        if len(tag) > 64:
            raise BadCell("tags", f"tag {tag[:20]!r}... is longer than 64 characters")
    values["tags"] = list(dict.fromkeys(tags)) or None
    consent = row.get("consent", "").strip().lower()
    if consent and consent not in _YES | _NO:
        raise BadCell("consent", f"must be yes, no or empty (got {consent!r})")
    values["consent"] = None if not consent else consent in _YES
    return values


def parse_interaction(row: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """Check one interactions.csv row and return its typed values."""
    kind = _text(row, "kind", 64, required=True) or ""
    if not _KIND.fullmatch(kind):
        raise BadCell(
            "kind",
            f"must be lowercase letters, digits, _ or - like visited_exhibition (got {kind!r})",
        )
    return {
        "external_id": _text(row, "external_id", 120, required=True),
        "kind": kind,
        "detail": _text(row, "detail", 500),
        "sentiment": _choice(row, "sentiment", SENTIMENTS),
        "occurred_at": _moment(row, "occurred_at", zone),
        "source": _text(row, "source", 120),
    }


def parse_donation(row: Mapping[str, str], zone: ZoneInfo, *, now: datetime) -> dict[str, Any]:
    """Check one donations.csv row and return its typed values."""
    currency = _text(row, "currency", 3, required=True) or ""
    if (problem := currency_problem(currency)) is not None:
        raise BadCell("currency", problem)
    amount_text = _text(row, "amount", 32, required=True) or ""
    try:
        amount = parse_amount(amount_text, currency)
    except ValueError as exc:
        raise BadCell("amount", str(exc)) from None
    if (problem := gift_amount_problem(amount, currency)) is not None:
        raise BadCell("amount", f"{problem} (got {amount_text!r})")
    donated_at = _moment(row, "donated_at", zone)
    if (problem := gift_date_problem(donated_at, now=now)) is not None:
        raise BadCell("donated_at", f"{problem} (got {row.get('donated_at', '').strip()!r})")
    return {
        "external_id": _text(row, "external_id", 120),
        "provider_event_id": _text(row, "provider_event_id", 200, required=True),
        "amount_minor": amount,
        "currency": currency.upper(),
        "donated_at": donated_at,
        "reference": _text(row, "reference", 64),
        "provider": _text(row, "provider", 32) or "import",
    }


def header_problems(header: Sequence[str], kind: Kind) -> list[tuple[str, str]]:
    """List (column, reason) for every problem with a file's header line."""
    known = COLUMNS[kind]
    problems = [(name, "appears twice in the header") for name in sorted(
        {n for n in header if list(header).count(n) > 1})]  # fmt: skip
    problems += [
        (name, f"unknown column (known: {', '.join(known)})")
        for name in header
        if name not in known
    ]
    problems += [
        (name, "missing required column")
        for name, required in known.items()
        if required and name not in header
    ]
    return problems
