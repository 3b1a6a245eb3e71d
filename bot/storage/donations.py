"""Donation queries: who gave, which asks reached them, storing a gift once, totals, thanks."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.attribution import DeliveredAsk
from bot.storage.dialect import dialect_name
from bot.storage.models import SENT, Ask, Campaign, Donation, Interaction, Supporter
from bot.storage.tables import ASK, CAMPAIGN, DONATION, SUPPORTER


@dataclass(frozen=True)
class Donor:
    """The supporter a gift came from, as far as a thank-you needs to know."""

    id: int
    chat_id: int | None
    first_name: str
    language: str


# The columns read_donor reads, in its order; clicks' link targets select them too.
DONOR_COLUMNS = (
    col(Supporter.id),
    col(Supporter.chat_id),
    col(Supporter.first_name),
    col(Supporter.language),
)


def read_donor(row: Any, at: int) -> Donor | None:
    """Read a Donor from DONOR_COLUMNS starting at column `at` (None for a missing one)."""
    return None if row[at] is None else Donor(int(row[at]), row[at + 1], row[at + 2], row[at + 3])


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
    # A forgotten record is never a donor again: its identifiers are gone, and its id alone
    # must not gather new history either.
    alive = col(Supporter.forgotten_at).is_(None)
    for condition in conditions:
        query = select(*DONOR_COLUMNS).where(condition, alive).limit(1)
        row = (await session.execute(query)).first()
        if row is not None:
            return read_donor(row, 0)
    return None


# The group queries of the webhook path, built once: a statement built per call cost more
# CPU in SQLAlchemy's coercions and cache key than running it did.
_CORE_DONOR = (SUPPORTER.c.id, SUPPORTER.c.chat_id, SUPPORTER.c.first_name, SUPPORTER.c.language)
_DONORS_BY_TELEGRAM = select(SUPPORTER.c.telegram_user_id, *_CORE_DONOR).where(
    SUPPORTER.c.telegram_user_id.in_(bindparam("ids", expanding=True)),
    SUPPORTER.c.forgotten_at.is_(None),
)
_DELIVERED_ASKS = (
    select(ASK.c.supporter_id, ASK.c.id, CAMPAIGN.c.name, ASK.c.sent_at, CAMPAIGN.c.id)
    .join(CAMPAIGN, CAMPAIGN.c.id == ASK.c.campaign_id)
    .where(
        ASK.c.supporter_id.in_(bindparam("ids", expanding=True)),
        ASK.c.state == SENT,
        ASK.c.sent_at >= bindparam("since", type_=ASK.c.sent_at.type),
        ASK.c.sent_at <= bindparam("until", type_=ASK.c.sent_at.type),
    )
)


async def donors_by_telegram(
    *, session: AsyncSession, telegram_user_ids: Collection[int]
) -> dict[int, Donor]:
    """Find the supporters, not forgotten, with these Telegram user ids."""
    if not telegram_user_ids:
        return {}
    rows = await session.execute(_DONORS_BY_TELEGRAM, {"ids": sorted(set(telegram_user_ids))})
    found = {}
    for row in rows:
        donor = read_donor(row, 1)
        if donor is not None:
            found[int(row[0])] = donor
    return found


async def delivered_asks(
    *, session: AsyncSession, supporter_ids: Collection[int], since: datetime, until: datetime
) -> dict[int, list[DeliveredAsk]]:
    """List each supporter's asks delivered between two moments, with their campaigns."""
    if not supporter_ids:
        return {}
    rows = await session.execute(
        _DELIVERED_ASKS, {"ids": sorted(set(supporter_ids)), "since": since, "until": until}
    )
    found: dict[int, list[DeliveredAsk]] = {}
    for row in rows:
        if row[3] is not None:
            found.setdefault(int(row[0]), []).append(
                DeliveredAsk(int(row[1]), row[2], row[3], int(row[4]))
            )
    return found


async def campaign_ids_named(*, session: AsyncSession, names: Collection[str]) -> dict[str, int]:
    """Return the id of the campaign row with each of these names (unknown ones left out)."""
    if not names:
        return {}
    found = await session.execute(
        select(col(Campaign.name), col(Campaign.id)).where(
            col(Campaign.name).in_(sorted(set(names)))
        )
    )
    return {row[0]: int(row[1]) for row in found}


EventKey = tuple[str, str]


@dataclass(frozen=True)
class NewDonation:
    """A donation row to insert, credited and with its giver."""

    provider: str
    provider_event_id: str
    amount_minor: int
    currency: str
    donated_at: datetime
    reference: str | None
    recorded_at: datetime
    attribution: str
    supporter_id: int | None
    ask_id: int | None
    post_id: int | None
    campaign_id: int | None


async def insert_donations(
    *, session: AsyncSession, rows: Sequence[NewDonation]
) -> dict[EventKey, int]:
    """Insert donations whose provider events are not stored yet; return the new ids by event.

    One statement for all: rows go in the order given, so callers sort them by event and two
    transactions inserting the same replayed events never wait on each other in a circle.
    """
    if not rows:
        return {}
    # ON CONFLICT rather than catching IntegrityError: it never aborts an outer transaction,
    # and a concurrent insert of the same event simply waits and then yields nothing.
    maker = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    statement = (
        maker(DONATION)
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(DONATION.c.provider, DONATION.c.provider_event_id, DONATION.c.id)
    )
    # vars, not dataclasses.asdict: that deep-copies every field.
    # Many parameter sets with RETURNING: SQLAlchemy sends them as one multi-row INSERT
    # ("insertmanyvalues"), and this dialect insert is compiled once, not once per gift.
    result = await session.execute(statement, [vars(row) for row in rows])
    return {(r[0], r[1]): int(r[2]) for r in result}


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


_DONATIONS_OF_EVENTS = (
    select(
        DONATION.c.provider,
        DONATION.c.provider_event_id,
        DONATION.c.id,
        DONATION.c.attribution,
        CAMPAIGN.c.name,
        DONATION.c.ask_id,
        DONATION.c.post_id,
        DONATION.c.amount_minor,
        DONATION.c.currency,
        DONATION.c.donated_at,
        *_CORE_DONOR,
    )
    .outerjoin(CAMPAIGN, CAMPAIGN.c.id == DONATION.c.campaign_id)
    .outerjoin(SUPPORTER, SUPPORTER.c.id == DONATION.c.supporter_id)
    .where(
        tuple_(DONATION.c.provider, DONATION.c.provider_event_id).in_(
            bindparam("events", expanding=True)
        )
    )
)


async def find_donations(
    *, session: AsyncSession, events: Collection[EventKey]
) -> dict[EventKey, StoredDonation]:
    """Return the donations recorded for these provider events (unknown ones left out)."""
    if not events:
        return {}
    rows = await session.execute(_DONATIONS_OF_EVENTS, {"events": sorted(set(events))})
    return {
        (row[0], row[1]): StoredDonation(
            id=int(row[2]),
            attribution=row[3],
            campaign_name=row[4],
            ask_id=row[5],
            post_id=row[6],
            amount_minor=int(row[7]),
            currency=row[8],
            donated_at=row[9],
            donor=read_donor(row, 10),
        )
        for row in rows
    }


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
                    col(Supporter.consented_at),
                ).where(col(Supporter.id) == supporter_id)
            )
        ).first()
        if person is not None:
            last_name, username = person[0] or None, person[1]
            reachable = (
                person[2] is not None
                and all(at is None for at in person[3:6])
                and person[6] is not None  # a contact who never sent /start gets nothing unasked
            )
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
