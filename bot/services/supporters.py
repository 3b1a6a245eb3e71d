"""Supporter use cases: joining from /start, finding one person, export and forget (GDPR)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.i18n import DEFAULT_LANGUAGE, language_tag
from bot.storage import personal, supporters
from bot.storage.community_rollup import START_KIND, note_interactions
from bot.storage.models import Interaction, Supporter

log = logging.getLogger(__name__)


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


async def refresh_all_scores(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, main_currency: str
) -> None:
    """Recompute every supporter's counts, engagement and RFM (the daily `scores` job).

    Engagement and recency decay with time, and community facts (comments, reactions,
    answers) are recorded in batches without touching scores, so a daily pass keeps audience
    ordering by engagement or RFM true.
    """
    async with sessions() as session, session.begin():
        await supporters.refresh_supporter_scores(
            session=session, now=now, main_currency=main_currency
        )


class SupporterNotFound(LookupError):
    """No supporter matches what was asked for."""


async def upsert_started_supporter(
    session: AsyncSession,
    *,
    telegram_user: TelegramUser,
    payload: str | None,
    now: datetime,
    main_currency: str,
    bulk: bool = False,
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
    if bulk:
        # A bulk caller rebuilds the roll-ups and refreshes scores once, for everyone, at the
        # end (community_rollup.rebuild, refresh_supporter_scores): per supporter, a start
        # rebuilds their ways in, which costs milliseconds each.
        return supporter
    start = {"supporter_id": supporter.id, "kind": START_KIND, "occurred_at": now}
    await note_interactions(session=session, rows=[{**start, "source": "telegram"}])
    await supporters.refresh_supporter_scores(
        session=session, now=now, supporter_ids=[supporter.id], main_currency=main_currency
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


class MessageDeleter(Protocol):
    """Deletes a message in Telegram (bot.telegram.deleter.BotMessageDeleter does)."""

    async def delete_message(self, chat_id: int, message_id: int) -> str | None:
        """Delete one message; return None once it is gone, else why Telegram refused."""
        ...


# Why a staff-chat message was left when forget had no bot to delete it with.
NO_BOT = "not tried: no bot token to delete it with"


@dataclass(frozen=True)
class Forgotten:
    """What forgetting kept: anonymous counts that reports still need; what it deleted."""

    supporter_id: int
    asks_kept: int
    donations_kept: int
    replies_blanked: int
    staff_messages_deleted: int = 0
    # "message M in chat C: reason", for each staff-chat message Telegram would not delete.
    staff_messages_left: tuple[str, ...] = ()


async def forget_supporter(
    sessions: async_sessionmaker[AsyncSession],
    supporter_id: int,
    *,
    now: datetime,
    deleter: MessageDeleter | None = None,
    staff_chat_id: int | None = None,
) -> Forgotten:
    """Erase a supporter's personal data; asks, replies and gifts stay as anonymous counts.

    The erase is one transaction of plain updates that nothing can block. Afterwards the
    staff chat's relays about them are deleted, best effort: a message Telegram refuses to
    delete is recorded in staff_message and reported, and the erase stands.
    """
    async with sessions() as session, session.begin():
        record = await supporters.supporter_record(session=session, supporter_id=supporter_id)
        if record is None:
            raise SupporterNotFound(f"no supporter has id {supporter_id}")
        relays = await supporters.erase_supporter(
            session=session, supporter_id=supporter_id, now=now, staff_chat_id=staff_chat_id
        )
    deleted, left = 0, []
    for row_id, chat_id, message_id in relays:
        failure = NO_BOT if deleter is None else await _delete(deleter, chat_id, message_id)
        if failure is None:
            deleted += 1
        else:
            left.append(f"message {message_id} in chat {chat_id}: {failure}")
        try:
            async with sessions() as session, session.begin():
                await personal.settle_staff_message(
                    session=session, row_id=row_id, failure=failure
                )
        except Exception:  # the erase is done; this is only the record of a deletion
            log.exception("could not record the deletion of staff message %s", row_id)
    for line in left:
        log.warning("forget %s left a staff-chat %s", supporter_id, line)
    return Forgotten(
        supporter_id=supporter_id,
        asks_kept=len(record["asks"]),
        donations_kept=len(record["donations"]),
        replies_blanked=len(record["replies"]),
        staff_messages_deleted=deleted,
        staff_messages_left=tuple(left),
    )


async def _delete(deleter: MessageDeleter, chat_id: int, message_id: int) -> str | None:
    try:
        return await deleter.delete_message(chat_id, message_id)
    except Exception as exc:  # a deleter that fails must not fail the erase it follows
        return f"{type(exc).__name__}: {exc}"


async def remember_staff_messages(
    sessions: async_sessionmaker[AsyncSession],
    *,
    supporter_id: int,
    chat_id: int,
    message_ids: Sequence[int],
    now: datetime,
) -> None:
    """Remember staff-chat messages about a supporter (relays, answers) for forget to delete."""
    async with sessions() as session, session.begin():
        for message_id in message_ids:
            await personal.remember_staff_message(
                session=session,
                supporter_id=supporter_id,
                chat_id=chat_id,
                message_id=message_id,
                sent_at=now,
            )
