"""Personal data outside a supporter's own rows: staff-chat messages and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.tables import AUDIT, REPLY, STAFF_MESSAGE

# The action /donation is audited as; entries written before audit rows named their
# supporter kept the giver's @username or id in `campaign` and `detail`.
DONATION_ACTION = "donation"


async def remember_staff_message(
    *,
    session: AsyncSession,
    supporter_id: int,
    chat_id: int,
    message_id: int,
    sent_at: datetime,
) -> None:
    """Remember a staff-chat message about a supporter, so forget can delete it."""
    await session.execute(
        insert(STAFF_MESSAGE).values(
            supporter_id=supporter_id, chat_id=chat_id, message_id=message_id, sent_at=sent_at
        )
    )


async def staff_messages(*, session: AsyncSession, supporter_id: int) -> list[dict[str, Any]]:
    """Return the staff-chat messages remembered about a supporter, oldest first."""
    stmt = (
        select(STAFF_MESSAGE.c.chat_id, STAFF_MESSAGE.c.message_id, STAFF_MESSAGE.c.sent_at)
        .where(STAFF_MESSAGE.c.supporter_id == supporter_id)
        .order_by(STAFF_MESSAGE.c.id)
    )
    return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def detach_staff_messages(
    *, session: AsyncSession, supporter_id: int, now: datetime, legacy_chat_id: int | None
) -> list[tuple[int, int, int]]:
    """Unlink a supporter's staff-chat messages; return (row id, chat, message) to delete.

    Relays made before staff messages were remembered are found by their reply's
    relay_message_id, in `legacy_chat_id` (the staff chat), and get a row here too so that
    a refused deletion is recorded the same way.
    """
    if legacy_chat_id is not None:
        known = select(STAFF_MESSAGE.c.message_id).where(
            STAFF_MESSAGE.c.chat_id == legacy_chat_id,
            STAFF_MESSAGE.c.supporter_id == supporter_id,
        )
        legacy = await session.execute(
            select(REPLY.c.relay_message_id).where(
                REPLY.c.supporter_id == supporter_id,
                REPLY.c.relay_message_id.is_not(None),
                REPLY.c.relay_message_id.not_in(known),
            )
        )
        for message_id in sorted(set(legacy.scalars())):
            await remember_staff_message(
                session=session,
                supporter_id=supporter_id,
                chat_id=legacy_chat_id,
                message_id=message_id,
                sent_at=now,
            )
    rows = await session.execute(
        select(STAFF_MESSAGE.c.id, STAFF_MESSAGE.c.chat_id, STAFF_MESSAGE.c.message_id)
        .where(STAFF_MESSAGE.c.supporter_id == supporter_id)
        .order_by(STAFF_MESSAGE.c.id)
    )
    found = [(int(r[0]), int(r[1]), int(r[2])) for r in rows]
    await session.execute(
        update(STAFF_MESSAGE)
        .where(STAFF_MESSAGE.c.supporter_id == supporter_id)
        .values(supporter_id=None)
    )
    return found


async def settle_staff_message(*, session: AsyncSession, row_id: int, failure: str | None) -> None:
    """Forget a deleted staff-chat message, or record why Telegram would not delete it."""
    if failure is None:
        await session.execute(delete(STAFF_MESSAGE).where(STAFF_MESSAGE.c.id == row_id))
    else:
        await session.execute(
            update(STAFF_MESSAGE)
            .where(STAFF_MESSAGE.c.id == row_id)
            .values(delete_failed=failure[:300])
        )


def _about(
    supporter_id: int, telegram_user_id: int | None, username: str | None
) -> tuple[ColumnElement[bool], ColumnElement[bool] | None, ColumnElement[bool] | None]:
    """Return conditions for audit entries about, by, and (old style) naming a person."""
    about = AUDIT.c.supporter_id == supporter_id
    by = AUDIT.c.actor_user_id == telegram_user_id if telegram_user_id is not None else None
    handles = [f"@{username}".lower()] if username else []
    handles += [str(telegram_user_id)] if telegram_user_id is not None else []
    naming = (
        (AUDIT.c.action == DONATION_ACTION) & func.lower(AUDIT.c.campaign).in_(handles)
        if handles
        else None
    )
    return about, by, naming


async def audit_entries(
    *,
    session: AsyncSession,
    supporter_id: int,
    telegram_user_id: int | None,
    username: str | None,
) -> list[dict[str, Any]]:
    """Return the audit entries about a person, or by them (a refused staff command)."""
    conditions = [c for c in _about(supporter_id, telegram_user_id, username) if c is not None]
    stmt = select(AUDIT).where(or_(*conditions)).order_by(AUDIT.c.id)
    return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def pseudonymise_audit(
    *,
    session: AsyncSession,
    supporter_id: int,
    telegram_user_id: int | None,
    username: str | None,
) -> None:
    """Replace a person's id, name, handle and typed text in the audit log by their record.

    The entries stay (what was done, when, allowed or not), now pointing at the erased
    record only.
    """
    _, by, naming = _about(supporter_id, telegram_user_id, username)
    if by is not None:
        await session.execute(
            update(AUDIT)
            .where(by)
            .values(actor_user_id=None, actor_name=None, detail=None, supporter_id=supporter_id)
        )
    if naming is not None:
        await session.execute(
            update(AUDIT)
            .where(naming)
            .values(campaign=None, detail=None, supporter_id=supporter_id)
        )
