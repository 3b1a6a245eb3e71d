"""Tracked-link queries: the ask or broadcast post a token belongs to, and counting a click."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.storage.dialect import dialect_name
from bot.storage.donations import DONOR_COLUMNS, Donor, read_donor
from bot.storage.models import Ask, BroadcastPost, Campaign, Click, Supporter, known_reached
from bot.storage.supporters import add_interactions
from bot.storage.tables import CLICK

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


# Built once: this runs for every group of taps and of gifts, and building it per call cost
# more CPU (SQLAlchemy's coercions and cache key) than running it.
_ASKS_BY_TOKEN = (
    select(
        col(Ask.token),
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
    .where(col(Ask.token).in_(bindparam("tokens", expanding=True)))
)
_POSTS_BY_TOKEN = (
    select(
        col(BroadcastPost.token),
        col(BroadcastPost.id),
        col(BroadcastPost.campaign_id),
        col(Campaign.name),
        col(Campaign.spec_yaml),
    )
    .join(Campaign, col(Campaign.id) == col(BroadcastPost.campaign_id))
    .where(col(BroadcastPost.token).in_(bindparam("tokens", expanding=True)))
)


async def find_link_targets(
    *, session: AsyncSession, tokens: Collection[str]
) -> dict[str, LinkTarget]:
    """Find the ask, else the broadcast post, that carries each token (unknown ones left out)."""
    wanted = sorted(set(tokens))
    if not wanted:
        return {}
    found: dict[str, LinkTarget] = {}
    for ask in await session.execute(_ASKS_BY_TOKEN, {"tokens": wanted}):
        arm, step, state = ask[-3:]
        forgotten = ask[5 + len(DONOR_COLUMNS)] is not None
        found[ask[0]] = LinkTarget(
            ask[0],
            ask[1],
            None,
            ask[2],
            ask[3],
            ask[4],
            None if forgotten else read_donor(ask, 5),
            arm=arm,
            reached=known_reached(step, state),
            forgotten=forgotten,
        )
    rest = [token for token in wanted if token not in found]
    if rest:
        for post in await session.execute(_POSTS_BY_TOKEN, {"tokens": rest}):
            found[post[0]] = LinkTarget(post[0], None, post[1], post[2], post[3], post[4])
    return found


async def find_link_target(*, session: AsyncSession, token: str) -> LinkTarget | None:
    """Find the ask, else the broadcast post, that carries a token."""
    return (await find_link_targets(session=session, tokens=[token])).get(token)


@dataclass(frozen=True)
class Tap:
    """One tap on a tracked link to be counted: where, when, and which reader."""

    target: LinkTarget
    clicked_at: datetime
    user_agent: str | None
    client: str | None = None


async def _lock_tokens(session: AsyncSession, tokens: list[str]) -> None:
    """Serialise clicks on the same tokens across transactions (PostgreSQL only).

    Locked in sorted order in one statement, so two batches never wait on each other in a
    circle.
    """
    await session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(hashtext(t))) "
            "FROM (SELECT t FROM unnest(CAST(:tokens AS text[])) AS u(t) ORDER BY t) AS s"
        ),
        {"tokens": tokens},
    )


async def _latest_clicks(
    session: AsyncSession, tokens: list[str], since: datetime
) -> dict[tuple[str, str | None], datetime]:
    """Return the latest stored click after `since` per token and reader."""
    rows = await session.execute(
        select(col(Click.token), col(Click.client), func.max(col(Click.clicked_at)))
        .where(col(Click.token).in_(tokens), col(Click.clicked_at) > since)
        .group_by(col(Click.token), col(Click.client))
    )
    return {(row[0], row[1]): row[2] for row in rows}


def _counted_taps(
    taps: Sequence[Tap], latest: dict[tuple[str, str | None], datetime], dedup: timedelta
) -> list[bool]:
    """Decide in order which taps count: none repeats a counted one within `dedup`.

    An ask's link belongs to one supporter, so any earlier tap on its token within `dedup`
    makes a repeat; a post's link is shared, so only the same reader's.
    """
    if dedup <= timedelta(0):
        return [True for _ in taps]
    by_token: dict[str, datetime] = {}
    for (token, _client), moment in latest.items():
        if token not in by_token or moment > by_token[token]:
            by_token[token] = moment
    by_reader = dict(latest)
    counted = []
    for tap in taps:
        token = tap.target.token
        reader = (token, tap.client)
        last = by_reader.get(reader) if tap.target.post_id is not None else by_token.get(token)
        count = last is None or last <= tap.clicked_at - dedup
        counted.append(count)
        if count:
            by_token[token] = max(by_token.get(token, tap.clicked_at), tap.clicked_at)
            by_reader[reader] = max(by_reader.get(reader, tap.clicked_at), tap.clicked_at)
    return counted


async def record_clicks(
    *, session: AsyncSession, taps: Sequence[Tap], dedup: timedelta
) -> list[bool]:
    """Insert the taps that do not repeat a counted one within `dedup`; tell which counted.

    One statement of each kind for the whole group, in the caller's transaction: a burst of
    taps costs a few round trips instead of a few per tap.
    """
    if not taps:
        return []
    tokens = sorted({tap.target.token for tap in taps})
    if dialect_name(session) == "postgresql":
        await _lock_tokens(session, tokens)
    latest: dict[tuple[str, str | None], datetime] = {}
    if dedup > timedelta(0):
        earliest = min(tap.clicked_at for tap in taps) - dedup
        latest = await _latest_clicks(session, tokens, earliest)
    counted = _counted_taps(taps, latest, dedup)
    rows = [tap for tap, count in zip(taps, counted, strict=True) if count]
    if not rows:
        return counted
    await session.execute(
        insert(CLICK),
        [
            {
                "token": tap.target.token,
                "ask_id": tap.target.ask_id,
                "post_id": tap.target.post_id,
                "campaign_id": tap.target.campaign_id,
                "supporter_id": tap.target.supporter_id,
                "clicked_at": tap.clicked_at,
                "user_agent": (tap.user_agent or "")[:300] or None,
                "client": tap.client,
                "arm": tap.target.arm,
                "reached": tap.target.reached,
            }
            for tap in rows
        ],
    )
    await add_interactions(
        session=session,
        kind=CLICK_INTERACTION,
        source="link",
        events=[
            (tap.target.supporter_id, tap.clicked_at, tap.target.campaign_name)
            for tap in rows
            if tap.target.supporter_id is not None
        ],
    )
    return counted


async def record_click(
    *,
    session: AsyncSession,
    target: LinkTarget,
    clicked_at: datetime,
    user_agent: str | None,
    dedup: timedelta,
    client: str | None = None,
) -> bool:
    """Insert a click unless it repeats one within `dedup`; tell whether it counted."""
    tap = Tap(target, clicked_at, user_agent, client)
    [counted] = await record_clicks(session=session, taps=[tap], dedup=dedup)
    return counted
