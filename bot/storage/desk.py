"""Queries behind the conversation desk: waiting messages, claims, closing, the card, timings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.classify import OPT_OUT
from bot.storage.dialect import dialect_name
from bot.storage.models import DeskClaim
from bot.storage.tables import ASK, CAMPAIGN, CLICK, DONATION, INTERACTION, REPLY, SUPPORTER, TAG

CLAIM = DeskClaim.__table__  # type: ignore[attr-defined]


def waiting() -> ColumnElement[bool]:
    """Return the condition of an inbound message still waiting for staff (as WAITING_SQL)."""
    return and_(
        REPLY.c.direction == "in",
        REPLY.c.answered_at.is_(None),
        REPLY.c.closed_at.is_(None),
        or_(REPLY.c.classification.is_(None), REPLY.c.classification != OPT_OUT),
    )


@dataclass(frozen=True)
class WaitingRow:
    """One waiting message with what the inbox shows beside it."""

    reply_id: int
    supporter_id: int
    text: str
    classification: str | None
    received_at: datetime
    arm: str | None
    relay_message_id: int | None
    campaign: str | None
    first_name: str
    last_name: str
    username: str | None
    telegram_user_id: int | None
    language: str
    claimed_by: str | None
    claimed_by_id: int | None
    claimed_at: datetime | None
    waits: bool


def _row_query() -> Select[Any]:
    return (
        select(
            REPLY.c.id, REPLY.c.supporter_id, REPLY.c.text, REPLY.c.classification,
            REPLY.c.received_at, REPLY.c.arm, REPLY.c.relay_message_id, CAMPAIGN.c.name,
            SUPPORTER.c.first_name, SUPPORTER.c.last_name, SUPPORTER.c.username,
            SUPPORTER.c.telegram_user_id, SUPPORTER.c.language, CLAIM.c.staff_name,
            CLAIM.c.staff_user_id, CLAIM.c.claimed_at,
            case((waiting(), True), else_=False),
        )
        .join(SUPPORTER, SUPPORTER.c.id == REPLY.c.supporter_id)
        .outerjoin(CAMPAIGN, CAMPAIGN.c.id == REPLY.c.campaign_id)
        .outerjoin(CLAIM, CLAIM.c.supporter_id == REPLY.c.supporter_id)
    )  # fmt: skip


async def waiting_messages(*, session: AsyncSession, limit: int) -> list[WaitingRow]:
    """Return the oldest messages still waiting for staff, with their claims."""
    stmt = (
        _row_query()
        .where(waiting(), SUPPORTER.c.forgotten_at.is_(None))
        .order_by(REPLY.c.received_at, REPLY.c.id)
        .limit(limit)
    )
    return [WaitingRow(*row) for row in (await session.execute(stmt)).tuples()]


async def count_waiting(*, session: AsyncSession) -> int:
    """Count the messages still waiting for staff."""
    stmt = (
        select(func.count())
        .select_from(REPLY.join(SUPPORTER, SUPPORTER.c.id == REPLY.c.supporter_id))
        .where(waiting(), SUPPORTER.c.forgotten_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def waiting_row(*, session: AsyncSession, reply_id: int) -> WaitingRow | None:
    """Return one inbound message with what the desk shows beside it, waiting or not."""
    stmt = _row_query().where(REPLY.c.id == reply_id, REPLY.c.direction == "in")
    row = (await session.execute(stmt)).first()
    return WaitingRow(*row) if row is not None else None


async def waiting_for_supporter(*, session: AsyncSession, supporter_id: int) -> list[int]:
    """Return the ids of one supporter's messages still waiting for staff."""
    stmt = select(REPLY.c.id).where(REPLY.c.supporter_id == supporter_id, waiting())
    return list((await session.execute(stmt.order_by(REPLY.c.id))).scalars())


# --- claims ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who holds the claim on a supporter, and since when."""

    staff_user_id: int
    staff_name: str
    claimed_at: datetime
    reply_id: int | None


async def claim_supporter(
    *,
    session: AsyncSession,
    supporter_id: int,
    reply_id: int,
    staff_user_id: int,
    staff_name: str,
    now: datetime,
    lapse: timedelta,
) -> Holder:
    """Claim a supporter for one member of staff unless another holds a live claim.

    Returns the holder after the attempt: the caller won when it is themselves. One
    conditional UPDATE takes over a lapsed (or one's own) claim, and INSERT ... ON CONFLICT DO
    NOTHING creates a new one, so of two processes pressing at once exactly one wins.
    """
    mine = {
        "reply_id": reply_id,
        "staff_user_id": staff_user_id,
        "staff_name": staff_name[:200],
        "claimed_at": now,
        "prompt_message_id": None,
    }
    await session.execute(
        update(CLAIM)
        .where(
            CLAIM.c.supporter_id == supporter_id,
            or_(CLAIM.c.claimed_at <= now - lapse, CLAIM.c.staff_user_id == staff_user_id),
        )
        .values(**mine)
    )
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(CLAIM)
        .values(supporter_id=supporter_id, **mine)
        .on_conflict_do_nothing(index_elements=["supporter_id"])
    )
    holder = await claim_of(session=session, supporter_id=supporter_id)
    assert holder is not None
    return holder


async def claim_of(*, session: AsyncSession, supporter_id: int) -> Holder | None:
    """Return the claim on a supporter, live or lapsed."""
    row = (
        await session.execute(
            select(
                CLAIM.c.staff_user_id, CLAIM.c.staff_name, CLAIM.c.claimed_at, CLAIM.c.reply_id
            ).where(CLAIM.c.supporter_id == supporter_id)
        )
    ).first()
    return Holder(*row) if row is not None else None


async def set_prompt(
    *, session: AsyncSession, supporter_id: int, staff_user_id: int, prompt_message_id: int
) -> None:
    """Remember the forced-reply prompt of a claim, so a reply to it reaches the supporter."""
    await session.execute(
        update(CLAIM)
        .where(CLAIM.c.supporter_id == supporter_id, CLAIM.c.staff_user_id == staff_user_id)
        .values(prompt_message_id=prompt_message_id)
    )


async def claim_by_prompt(*, session: AsyncSession, prompt_message_id: int) -> int | None:
    """Return the message a forced-reply prompt asked an answer for."""
    stmt = select(CLAIM.c.reply_id).where(CLAIM.c.prompt_message_id == prompt_message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def release_claim(*, session: AsyncSession, supporter_id: int) -> None:
    """Drop the claim on a supporter: they were answered or closed."""
    await session.execute(delete(CLAIM).where(CLAIM.c.supporter_id == supporter_id))


# --- settling messages -------------------------------------------------------------------


async def close_message(
    *, session: AsyncSession, reply_id: int, how: str, staff_user_id: int, now: datetime
) -> bool:
    """Close a waiting message without an answer; False if it no longer waited."""
    result = await session.execute(
        update(REPLY)
        .where(REPLY.c.id == reply_id, waiting())
        .values(closed_at=now, closed_as=how, closed_by=staff_user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def close_supporter(
    *, session: AsyncSession, supporter_id: int, how: str, staff_user_id: int, now: datetime
) -> int:
    """Close every waiting message of one supporter; return how many."""
    result = await session.execute(
        update(REPLY)
        .where(REPLY.c.supporter_id == supporter_id, waiting())
        .values(closed_at=now, closed_as=how, closed_by=staff_user_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def answer_earlier(
    *, session: AsyncSession, supporter_id: int, up_to: datetime, now: datetime
) -> None:
    """Mark a supporter's messages waiting since up_to as answered: one answer covers them."""
    await session.execute(
        update(REPLY)
        .where(REPLY.c.supporter_id == supporter_id, REPLY.c.received_at <= up_to, waiting())
        .values(answered_at=now)
    )


# --- the supporter card ------------------------------------------------------------------


async def supporter_tags(*, session: AsyncSession, supporter_id: int) -> list[str]:
    """Return a supporter's tags, sorted."""
    stmt = select(TAG.c.tag).where(TAG.c.supporter_id == supporter_id).order_by(TAG.c.tag)
    return list((await session.execute(stmt)).scalars())


async def recent_interactions(
    *, session: AsyncSession, supporter_id: int, limit: int
) -> list[tuple[str, str | None, str | None, datetime]]:
    """Return a supporter's latest (kind, detail, sentiment, occurred_at), newest first."""
    stmt = (
        select(
            INTERACTION.c.kind,
            INTERACTION.c.detail,
            INTERACTION.c.sentiment,
            INTERACTION.c.occurred_at,
        )
        .where(INTERACTION.c.supporter_id == supporter_id)
        .order_by(INTERACTION.c.occurred_at.desc(), INTERACTION.c.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).tuples())


@dataclass(frozen=True)
class AskOutcome:
    """One ask to a supporter and what came of it."""

    campaign: str
    arm: str
    step: str
    state: str
    sent_at: datetime | None
    clicked: bool
    replied: bool
    gave: bool


async def asks_with_outcomes(
    *, session: AsyncSession, supporter_id: int, limit: int
) -> list[AskOutcome]:
    """Return a supporter's latest asks with whether each was clicked, replied to, or gave."""

    def has(table: Table) -> ColumnElement[bool]:
        return select(table.c.id).where(table.c.ask_id == ASK.c.id).exists()

    stmt = (
        select(
            CAMPAIGN.c.name,
            ASK.c.arm,
            ASK.c.step,
            ASK.c.state,
            ASK.c.sent_at,
            has(CLICK),
            has(REPLY),
            select(DONATION.c.id)
            .where(
                or_(
                    DONATION.c.ask_id == ASK.c.id,
                    # A gift credited to the campaign by supporter, not through a link.
                    and_(
                        DONATION.c.ask_id.is_(None),
                        DONATION.c.campaign_id == ASK.c.campaign_id,
                        DONATION.c.supporter_id == ASK.c.supporter_id,
                    ),
                )
            )
            .exists(),
        )
        .join(CAMPAIGN, CAMPAIGN.c.id == ASK.c.campaign_id)
        .where(ASK.c.supporter_id == supporter_id)
        .order_by(ASK.c.due_at.desc(), ASK.c.id.desc())
        .limit(limit)
    )
    return [
        AskOutcome(name, arm, step, state, sent, bool(c), bool(r), bool(g))
        for name, arm, step, state, sent, c, r, g in (await session.execute(stmt)).tuples()
    ]


async def recent_gifts(
    *, session: AsyncSession, supporter_id: int, limit: int
) -> list[tuple[int, str, datetime, str | None, str]]:
    """Return a supporter's latest (amount_minor, currency, donated_at, campaign, provider)."""
    stmt = (
        select(
            DONATION.c.amount_minor,
            DONATION.c.currency,
            DONATION.c.donated_at,
            CAMPAIGN.c.name,
            DONATION.c.provider,
        )
        .outerjoin(CAMPAIGN, CAMPAIGN.c.id == DONATION.c.campaign_id)
        .where(DONATION.c.supporter_id == supporter_id)
        .order_by(DONATION.c.donated_at.desc(), DONATION.c.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).tuples())


# --- response times ----------------------------------------------------------------------


async def campaign_response_rows(
    *, session: AsyncSession, campaign_id: int
) -> list[tuple[str | None, datetime, datetime | None, datetime | None]]:
    """Return (arm, received_at, answered_at, closed_at) of a campaign's inbound messages.

    Opt-outs are left out: they need no answer, so they never wait.
    """
    stmt = select(REPLY.c.arm, REPLY.c.received_at, REPLY.c.answered_at, REPLY.c.closed_at).where(
        REPLY.c.campaign_id == campaign_id,
        REPLY.c.direction == "in",
        or_(REPLY.c.classification.is_(None), REPLY.c.classification != OPT_OUT),
    )
    return list((await session.execute(stmt)).tuples())


async def period_response_rows(
    *, session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int | None, str | None, datetime, datetime | None, datetime | None]]:
    """Return (campaign_id, arm, received, answered, closed) of messages received in a period."""
    stmt = select(
        REPLY.c.campaign_id, REPLY.c.arm, REPLY.c.received_at, REPLY.c.answered_at,
        REPLY.c.closed_at,
    ).where(
        REPLY.c.direction == "in",
        and_(REPLY.c.received_at >= start, REPLY.c.received_at < end),
        or_(REPLY.c.classification.is_(None), REPLY.c.classification != OPT_OUT),
    )  # fmt: skip
    return list((await session.execute(stmt)).tuples())
