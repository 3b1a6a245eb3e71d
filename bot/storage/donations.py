"""Donation queries: who gave, which asks reached them, storing a gift once, totals, thanks."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.attribution import DeliveredAsk
from bot.storage.dialect import dialect_name
from bot.storage.models import SENT, Ask, Campaign, Donation, Interaction, Supporter
from bot.storage.tables import DONATION


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


async def donors_by_telegram(
    *, session: AsyncSession, telegram_user_ids: Collection[int]
) -> dict[int, Donor]:
    """Find the supporters, not forgotten, with these Telegram user ids."""
    if not telegram_user_ids:
        return {}
    rows = await session.execute(
        select(col(Supporter.telegram_user_id), *DONOR_COLUMNS).where(
            col(Supporter.telegram_user_id).in_(sorted(set(telegram_user_ids))),
            col(Supporter.forgotten_at).is_(None),
        )
    )
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
        select(
            col(Ask.supporter_id),
            col(Ask.id),
            col(Campaign.name),
            col(Ask.sent_at),
            col(Campaign.id),
        )
        .join(Campaign, col(Campaign.id) == col(Ask.campaign_id))
        .where(
            col(Ask.supporter_id).in_(sorted(set(supporter_ids))),
            col(Ask.state) == SENT,
            col(Ask.sent_at) >= since,
            col(Ask.sent_at) <= until,
        )
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
    # Many parameter sets with RETURNING: SQLAlchemy sends them as one multi-row INSERT
    # ("insertmanyvalues"), and this dialect insert is compiled once, not once per gift.
    result = await session.execute(statement, [dataclasses.asdict(row) for row in rows])
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


async def find_donations(
    *, session: AsyncSession, events: Collection[EventKey]
) -> dict[EventKey, StoredDonation]:
    """Return the donations recorded for these provider events (unknown ones left out)."""
    if not events:
        return {}
    rows = await session.execute(
        select(
            col(Donation.provider),
            col(Donation.provider_event_id),
            col(Donation.id),
            col(Donation.attribution),
            col(Campaign.name),
            col(Donation.ask_id),
            col(Donation.post_id),
            col(Donation.amount_minor),
            col(Donation.currency),
            col(Donation.donated_at),
            *DONOR_COLUMNS,
        )
        .outerjoin(Campaign, col(Campaign.id) == col(Donation.campaign_id))
        .outerjoin(Supporter, col(Supporter.id) == col(Donation.supporter_id))
        .where(
            tuple_(col(Donation.provider), col(Donation.provider_event_id)).in_(
                sorted(set(events))
            )
        )
    )
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
