"""Queries for tracked-link clicks and donations: tokens, donors, asks in reach, gift rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.domain.attribution import DeliveredAsk
from bot.storage.dialect import dialect_name
from bot.storage.models import (
    SENT,
    Ask,
    BroadcastPost,
    Campaign,
    Click,
    Donation,
    Interaction,
    Supporter,
    known_reached,
)

# The interaction kind a gift is recorded as (see also bot.domain.scoring's weights).
GIFT_INTERACTION = "gift"
CLICK_INTERACTION = "click"


@dataclass(frozen=True)
class Donor:
    """The supporter a gift came from, as far as a thank-you needs to know."""

    id: int
    chat_id: int | None
    first_name: str
    language: str


@dataclass(frozen=True)
class LinkTarget:
    """The ask or broadcast post a token belongs to, with its campaign and supporter."""

    token: str
    ask_id: int | None
    post_id: int | None
    campaign_id: int
    campaign_name: str
    spec_yaml: str
    supporter: Donor | None = None
    # The ask's arm, and whether it was known to have reached its supporter (None for a post).
    arm: str | None = None
    reached: bool | None = None

    @property
    def supporter_id(self) -> int | None:
        """Return the id of the supporter the ask went to (None for a post)."""
        return self.supporter.id if self.supporter else None


_DONOR_COLUMNS = (
    col(Supporter.id),
    col(Supporter.chat_id),
    col(Supporter.first_name),
    col(Supporter.language),
)


def _donor(row: Any, at: int) -> Donor | None:
    return None if row[at] is None else Donor(int(row[at]), row[at + 1], row[at + 2], row[at + 3])


async def find_link_target(*, session: AsyncSession, token: str) -> LinkTarget | None:
    """Find the ask, else the broadcast post, that carries a token."""
    ask = (
        await session.execute(
            select(
                col(Ask.id),
                col(Ask.campaign_id),
                col(Campaign.name),
                col(Campaign.spec_yaml),
                *_DONOR_COLUMNS,
                col(Ask.arm),
                col(Ask.step),
                col(Ask.state),
            )
            .join(Campaign, col(Campaign.id) == col(Ask.campaign_id))
            .outerjoin(Supporter, col(Supporter.id) == col(Ask.supporter_id))
            .where(col(Ask.token) == token)
        )
    ).first()
    if ask is not None:
        arm, step, state = ask[-3:]
        return LinkTarget(
            token,
            ask[0],
            None,
            ask[1],
            ask[2],
            ask[3],
            _donor(ask, 4),
            arm=arm,
            reached=known_reached(step, state),
        )
    post = (
        await session.execute(
            select(
                col(BroadcastPost.id),
                col(BroadcastPost.campaign_id),
                col(Campaign.name),
                col(Campaign.spec_yaml),
            )
            .join(Campaign, col(Campaign.id) == col(BroadcastPost.campaign_id))
            .where(col(BroadcastPost.token) == token)
        )
    ).first()
    if post is not None:
        return LinkTarget(token, None, post[0], post[1], post[2], post[3])
    return None


async def record_click(
    *,
    session: AsyncSession,
    target: LinkTarget,
    clicked_at: datetime,
    user_agent: str | None,
    dedup: timedelta,
    client: str | None = None,
) -> bool:
    """Insert a click unless it repeats one within `dedup`; tell whether it counted.

    An ask's link belongs to one supporter, so any tap on it within `dedup` is a repeat. A
    broadcast post's link is shared by every reader, so only the same reader (`client`)
    repeating within `dedup` is merged.
    """
    if dialect_name(session) == "postgresql":
        # Serialise clicks on one token so two simultaneous taps still count once.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:token))"), {"token": target.token}
        )
    recent = exists().where(
        col(Click.token) == target.token, col(Click.clicked_at) > clicked_at - dedup
    )
    if target.post_id is not None:
        recent = recent.where(col(Click.client) == client)
    values = select(
        literal(target.token, String),
        literal(target.ask_id, Integer),
        literal(target.post_id, Integer),
        literal(target.campaign_id, Integer),
        literal(target.supporter_id, Integer),
        literal(clicked_at, UTCDateTime()),
        literal((user_agent or "")[:300] or None, String),
        literal(client, String),
        literal(target.arm, String),
        literal(target.reached, Boolean),
    )
    if dedup > timedelta(0):
        values = values.where(~recent)
    statement = (
        insert(Click)
        .from_select(
            [
                "token",
                "ask_id",
                "post_id",
                "campaign_id",
                "supporter_id",
                "clicked_at",
                "user_agent",
                "client",
                "arm",
                "reached",
            ],
            values,
        )
        .returning(col(Click.id))
    )
    inserted = (await session.execute(statement)).first() is not None
    if inserted and target.supporter_id is not None:
        await add_interaction(
            session=session,
            supporter_id=target.supporter_id,
            kind=CLICK_INTERACTION,
            occurred_at=clicked_at,
            detail=target.campaign_name,
            source="link",
        )
    return inserted


def _later(column: Any, moment: datetime) -> Any:
    """Return SQL for the later of a nullable datetime column and a moment."""
    value = literal(moment, UTCDateTime())
    return case((or_(column.is_(None), column < value), value), else_=column)


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
    await session.execute(
        insert(Interaction).values(
            supporter_id=supporter_id,
            kind=kind,
            detail=detail[:500] if detail else None,
            occurred_at=occurred_at,
            source=source,
        )
    )
    await session.execute(
        update(Supporter)
        .where(col(Supporter.id) == supporter_id)
        .values(
            interaction_count=col(Supporter.interaction_count) + 1,
            last_interaction_at=_later(col(Supporter.last_interaction_at), occurred_at),
        )
    )


async def find_donor(
    *,
    session: AsyncSession,
    supporter_id: int | None = None,
    telegram_user_id: int | None = None,
    username: str | None = None,
    external_id: str | None = None,
) -> Donor | None:
    """Find a supporter by id, Telegram user id, external id or username, in that order."""
    conditions: list[Any] = []
    if supporter_id is not None:
        conditions.append(col(Supporter.id) == supporter_id)
    if telegram_user_id is not None:
        conditions.append(col(Supporter.telegram_user_id) == telegram_user_id)
    if external_id:
        conditions.append(col(Supporter.external_id) == external_id)
    name = (username or "").strip().lstrip("@")
    if name:
        conditions.append(col(Supporter.username) == name)
        # Telegram usernames ignore case; the indexed exact match above is tried first.
        conditions.append(func.lower(col(Supporter.username)) == name.lower())
    for condition in conditions:
        row = (await session.execute(select(*_DONOR_COLUMNS).where(condition).limit(1))).first()
        if row is not None:
            return _donor(row, 0)
    return None


async def delivered_asks(
    *,
    session: AsyncSession,
    supporter_id: int,
    since: datetime,
    until: datetime,
    campaign_name: str | None = None,
) -> list[DeliveredAsk]:
    """List asks delivered to a supporter between two moments, with their campaigns."""
    query = (
        select(col(Ask.id), col(Campaign.name), col(Ask.sent_at), col(Campaign.id))
        .join(Campaign, col(Campaign.id) == col(Ask.campaign_id))
        .where(
            col(Ask.supporter_id) == supporter_id,
            col(Ask.state) == SENT,
            col(Ask.sent_at) >= since,
            col(Ask.sent_at) <= until,
        )
    )
    if campaign_name is not None:
        query = query.where(col(Campaign.name) == campaign_name)
    rows = (await session.execute(query)).all()
    return [DeliveredAsk(int(r[0]), r[1], r[2], int(r[3])) for r in rows if r[2] is not None]


async def campaign_id_named(*, session: AsyncSession, name: str) -> int | None:
    """Return the id of the campaign row with this name, if there is one."""
    found = await session.execute(select(col(Campaign.id)).where(col(Campaign.name) == name))
    value = found.scalar_one_or_none()
    return int(value) if value is not None else None


async def insert_donation(
    *,
    session: AsyncSession,
    provider: str,
    provider_event_id: str,
    amount_minor: int,
    currency: str,
    donated_at: datetime,
    reference: str | None,
    recorded_at: datetime,
    attribution: str,
    supporter_id: int | None,
    ask_id: int | None,
    post_id: int | None,
    campaign_id: int | None,
) -> int | None:
    """Insert a donation unless its provider event is already stored; return the new id."""
    values = {
        "provider": provider,
        "provider_event_id": provider_event_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "donated_at": donated_at,
        "reference": reference,
        "recorded_at": recorded_at,
        "attribution": attribution,
        "supporter_id": supporter_id,
        "ask_id": ask_id,
        "post_id": post_id,
        "campaign_id": campaign_id,
    }
    # ON CONFLICT rather than catching IntegrityError: it never aborts an outer transaction,
    # and a concurrent insert of the same event simply waits and then yields nothing.
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    statement = (
        maker(Donation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(col(Donation.id))
    )
    new_id = (await session.execute(statement)).scalar_one_or_none()
    return int(new_id) if new_id is not None else None


@dataclass(frozen=True)
class StoredDonation:
    """A donation row as recorded, with its giver and campaign name."""

    id: int
    attribution: str
    campaign_name: str | None
    ask_id: int | None
    post_id: int | None
    amount_minor: int
    currency: str
    donated_at: datetime
    donor: Donor | None


async def find_donation(
    *, session: AsyncSession, provider: str, provider_event_id: str
) -> StoredDonation | None:
    """Return the donation recorded for a provider event, if any."""
    row = (
        await session.execute(
            select(
                col(Donation.id),
                col(Donation.attribution),
                col(Campaign.name),
                col(Donation.ask_id),
                col(Donation.post_id),
                col(Donation.amount_minor),
                col(Donation.currency),
                col(Donation.donated_at),
                *_DONOR_COLUMNS,
            )
            .outerjoin(Campaign, col(Campaign.id) == col(Donation.campaign_id))
            .outerjoin(Supporter, col(Supporter.id) == col(Donation.supporter_id))
            .where(
                col(Donation.provider) == provider,
                col(Donation.provider_event_id) == provider_event_id,
            )
        )
    ).first()
    if row is None:
        return None
    return StoredDonation(
        id=int(row[0]),
        attribution=row[1],
        campaign_name=row[2],
        ask_id=row[3],
        post_id=row[4],
        amount_minor=int(row[5]),
        currency=row[6],
        donated_at=row[7],
        donor=_donor(row, 8),
    )


async def add_gift(
    *,
    session: AsyncSession,
    supporter_id: int,
    amount_minor: int,
    currency: str,
    donated_at: datetime,
    main_currency: str,
    detail: str | None,
    source: str,
) -> None:
    """Record a gift interaction and count it on the supporter (main currency in the total)."""
    await session.execute(
        insert(Interaction).values(
            supporter_id=supporter_id,
            kind=GIFT_INTERACTION,
            detail=detail[:500] if detail else None,
            occurred_at=donated_at,
            source=source[:120],
        )
    )
    added = amount_minor if currency.upper() == main_currency.upper() else 0
    await session.execute(
        update(Supporter)
        .where(col(Supporter.id) == supporter_id)
        .values(
            interaction_count=col(Supporter.interaction_count) + 1,
            last_interaction_at=_later(col(Supporter.last_interaction_at), donated_at),
            gift_count=col(Supporter.gift_count) + 1,
            gift_total_minor=col(Supporter.gift_total_minor) + literal(added, BigInteger),
            last_gift_at=_later(col(Supporter.last_gift_at), donated_at),
        )
    )


async def donation_totals(
    *, session: AsyncSession, campaign_id: int | None = None
) -> dict[str, tuple[int, int]]:
    """Sum donations per currency (never across currencies): currency -> (count, total)."""
    query = select(
        col(Donation.currency), func.count(), func.sum(col(Donation.amount_minor))
    ).group_by(col(Donation.currency))
    if campaign_id is not None:
        query = query.where(col(Donation.campaign_id) == campaign_id)
    rows = (await session.execute(query)).all()
    return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}


@dataclass(frozen=True)
class ThankYouFacts:
    """What a thank-you template may mention beyond the outcome itself."""

    last_name: str | None
    username: str | None
    token: str | None
    history: list[tuple[str, str | None, datetime]]
    reachable: bool = False


async def thank_you_facts(
    *, session: AsyncSession, supporter_id: int | None, ask_id: int | None, limit: int = 200
) -> ThankYouFacts:
    """Load a giver's name, reachability, latest interactions and the credited ask's token."""
    last_name = username = token = None
    reachable = False
    history: list[tuple[str, str | None, datetime]] = []
    if supporter_id is not None:
        person = (
            await session.execute(
                select(
                    col(Supporter.last_name),
                    col(Supporter.username),
                    col(Supporter.chat_id),
                    col(Supporter.opted_out_at),
                    col(Supporter.blocked_at),
                    col(Supporter.forgotten_at),
                ).where(col(Supporter.id) == supporter_id)
            )
        ).first()
        if person is not None:
            last_name, username = person[0] or None, person[1]
            reachable = person[2] is not None and all(at is None for at in person[3:6])
        rows = await session.execute(
            select(col(Interaction.kind), col(Interaction.detail), col(Interaction.occurred_at))
            .where(col(Interaction.supporter_id) == supporter_id)
            .order_by(col(Interaction.occurred_at).desc())
            .limit(limit)
        )
        history = [(r[0], r[1], r[2]) for r in rows]
    if ask_id is not None:
        found = await session.execute(select(col(Ask.token)).where(col(Ask.id) == ask_id))
        token = found.scalar_one_or_none()
    return ThankYouFacts(last_name, username, token, history, reachable)
