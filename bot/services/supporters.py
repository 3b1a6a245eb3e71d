"""Supporter use cases: joining from /start, finding one person, export and forget (GDPR)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.i18n import DEFAULT_LANGUAGE, language_tag
from bot.storage import supporters
from bot.storage.models import Interaction, Supporter

START_KIND = "start"


class TelegramUser(Protocol):
    """The fields of a Telegram user we keep (python-telegram-bot's `User` has them)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def language_code(self) -> str | None: ...


class SupporterNotFound(LookupError):
    """No supporter matches what was asked for."""


async def upsert_started_supporter(
    session: AsyncSession,
    *,
    telegram_user: TelegramUser,
    payload: str | None,
    now: datetime,
    refresh_scores: bool = True,
) -> Supporter:
    """Create or link the supporter who sent /start, record consent and a `start` interaction.

    Matching order: Telegram user id, then an imported supporter with the same username
    (case-insensitive) who has no Telegram id yet, else a new supporter. Starting the bot
    proves it is no longer blocked, so a blocked mark is cleared; opting back in after /stop
    is conversation.opt_in's job. Flushes; the caller commits.
    """
    supporter = await supporters.supporter_by_telegram(session=session, user_id=telegram_user.id)
    if supporter is None and telegram_user.username:
        candidates = await supporters.supporters_by_username(
            session=session, username=telegram_user.username, unlinked_only=True
        )
        supporter = candidates[0] if candidates else None
    if supporter is None:
        supporter = Supporter(
            created_at=now,
            language=(language_tag(telegram_user.language_code) or DEFAULT_LANGUAGE)[:8],
            source="telegram",
        )
        session.add(supporter)
    supporter.telegram_user_id = telegram_user.id
    supporter.chat_id = telegram_user.id  # a private chat's id is the user's id
    supporter.username = telegram_user.username or supporter.username
    supporter.first_name = supporter.first_name or (telegram_user.first_name or "")[:200]
    supporter.last_name = supporter.last_name or (telegram_user.last_name or "")[:200]
    supporter.consented_at = supporter.consented_at or now
    supporter.blocked_at = None
    if payload:
        supporter.start_payload = payload[:64]
    await session.flush()
    assert supporter.id is not None
    session.add(
        Interaction(
            supporter_id=supporter.id,
            kind=START_KIND,
            detail=payload[:500] if payload else None,
            occurred_at=now,
            source="telegram",
        )
    )
    await session.flush()
    if refresh_scores:  # a bulk caller refreshes everyone's scores once at the end instead
        await supporters.refresh_supporter_scores(
            session=session, now=now, supporter_ids=[supporter.id]
        )
        await session.refresh(supporter)
    return supporter


async def add_contact(
    sessions: async_sessionmaker[AsyncSession], *, telegram_user: TelegramUser, now: datetime
) -> int:
    """Keep someone who wrote without /start (or after /forget) as a contact; return the id.

    Their message is relayed and staff can answer it, but only /start records consent: a
    contact has none, so no campaign selects them and nothing is sent to them unasked.
    """
    async with sessions() as session, session.begin():
        known = await supporters.supporter_by_telegram(session=session, user_id=telegram_user.id)
        if known is not None and known.id is not None:
            return known.id
        contact = Supporter(
            created_at=now,
            language=(language_tag(telegram_user.language_code) or DEFAULT_LANGUAGE)[:8],
            source="telegram",
            telegram_user_id=telegram_user.id,
            chat_id=telegram_user.id,  # a private chat's id is the user's id
            username=telegram_user.username,
            first_name=(telegram_user.first_name or "")[:200],
            last_name=(telegram_user.last_name or "")[:200],
        )
        session.add(contact)
        await session.flush()
        assert contact.id is not None
        return contact.id


async def find_supporter(
    session: AsyncSession,
    *,
    external_id: str | None = None,
    username: str | None = None,
    telegram_id: int | None = None,
) -> Supporter:
    """Find exactly one supporter by one identifier, or raise SupporterNotFound saying why."""
    given = [v for v in (external_id, username, telegram_id) if v is not None]
    if len(given) != 1:
        raise SupporterNotFound("give exactly one of --external-id, --username, --telegram-id")
    if external_id is not None:
        found = await supporters.supporter_by_external_id(session=session, external_id=external_id)
        if found is None:
            raise SupporterNotFound(f"no supporter has external_id {external_id!r}")
        return found
    if telegram_id is not None:
        found = await supporters.supporter_by_telegram(session=session, user_id=telegram_id)
        if found is None:
            raise SupporterNotFound(f"no supporter has Telegram user id {telegram_id}")
        return found
    assert username is not None
    matches = await supporters.supporters_by_username(session=session, username=username)
    if not matches:
        raise SupporterNotFound(f"no supporter has username {username!r}")
    if len(matches) > 1:
        ids = ", ".join(str(s.id) for s in matches)
        raise SupporterNotFound(
            f"{len(matches)} supporters share username {username!r} (ids {ids}); "
            "use --external-id or --telegram-id"
        )
    return matches[0]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


async def export_supporter(
    sessions: async_sessionmaker[AsyncSession], supporter_id: int
) -> dict[str, Any]:
    """Return everything stored about one supporter as JSON-ready data."""
    async with sessions() as session:
        record = await supporters.supporter_record(session=session, supporter_id=supporter_id)
    if record is None:
        raise SupporterNotFound(f"no supporter has id {supporter_id}")
    plain: dict[str, Any] = _plain(record)
    return plain


@dataclass(frozen=True)
class Forgotten:
    """What forgetting kept: anonymous counts that reports still need."""

    supporter_id: int
    asks_kept: int
    donations_kept: int
    replies_blanked: int


async def forget_supporter(
    sessions: async_sessionmaker[AsyncSession], supporter_id: int, *, now: datetime
) -> Forgotten:
    """Erase a supporter's personal data; asks, replies and gifts stay as anonymous counts."""
    async with sessions() as session, session.begin():
        record = await supporters.supporter_record(session=session, supporter_id=supporter_id)
        if record is None:
            raise SupporterNotFound(f"no supporter has id {supporter_id}")
        await supporters.erase_supporter(session=session, supporter_id=supporter_id, now=now)
    return Forgotten(
        supporter_id=supporter_id,
        asks_kept=len(record["asks"]),
        donations_kept=len(record["donations"]),
        replies_blanked=len(record["replies"]),
    )
