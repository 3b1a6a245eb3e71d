"""The report's funnel queries: asks per arm and segment, opt-outs, replies and clicks.

A "member" is a supporter's first ask of a campaign (step "ask", one per supporter by the
unique constraint): it fixes their arm, segment and whether they were reached. Replies, clicks
and gifts that came from a follow-up belong to the same member. Follow-ups only go to members
whose first ask was sent, so an event on a follow-up is always from a reached member.

Every query groups in the database and is shaped for SQLite as much as for PostgreSQL: SQLite
sorts for every GROUP BY that no index orders, and both pay a B-tree descent for every row
looked up. So the million-ask pass reads one covering index in order, replies and clicks carry
their ask's arm and reach (looked up only where those are not settled), and gifts look up
their member's first ask by primary key (bot.storage.report_gifts, whose queries are also
importable from here, where the report reads them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
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
from sqlalchemy.sql.selectable import NamedFromClause
from sqlmodel import col

from bot.storage import tables
from bot.storage.dialect import dialect_name
from bot.storage.models import FIRST_STEP, SENT, Campaign
from bot.storage.report_gifts import member_gifts, post_rows, post_timeline, read_hour
from bot.storage.report_rows import AskCount, Engagement

__all__ = [
    "POSITIVE",
    "ask_counts",
    "click_counts",
    "find_campaign",
    "member_gifts",
    "opt_out_counts",
    "post_rows",
    "post_timeline",
    "read_hour",
    "reply_counts",
    "tune_for_report",
]

POSITIVE = "positive"
SQLITE_MMAP_BYTES = 1 << 30


_ask = tables.ASK
_supporter = tables.SUPPORTER
_reply = tables.REPLY
_click = tables.CLICK


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
