"""The report's aggregate queries: asks per arm and segment, replies, clicks, gifts and posts.

A "member" is a supporter's first ask of a campaign (step "ask", one per supporter by the
unique constraint): it fixes their arm, segment and whether they were reached. Replies, clicks
and gifts that came from a follow-up belong to the same member. Follow-ups only go to members
whose first ask was sent, so an event on a follow-up is always from a reached member.

Every query groups in the database and is shaped for SQLite as much as for PostgreSQL: SQLite
sorts for every GROUP BY that no index orders, and both pay a B-tree descent for every row
looked up. So the million-ask pass reads one covering index in order, replies and clicks carry
their ask's arm and reach (looked up only where those are not settled), and gifts look up
their member's first ask by primary key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import NamedFromClause, Select
from sqlmodel import col

from bot.storage import tables
from bot.storage.dialect import dialect_name, driver_connection
from bot.storage.models import FIRST_STEP, SENT, Campaign
from bot.storage.report_rows import AskCount, Engagement, GiftPoint, MemberGifts, PostRow

POSITIVE = "positive"
SQLITE_MMAP_BYTES = 1 << 30


_ask = tables.ASK
_supporter = tables.SUPPORTER
_reply = tables.REPLY
_click = tables.CLICK
_donation = tables.DONATION
_post = tables.POST


def _aware(value: datetime | None) -> datetime | None:
    """Read a datetime from a raw Core row as aware UTC (SQLite returns it naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """Give end - start in seconds, computed by the database."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _hour(dialect: str, moment: Any) -> ColumnElement[Any]:
    """Truncate a stored UTC moment to its hour (as "YYYY-MM-DD HH" text on SQLite)."""
    if dialect == "sqlite":
        # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"; cutting the text is far cheaper than
        # strftime on tens of thousands of rows.
        return func.substr(moment, 1, 13)
    return func.date_trunc("hour", func.timezone("UTC", moment))


def read_hour(value: datetime | str) -> datetime:
    """Turn a truncated hour from a query into an aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def tune_for_report(*, session: AsyncSession) -> None:
    """Set up this session for a handful of large read-only aggregates.

    PostgreSQL (for this transaction only): enough memory that sorts and aggregates stay off
    disk, no JIT compilation (it costs more than it saves here), and joins from events to
    asks by index lookup: the planner would otherwise hash the whole ask table (a million rows,
    several times over) to match tens of thousands of clicks or gifts, which measured 2-3
    times slower. SQLite: read the file through a memory map (for this pooled connection),
    which makes random lookups about a third cheaper.
    """
    dialect = dialect_name(session)
    if dialect == "postgresql":
        for setting in (
            "work_mem = '64MB'",
            "jit = off",
            "random_page_cost = 1.1",
            "enable_hashjoin = off",
            "enable_mergejoin = off",
        ):
            await session.execute(text(f"SET LOCAL {setting}"))
    elif dialect == "sqlite":
        await session.execute(text(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}"))


async def find_campaign(*, session: AsyncSession, name: str) -> Campaign | None:
    """Return the campaign row called name, or None."""
    result = await session.execute(select(Campaign).where(col(Campaign.name) == name))
    return result.scalar_one_or_none()


async def ask_counts(*, session: AsyncSession, campaign_id: int) -> list[AskCount]:
    """Count a campaign's asks by step, arm, state, rule, language, source and failure."""
    a = _ask.c
    keys = (a.step, a.arm, a.state, a.rule, a.language, a.source, a.failure_reason)
    # ix_ask_report holds exactly these columns in this order: no table reads and no sort.
    stmt = select(*keys, func.count()).where(a.campaign_id == campaign_id).group_by(*keys)
    return [AskCount(*row) for row in (await session.execute(stmt)).tuples()]


async def opt_out_counts(
    *, session: AsyncSession, campaign_id: int, since: datetime
) -> dict[str, int]:
    """Count, per arm, members whose first ask was sent and who opted out since a moment."""
    a = _ask.c
    opted = select(_supporter.c.id).where(_supporter.c.opted_out_at >= since)
    # Driven by the few who opted out, not by a lookup for each of a million members.
    stmt = (
        select(a.arm, func.count())
        .where(
            a.campaign_id == campaign_id,
            a.step == FIRST_STEP,
            a.state == SENT,
            a.supporter_id.in_(opted),
        )
        .group_by(a.arm)
    )
    return {arm: int(n) for arm, n in (await session.execute(stmt)).tuples()}


def _reached(ask: NamedFromClause) -> ColumnElement[bool]:
    """The rule of known_reached() in SQL: a follow-up, or a sent first ask."""
    return or_(ask.c.step != FIRST_STEP, ask.c.state == SENT)


def _event_columns(event: NamedFromClause) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """Give a reply's or click's arm and whether its member was reached.

    Both come from the event's own copies (see the note above models.Reply). Only a row whose
    copy is missing or says "not reached" is checked against its ask: CASE and COALESCE
    evaluate the lookup only then, so a report does not look up every event.
    """
    ask = _ask.alias("own")
    own = ask.c.id == event.c.ask_id
    arm = func.coalesce(event.c.arm, select(ask.c.arm).where(own).scalar_subquery())
    reached = case((event.c.reached, true()), else_=exists().where(own, _reached(ask)))
    return arm, reached


async def reply_counts(*, session: AsyncSession, campaign_id: int) -> list[Engagement]:
    """Count members who replied (reached, and positively), per arm.

    Each reply names the ask it answers, which gives its arm; the member is the supporter who
    replied, who is the one the ask went to.
    """
    r = _reply.c
    return await _engagement_counts(
        session,
        _reply,
        and_(r.campaign_id == campaign_id, r.direction == "in"),
        positive=r.classification == POSITIVE,
    )


async def click_counts(*, session: AsyncSession, campaign_id: int) -> list[Engagement]:
    """Count members who clicked the tracked link of one of their asks (and reached), per arm."""
    return await _engagement_counts(session, _click, _click.c.campaign_id == campaign_id)


async def _engagement_counts(
    session: AsyncSession,
    table: NamedFromClause,
    where: ColumnElement[bool],
    *,
    positive: ColumnElement[bool] | None = None,
) -> list[Engagement]:
    """Count, per arm, the members behind a campaign's replies or clicks on its asks."""
    arm, reached = _event_columns(table)
    events = (
        select(
            arm.label("arm"),
            table.c.supporter_id.label("member"),
            reached.label("reached"),
            (positive if positive is not None else literal(False)).label("positive"),
        )
        .where(where, table.c.ask_id.is_not(None))
        .subquery("events")
    )
    e = events.c
    stmt = select(
        e.arm,
        func.count(case((e.reached, e.member)).distinct()),
        func.count(case((not_(e.reached), e.member)).distinct()),
        func.count(case((and_(e.reached, e.positive), e.member)).distinct()),
        func.count(),
    ).group_by(e.arm)
    return _engagement(await session.execute(stmt))


def _engagement(result: Any) -> list[Engagement]:
    # A member is reached or not (follow-ups only go to reached members), never both, so the
    # two distinct counts add up; counting "not reached" apart keeps the big distinct count
    # to one, which is most of the query's cost on SQLite.
    return [
        Engagement(arm, int(reached) + int(other), int(reached), int(positive), int(events))
        for arm, reached, other, positive, events in result.tuples()
    ]


async def member_gifts(
    *, session: AsyncSession, campaign_id: int, start: datetime, end: datetime
) -> list[MemberGifts]:
    """Give each gift of the campaign's members: credited to the campaign, or in [start, end].

    A gift belongs to the supporter its link was sent to (so a gift through a forwarded link
    counts for the member who forwarded it), else to the supporter who gave it. Credited: to
    one of the campaign's asks or to the campaign by supporter, not to a post. In period:
    anything given in [start, end], however credited; it is how a holdout (never sent a
    token) is measured, and every arm gets the same figure so that they can be compared with
    the holdout like for like.
    """
    dialect = dialect_name(session)
    d = _donation.alias("d")
    gift = _GiftColumns(
        donation=d,
        credited=and_(d.c.campaign_id == campaign_id, d.c.post_id.is_(None)),
        in_period=and_(d.c.donated_at >= start, d.c.donated_at <= end),
        dialect=dialect,
    )
    if dialect == "postgresql":
        stmt = _gifts_pg(gift, campaign_id)
    else:
        stmt = _gifts_sqlite(gift, campaign_id)
    # One row per gift, not per member, currency and hour: most donors give once, so grouping
    # merged few rows, and it took a quarter of the query's time on both databases. Rows are
    # built straight from the fetched tuples: per-row conversions would cost more than the
    # query on a campaign with tens of thousands of donors.
    return [MemberGifts._make(row) for row in await _all_rows(session, stmt)]


# What a gift's row gives of its member's first ask, in MemberGifts order, then sent_at.
_MEMBER_COLUMNS = ("arm", "supporter_id", "state", "rule", "language", "source", "sent_at")


@dataclass(frozen=True)
class _GiftColumns:
    """What member_gifts reads from each gift, whichever shape its query takes."""

    donation: NamedFromClause
    credited: ColumnElement[bool]
    in_period: ColumnElement[bool]
    dialect: str

    def row(self, member: Mapping[str, ColumnElement[Any]]) -> tuple[ColumnElement[Any], ...]:
        """Give the columns of MemberGifts for one gift, given its member's first ask."""
        d = self.donation.c

        def amount(when: ColumnElement[bool]) -> ColumnElement[int]:
            return case((when, d.amount_minor), else_=0)

        def one(when: ColumnElement[bool]) -> ColumnElement[int]:
            return case((when, 1), else_=0)

        credited_at = case((self.credited, d.donated_at))
        delay = _seconds_between(self.dialect, member["sent_at"], credited_at)
        return (
            *(member[name] for name in _MEMBER_COLUMNS[:-1]),
            d.currency,
            _hour(self.dialect, d.donated_at),
            amount(self.credited),
            one(self.credited),
            cast(delay, Float),
            amount(self.in_period),
            one(self.in_period),
        )


def _gifts_sqlite(gift: _GiftColumns, campaign_id: int) -> Select[Any]:
    """Build member_gifts for SQLite: each gift's own ask, then its member's first ask.

    Two B-tree descents per gift (the second by the unique campaign, supporter and step
    index). SQLite has no LATERAL to skip the second as PostgreSQL does.
    """
    d = gift.donation
    named = _ask.alias("named")
    mc = _ask.alias("mc")
    joined = d.outerjoin(named, named.c.id == d.c.ask_id).join(
        mc,
        and_(
            mc.c.campaign_id == campaign_id,
            mc.c.step == FIRST_STEP,
            mc.c.supporter_id == func.coalesce(named.c.supporter_id, d.c.supporter_id),
        ),
    )
    return (
        select(*gift.row({name: mc.c[name] for name in _MEMBER_COLUMNS}))
        .select_from(joined)
        .where(or_(gift.credited, gift.in_period))
    )


def _gifts_pg(gift: _GiftColumns, campaign_id: int) -> Select[Any]:
    """Build member_gifts for PostgreSQL: most gifts find their member with one lookup.

    A gift through a member's own first ask has its member in that ask. Only the others (a
    follow-up's link, a gift credited by supporter, another campaign's link) look the member
    up by supporter, in a LATERAL subquery gated on the first lookup having found nothing;
    OFFSET 0 keeps PostgreSQL from flattening it, which would turn the gate into a filter
    applied after every lookup.
    """
    d = gift.donation
    named = _ask.alias("named")
    other = _ask.alias("other")
    mc = _ask.alias("mc")
    own = and_(
        named.c.id == d.c.ask_id,
        named.c.campaign_id == campaign_id,
        named.c.step == FIRST_STEP,
        named.c.supporter_id.is_not(None),
    )
    sent_to = (
        select(other.c.supporter_id)
        .where(other.c.id == d.c.ask_id)
        .scalar_subquery()
        .correlate_except(other)
    )
    columns = ("id", *_MEMBER_COLUMNS)
    looked_up = (
        select(*(mc.c[name] for name in columns))
        .where(
            named.c.id.is_(None),
            mc.c.campaign_id == campaign_id,
            mc.c.step == FIRST_STEP,
            mc.c.supporter_id == func.coalesce(sent_to, d.c.supporter_id),
        )
        .offset(0)
        .lateral("looked_up")
    )
    member = {name: func.coalesce(named.c[name], looked_up.c[name]) for name in columns}
    return (
        select(*gift.row(member))
        .select_from(d.outerjoin(named, own).outerjoin(looked_up, true()))
        .where(or_(gift.credited, gift.in_period), member["id"].is_not(None))
    )


async def _all_rows(session: AsyncSession, stmt: Select[Any]) -> Sequence[Sequence[Any]]:
    """Fetch every row of a large result as plain sequences, straight from the driver.

    asyncpg's records and sqlite3's tuples already hold the Python values SQLAlchemy would
    give for these columns (numbers, text, PostgreSQL's timestamps); skipping SQLAlchemy's
    result layer saves about a tenth of a second on 50,000 rows. Parameters still go through
    their types' bind processing, so a datetime is stored text on SQLite as always.
    """
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect)
    params = []
    for name in compiled.positiontup or ():
        value = compiled.params[name]
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        params.append(process(value) if process is not None else value)
    raw = await driver_connection(session)
    if dialect.name == "postgresql":
        records: Sequence[Sequence[Any]] = await raw.fetch(str(compiled), *params)
        return records
    cursor = await raw.execute(str(compiled), params)
    try:
        rows: Sequence[Sequence[Any]] = await cursor.fetchall()
    finally:
        await cursor.close()
    return rows


async def post_timeline(*, session: AsyncSession, campaign_id: int) -> dict[str, list[GiftPoint]]:
    """Sum the gifts credited to each of a campaign's posts per hour, for each currency."""
    d = _donation.c
    hour = _hour(dialect_name(session), d.donated_at).label("gift_hour")
    stmt = (
        select(d.currency, d.post_id, hour, func.sum(d.amount_minor), func.count())
        .where(d.post_id.in_(select(_post.c.id).where(_post.c.campaign_id == campaign_id)))
        .group_by(d.currency, d.post_id, "gift_hour")
    )
    points: dict[str, list[GiftPoint]] = {}
    for currency, post_id, when, total, n in (await session.execute(stmt)).tuples():
        point = GiftPoint(f"post:{post_id}", read_hour(when), int(total), int(n))
        points.setdefault(currency, []).append(point)
    return points


async def post_rows(*, session: AsyncSession, campaign_id: int) -> list[PostRow]:
    """Give each broadcast post of a campaign with its clicks and the gifts credited to it."""
    p = _post.c
    posts = (
        await session.execute(
            select(p.id, p.chat, p.state, p.sent_at, p.reach)
            .where(p.campaign_id == campaign_id)
            .order_by(p.id)
        )
    ).all()
    if not posts:
        return []
    ids = [post.id for post in posts]
    k, d = _click.c, _donation.c
    clicks = dict(
        (
            await session.execute(
                select(k.post_id, func.count()).where(k.post_id.in_(ids)).group_by(k.post_id)
            )
        )
        .tuples()
        .all()
    )
    # A gift without a known supporter is its own donor: it cannot be matched to another.
    anonymous = func.sum(case((d.supporter_id.is_(None), 1), else_=0))
    donors = dict(
        (
            await session.execute(
                select(d.post_id, func.count(d.supporter_id.distinct()) + anonymous)
                .where(d.post_id.in_(ids))
                .group_by(d.post_id)
            )
        )
        .tuples()
        .all()
    )
    money = (
        await session.execute(
            select(d.post_id, d.currency, func.count(), func.sum(d.amount_minor))
            .where(d.post_id.in_(ids))
            .group_by(d.post_id, d.currency)
        )
    ).tuples()
    gifts: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    for post_id, currency, n, total in money:
        gifts[post_id] = gifts.get(post_id, 0) + int(n)
        amounts.setdefault(post_id, {})[currency] = int(total)
    return [
        PostRow(
            id=post.id,
            chat=post.chat,
            state=post.state,
            sent_at=_aware(post.sent_at),
            reach=post.reach,
            clicks=int(clicks.get(post.id, 0)),
            donors=int(donors.get(post.id, 0)),
            gifts=gifts.get(post.id, 0),
            amounts=dict(sorted(amounts.get(post.id, {}).items())),
        )
        for post in posts
    ]
