"""Supporter queries: lookups, interactions, score refresh, export and erasure."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.domain import scoring
from bot.storage import personal
from bot.storage.community import asked_questions, erase_community_facts, written_messages
from bot.storage.community_rollup import note_interactions, rebuild
from bot.storage.dialect import BIGINT_MAX, chunks, saturating_sum
from bot.storage.models import Supporter
from bot.storage.tables import (
    ASK,
    CAMPAIGN,
    CLICK,
    DONATION,
    INTERACTION,
    REPLY,
    SUPPORTER,
    TAG,
)

# --- lookups -------------------------------------------------------------------------------


async def supporter_by_id(*, session: AsyncSession, supporter_id: int) -> Supporter | None:
    """Return the supporter with this id."""
    return await session.get(Supporter, supporter_id)


async def supporter_by_telegram(*, session: AsyncSession, user_id: int) -> Supporter | None:
    """Return the supporter with this Telegram user id."""
    stmt = select(Supporter).where(SUPPORTER.c.telegram_user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def supporter_by_external_id(*, session: AsyncSession, external_id: str) -> Supporter | None:
    """Return the supporter the organisation's CRM knows by this id."""
    stmt = select(Supporter).where(SUPPORTER.c.external_id == external_id)
    return (await session.execute(stmt)).scalars().first()


async def supporters_by_username(
    *, session: AsyncSession, username: str, unlinked_only: bool = False
) -> list[Supporter]:
    """Return supporters with this username, compared case-insensitively, oldest first."""
    stmt = select(Supporter).where(
        func.lower(SUPPORTER.c.username) == username.lstrip("@").lower(),
        SUPPORTER.c.forgotten_at.is_(None),
    )
    if unlinked_only:
        stmt = stmt.where(SUPPORTER.c.telegram_user_id.is_(None))
    return list((await session.execute(stmt.order_by(SUPPORTER.c.id))).scalars())


# --- interactions --------------------------------------------------------------------------


# The interaction kind a gift is recorded as (see also bot.domain.scoring's weights).
GIFT_INTERACTION = "gift"


async def add_interaction(
    *,
    session: AsyncSession,
    supporter_id: int,
    kind: str,
    occurred_at: datetime,
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Record one interaction and keep the supporter's count and latest time current."""
    await add_interactions(
        session=session,
        kind=kind,
        source=source,
        events=[(supporter_id, occurred_at, detail)],
    )


async def add_interactions(
    *,
    session: AsyncSession,
    kind: str,
    source: str | None,
    events: Sequence[tuple[int, datetime, str | None]],
) -> None:
    """Record interactions of one kind, (supporter id, moment, detail) each, in two statements."""
    if not events:
        return
    rows = [
        {
            "supporter_id": supporter_id,
            "kind": kind,
            "detail": detail[:500] if detail else None,
            "occurred_at": occurred_at,
            "source": source,
        }
        for supporter_id, occurred_at, detail in events
    ]
    await session.execute(insert(INTERACTION), rows)
    await note_interactions(session=session, rows=rows)
    per_supporter: dict[int, tuple[int, datetime]] = {}
    for supporter_id, occurred_at, _detail in events:
        count, latest = per_supporter.get(supporter_id, (0, occurred_at))
        per_supporter[supporter_id] = (count + 1, max(latest, occurred_at))
    latest_at = bindparam("latest", type_=UTCDateTime())
    seen = SUPPORTER.c.last_interaction_at
    await session.execute(
        update(SUPPORTER)
        .where(SUPPORTER.c.id == bindparam("supporter"))
        .values(
            interaction_count=SUPPORTER.c.interaction_count + bindparam("added", type_=Integer()),
            last_interaction_at=_later_than(seen, latest_at),
        ),
        [
            {"supporter": supporter_id, "added": count, "latest": latest}
            # In id order, so two transactions updating the same supporters never deadlock.
            for supporter_id, (count, latest) in sorted(per_supporter.items())
        ],
    )


@dataclass(frozen=True)
class GiftEvent:
    """A recorded gift to count on its supporter."""

    supporter_id: int
    amount_minor: int
    currency: str
    donated_at: datetime
    detail: str | None
    source: str


async def add_gifts(
    *, session: AsyncSession, gifts: Sequence[GiftEvent], main_currency: str
) -> None:
    """Record gift interactions and count them on their supporters, in two statements."""
    if not gifts:
        return
    rows = [
        {
            "supporter_id": gift.supporter_id,
            "kind": GIFT_INTERACTION,
            "detail": gift.detail[:500] if gift.detail else None,
            "occurred_at": gift.donated_at,
            "source": gift.source[:120],
        }
        for gift in gifts
    ]
    await session.execute(insert(INTERACTION), rows)
    await note_interactions(session=session, rows=rows)
    per_supporter: dict[int, tuple[int, int, datetime]] = {}
    for gift in gifts:
        count, added, latest = per_supporter.get(gift.supporter_id, (0, 0, gift.donated_at))
        if gift.currency.upper() == main_currency.upper():
            added = min(added + min(max(gift.amount_minor, 0), BIGINT_MAX), BIGINT_MAX)
        per_supporter[gift.supporter_id] = (count + 1, added, max(latest, gift.donated_at))
    await session.execute(
        _COUNT_GIFTS,
        [
            {"supporter": supporter_id, "count": count, "added": added, "latest": latest}
            # In id order, so two transactions updating the same supporters never deadlock.
            for supporter_id, (count, added, latest) in sorted(per_supporter.items())
        ],
    )


def _later_than(column: Any, value: Any) -> Any:
    """Return SQL for the later of a nullable datetime column and a bound moment."""
    return case((or_(column.is_(None), column < value), value), else_=column)


def _count_gifts() -> Any:
    """The update that counts a group's gifts on their supporters, one parameter set each."""
    total = SUPPORTER.c.gift_total_minor
    added_minor = bindparam("added", type_=BigInteger())
    latest_at = bindparam("latest", type_=UTCDateTime())
    return (
        update(SUPPORTER)
        .where(SUPPORTER.c.id == bindparam("supporter"))
        .values(
            interaction_count=SUPPORTER.c.interaction_count + bindparam("count", type_=Integer()),
            last_interaction_at=_later_than(SUPPORTER.c.last_interaction_at, latest_at),
            gift_count=SUPPORTER.c.gift_count + bindparam("count", type_=Integer()),
            # Saturates rather than overflow: a failed update would lose the gift itself.
            gift_total_minor=case(
                (
                    total > literal(BIGINT_MAX, BigInteger) - added_minor,
                    literal(BIGINT_MAX, BigInteger),
                ),
                else_=total + added_minor,
            ),
            last_gift_at=_later_than(SUPPORTER.c.last_gift_at, latest_at),
        )
    )


# Built once: a webhook group runs it, and building it cost more CPU than running it.
_COUNT_GIFTS = _count_gifts()


async def latest_interactions(
    *, session: AsyncSession, supporter_id: int, scan: int = 500
) -> list[tuple[str, str | None, datetime]]:
    """Return the latest (kind, detail, occurred_at) of each kind for one supporter."""
    stmt = (
        select(INTERACTION.c.kind, INTERACTION.c.detail, INTERACTION.c.occurred_at)
        .where(INTERACTION.c.supporter_id == supporter_id)
        .order_by(INTERACTION.c.occurred_at.desc(), INTERACTION.c.id.desc())
        .limit(scan)
    )
    latest: dict[str, tuple[str, str | None, datetime]] = {}
    for kind, detail, occurred_at in (await session.execute(stmt)).tuples():
        latest.setdefault(kind, (kind, detail, occurred_at))
    return list(latest.values())


# --- scores ----------------------------------------------------------------------------------


def _weight_sql() -> ColumnElement[int]:
    kind, sentiment = INTERACTION.c.kind, INTERACTION.c.sentiment
    base = case(
        *[(kind == name, weight) for name, weight in scoring.KIND_WEIGHTS.items()],
        else_=scoring.DEFAULT_WEIGHT,
    )
    bonus = case((sentiment == "positive", scoring.POSITIVE_BONUS), else_=0)
    return case((sentiment == "negative", 0), else_=base + bonus)


def _decay_sql(now: datetime) -> ColumnElement[int]:
    at = INTERACTION.c.occurred_at
    return case(
        *[(at >= now - timedelta(days=days), pct) for days, pct in scoring.DECAY_STEPS],
        else_=scoring.DECAY_FLOOR_PERCENT,
    )


def _steps_sql(
    column: ColumnElement[Any], steps: tuple[tuple[int, int], ...]
) -> ColumnElement[int]:
    return case(*[(column >= minimum, score) for minimum, score in steps], else_=1)


def _rfm_sql(
    now: datetime,
    last_interaction_at: ColumnElement[Any],
    last_gift_at: ColumnElement[Any],
    interaction_count: ColumnElement[Any],
    gift_total_minor: ColumnElement[Any],
) -> ColumnElement[int]:
    recency = case(
        *[
            (
                or_(
                    last_interaction_at >= now - timedelta(days=days),
                    last_gift_at >= now - timedelta(days=days),
                ),
                score,
            )
            for days, score in scoring.RECENCY_STEPS
        ],
        else_=1,
    )
    frequency = _steps_sql(interaction_count, scoring.FREQUENCY_STEPS)
    money = _steps_sql(gift_total_minor, scoring.MONETARY_STEPS)
    return recency * 100 + frequency * 10 + money


async def refresh_supporter_scores(
    *,
    session: AsyncSession,
    now: datetime,
    supporter_ids: Collection[int] | None = None,
    main_currency: str,
) -> None:
    """Recompute counts, last dates, engagement and RFM in SQL (all supporters when ids=None).

    gift_total_minor sums the main currency only, as add_gifts does.
    One UPDATE per batch, touching only rows whose values change (a rewritten row costs a
    new row version and an entry in every index on PostgreSQL). Engagement decays with
    time, so a periodic job should call this for everyone.
    """
    batches: list[list[int] | None] = (
        [None] if supporter_ids is None else list(chunks(supporter_ids))
    )
    for batch in batches:
        await session.execute(_refresh_statement(now, batch, main_currency.upper()))


def _refresh_statement(now: datetime, ids: list[int] | None, main_currency: str) -> Any:
    def only(column: ColumnElement[Any]) -> ColumnElement[bool]:
        return column.in_(ids) if ids is not None else true()

    points = func.sum(_weight_sql() * _decay_sql(now))
    seen = (
        select(
            INTERACTION.c.supporter_id.label("sid"),
            func.count().label("n"),
            func.max(INTERACTION.c.occurred_at).label("last"),
            (cast(points, Float) / 100.0).label("score"),
        )
        .where(only(INTERACTION.c.supporter_id))
        .group_by(INTERACTION.c.supporter_id)
        .subquery("seen")
    )
    main = case((DONATION.c.currency == main_currency, DONATION.c.amount_minor), else_=0)
    gifts = (
        select(
            DONATION.c.supporter_id.label("sid"),
            func.count().label("n"),
            saturating_sum(main).label("total"),
            func.max(DONATION.c.donated_at).label("last"),
        )
        .where(DONATION.c.supporter_id.is_not(None), only(DONATION.c.supporter_id))
        .group_by(DONATION.c.supporter_id)
        .subquery("gifts")
    )
    inner = SUPPORTER.alias("inner_supporter")
    fresh = (
        select(
            inner.c.id.label("id"),
            func.coalesce(seen.c.n, 0).label("interaction_count"),
            seen.c.last.label("last_interaction_at"),
            func.coalesce(seen.c.score, 0.0).label("engagement_score"),
            func.coalesce(gifts.c.n, 0).label("gift_count"),
            func.coalesce(gifts.c.total, 0).label("gift_total_minor"),
            gifts.c.last.label("last_gift_at"),
        )
        .select_from(
            inner.outerjoin(seen, seen.c.sid == inner.c.id).outerjoin(
                gifts, gifts.c.sid == inner.c.id
            )
        )
        .where(only(inner.c.id))
        .subquery("fresh")
    )
    rfm = _rfm_sql(
        now,
        fresh.c.last_interaction_at,
        fresh.c.last_gift_at,
        fresh.c.interaction_count,
        fresh.c.gift_total_minor,
    )
    columns = [
        "interaction_count",
        "last_interaction_at",
        "engagement_score",
        "gift_count",
        "gift_total_minor",
        "last_gift_at",
    ]
    changed = [SUPPORTER.c[name].is_distinct_from(fresh.c[name]) for name in columns]
    changed.append(SUPPORTER.c.rfm_score.is_distinct_from(rfm))
    return (
        update(SUPPORTER)
        .where(SUPPORTER.c.id == fresh.c.id, or_(*changed))
        .values({**{name: fresh.c[name] for name in columns}, "rfm_score": rfm})
    )


# --- export and erasure ----------------------------------------------------------------------


async def _rows(session: AsyncSession, stmt: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def supporter_record(*, session: AsyncSession, supporter_id: int) -> dict[str, Any] | None:
    """Return everything stored about one supporter, table by table, as plain dicts."""
    profile = await _rows(session, select(SUPPORTER).where(SUPPORTER.c.id == supporter_id))
    if not profile:
        return None
    tags = await session.execute(
        select(TAG.c.tag).where(TAG.c.supporter_id == supporter_id).order_by(TAG.c.tag)
    )
    asks = (
        select(ASK, CAMPAIGN.c.name.label("campaign"))
        .join(CAMPAIGN, CAMPAIGN.c.id == ASK.c.campaign_id)
        .where(ASK.c.supporter_id == supporter_id)
        .order_by(ASK.c.id)
    )
    ask_ids = select(ASK.c.id).where(ASK.c.supporter_id == supporter_id)
    clicks = (
        select(CLICK)
        .where(or_(CLICK.c.supporter_id == supporter_id, CLICK.c.ask_id.in_(ask_ids)))
        .order_by(CLICK.c.id)
    )
    by_supporter = {
        "interactions": (INTERACTION, INTERACTION.c.supporter_id),
        "replies": (REPLY, REPLY.c.supporter_id),
        "donations": (DONATION, DONATION.c.supporter_id),
    }
    record: dict[str, Any] = {"profile": profile[0], "tags": list(tags.scalars())}
    for key, (table, column) in by_supporter.items():
        record[key] = await _rows(
            session, select(table).where(column == supporter_id).order_by(table.c.id)
        )
    record["asks"] = await _rows(session, asks)
    record["clicks"] = await _rows(session, clicks)
    person = record["profile"]
    record["audit"] = await personal.audit_entries(
        session=session,
        supporter_id=supporter_id,
        telegram_user_id=person["telegram_user_id"],
        username=person["username"],
    )
    record["staff_chat_messages"] = await personal.staff_messages(
        session=session, supporter_id=supporter_id
    )
    record["community_questions"] = await asked_questions(
        session=session, supporter_id=supporter_id
    )
    record["community_messages"] = await written_messages(
        session=session, supporter_id=supporter_id
    )
    return record


async def erase_supporter(
    *,
    session: AsyncSession,
    supporter_id: int,
    now: datetime,
    staff_chat_id: int | None = None,
) -> list[tuple[int, int, int]]:
    """Erase a supporter's personal data, keeping anonymous rows that reports count.

    Returns the staff-chat messages about them, (row id, chat, message), for the caller to
    delete in Telegram once this transaction has committed.
    """
    person = await supporter_by_id(session=session, supporter_id=supporter_id)
    if person is not None:
        await personal.pseudonymise_audit(
            session=session,
            supporter_id=supporter_id,
            telegram_user_id=person.telegram_user_id,
            username=person.username,
        )
    relays = await personal.detach_staff_messages(
        session=session, supporter_id=supporter_id, now=now, legacy_chat_id=staff_chat_id
    )
    await session.execute(delete(TAG).where(TAG.c.supporter_id == supporter_id))
    await session.execute(delete(INTERACTION).where(INTERACTION.c.supporter_id == supporter_id))
    await erase_community_facts(session=session, supporter_id=supporter_id)
    await session.execute(
        update(REPLY)
        .where(REPLY.c.supporter_id == supporter_id)
        .values(text="", relay_message_id=None)
    )
    ask_ids = select(ASK.c.id).where(ASK.c.supporter_id == supporter_id)
    await session.execute(
        update(CLICK)
        .where(or_(CLICK.c.supporter_id == supporter_id, CLICK.c.ask_id.in_(ask_ids)))
        .values(user_agent=None, client=None)
    )
    await session.execute(
        update(ASK)
        .where(ASK.c.supporter_id == supporter_id)
        .values(chat_id=None, failure_reason=None)
    )
    await session.execute(
        update(SUPPORTER)
        .where(SUPPORTER.c.id == supporter_id)
        .values(
            external_id=None,
            telegram_user_id=None,
            chat_id=None,
            username=None,
            first_name="",
            last_name="",
            timezone=None,
            source=None,
            start_payload=None,
            forgotten_at=now,
            # Set here, not by a score refresh: nothing that can overflow runs in an erase.
            interaction_count=0,
            last_interaction_at=None,
            engagement_score=0.0,
            rfm_score=0,
        )
    )
    # Their interactions and source are gone: rebuilding leaves no roll-up rows of theirs.
    await rebuild(session=session, supporter_ids=[supporter_id])
    return relays
