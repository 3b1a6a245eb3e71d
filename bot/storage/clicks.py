"""Tracked-link queries: the ask or broadcast post a token belongs to, and counting a click."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Integer, String, exists, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.storage.dialect import dialect_name
from bot.storage.donations import DONOR_COLUMNS, Donor, read_donor
from bot.storage.models import Ask, BroadcastPost, Campaign, Click, Supporter, known_reached
from bot.storage.supporters import add_interaction

# The interaction kind a click is recorded as (see also bot.domain.scoring's weights).
CLICK_INTERACTION = "click"


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
    # The ask went to someone since forgotten: the link still works, but nothing is recorded
    # about them (supporter is then None).
    forgotten: bool = False

    @property
    def supporter_id(self) -> int | None:
        """Return the id of the supporter the ask went to (None for a post)."""
        return self.supporter.id if self.supporter else None


async def find_link_target(*, session: AsyncSession, token: str) -> LinkTarget | None:
    """Find the ask, else the broadcast post, that carries a token."""
    ask = (
        await session.execute(
            select(
                col(Ask.id),
                col(Ask.campaign_id),
                col(Campaign.name),
                col(Campaign.spec_yaml),
                *DONOR_COLUMNS,
                col(Supporter.forgotten_at),
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
        forgotten = ask[4 + len(DONOR_COLUMNS)] is not None
        return LinkTarget(
            token,
            ask[0],
            None,
            ask[1],
            ask[2],
            ask[3],
            None if forgotten else read_donor(ask, 4),
            arm=arm,
            reached=known_reached(step, state),
            forgotten=forgotten,
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
