"""Donation queries: who gave, which asks reached them, storing a gift once, totals, thanks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.attribution import DeliveredAsk
from bot.storage.dialect import dialect_name
from bot.storage.models import SENT, Ask, Campaign, Donation, Interaction, Supporter


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
                *DONOR_COLUMNS,
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
        donor=read_donor(row, 8),
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
