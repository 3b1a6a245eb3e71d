"""Select a campaign's audience in the database with one query, streamed in batches.

The rules mean what bot/domain/audience.py says; this module writes them as EXISTS and
grouped subqueries over interaction, donation and supporter_tag, adds reachability, the
frequency cap and "not asked in this campaign yet", and orders and limits the result.
A limited audience (up to PROBE_UP_TO) is found by probing each supporter's history in
order; a larger one by one grouped pass over the history that also yields the label;
counting uses one EXISTS per table, which PostgreSQL runs as a semi-join.

Frequency cap: an EXISTS over ``ask`` (index ix_ask_supporter_sent) rather than
Supporter.last_asked_at, so it is right whatever the delivery code updates: a supporter is
left out when any ask to them was sent within the cap, or a pending or sending ask of
another running campaign is due within it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import audience as rules
from bot.domain.campaign_state import RUNNING
from bot.domain.spec import Audience, Campaign, Rule
from bot.storage.dialect import dialect_name
from bot.storage.flags import active_flag
from bot.storage.influence import influence_expression
from bot.storage.models import PENDING, SENDING
from bot.storage.tables import (
    ASK,
    CAMPAIGN,
    COMMUNITY_MESSAGE,
    DONATION,
    FLAG,
    INTERACTION,
    SUPPORTER,
    TAG,
)

# How recently a member must have written in a community chat to get a public reply
# (Settings.group_reply_recent_days overrides it).
RECENT_DEFAULT = timedelta(days=90)


class AudienceRow(NamedTuple):
    """One selected supporter: who, which rule let them in, and how to reach them."""

    supporter_id: int
    rule: str
    language: str
    chat_id: int | None
    timezone: str | None
    source: str | None


def _int(value: int) -> ColumnElement[int]:
    # Inlined so PostgreSQL sees 64-bit constants and plans with the real numbers.
    return literal_column(str(int(value)), BigInteger)


def _milli_amount() -> ColumnElement[int]:
    """Return a gift's amount in thousandths of its currency's major unit."""
    factor = case(
        *[(DONATION.c.currency == code, f) for code, f in sorted(rules.UNUSUAL_FACTORS.items())],
        else_=rules.MILLI // 100,
    )
    return cast(DONATION.c.amount_minor, BigInteger) * factor


def _interaction_filter(rule: Rule, *, now: datetime, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    i = INTERACTION.c
    conditions: list[ColumnElement[bool]] = [i.kind == rule.interaction]
    if rule.detail is not None:
        if rule.detail_is_glob:
            pattern = rule.detail_like() or ""
            conditions.append(func.lower(i.detail).like(func.lower(pattern), escape="\\"))
        else:
            conditions.append(func.lower(i.detail) == func.lower(rule.detail))
    if rule.sentiment is not None:
        conditions.append(i.sentiment == rule.sentiment)
    if rule.since is not None:
        conditions.append(i.occurred_at >= rules.day_start(rule.since, zone))
    if rule.before is not None:
        conditions.append(i.occurred_at < rules.day_start(rule.before, zone))
    if rule.within is not None:
        conditions.append(i.occurred_at >= now - rule.within)
    return conditions


def _gift_filter(rule: Rule, *, now: datetime) -> list[ColumnElement[bool]]:
    assert rule.donated_within is not None
    conditions = [DONATION.c.donated_at >= now - rule.donated_within]
    if rule.min_amount:
        conditions.append(_milli_amount() >= _int(rule.min_amount * rules.MILLI))
    return conditions


def rule_condition(rule: Rule, *, now: datetime, zone: ZoneInfo) -> ColumnElement[bool]:
    """Return the SQL condition, over the supporter table, that one rule holds."""
    sid = SUPPORTER.c.id
    if rule.interaction is not None:
        conditions = _interaction_filter(rule, now=now, zone=zone)
        if rule.min_count == 1:
            return exists().where(INTERACTION.c.supporter_id == sid, *conditions)
        frequent = (
            select(INTERACTION.c.supporter_id)
            .where(*conditions)
            .group_by(INTERACTION.c.supporter_id)
            .having(func.count() >= rule.min_count)
        )
        return sid.in_(frequent)
    if rule.donated is not None:
        gave = exists().where(DONATION.c.supporter_id == sid)
        return gave if rule.donated else not_(gave)
    if rule.donated_within is not None:
        return exists().where(DONATION.c.supporter_id == sid, *_gift_filter(rule, now=now))
    if rule.gave_at_least is not None:
        generous = (
            select(DONATION.c.supporter_id)
            .where(DONATION.c.supporter_id.is_not(None))
            .group_by(DONATION.c.supporter_id)
            .having(func.sum(_milli_amount()) >= _int(rule.gave_at_least * rules.MILLI))
        )
        return sid.in_(generous)
    if rule.tag is not None:
        return exists().where(TAG.c.supporter_id == sid, TAG.c.tag == rule.tag)
    if rule.influence_at_least is not None:
        return influence_expression() >= _int(rule.influence_at_least)
    return SUPPORTER.c.language == rule.language


def any_condition(rules: Sequence[Rule], *, now: datetime, zone: ZoneInfo) -> ColumnElement[bool]:
    """Return the SQL condition that at least one rule holds.

    Rules over the same table share one EXISTS with their conditions OR-ed, which the
    planner can run as one semi-join (or one probe per supporter) instead of one per rule.
    """
    sid = SUPPORTER.c.id
    seen: list[ColumnElement[bool]] = []
    gave: list[ColumnElement[bool]] = []
    tags: list[str] = []
    others: list[ColumnElement[bool]] = []
    for rule in rules:
        if rule.interaction is not None and rule.min_count == 1:
            seen.append(and_(*_interaction_filter(rule, now=now, zone=zone)))
        elif rule.donated_within is not None:
            gave.append(and_(*_gift_filter(rule, now=now)))
        elif rule.donated is True:
            gave.append(true())
        elif rule.tag is not None:
            tags.append(rule.tag)
        else:
            others.append(rule_condition(rule, now=now, zone=zone))
    parts = list(others)
    if seen:
        parts.append(exists().where(INTERACTION.c.supporter_id == sid, or_(*seen)))
    if gave:
        parts.append(exists().where(DONATION.c.supporter_id == sid, or_(*gave)))
    if tags:
        parts.append(exists().where(TAG.c.supporter_id == sid, TAG.c.tag.in_(tags)))
    return or_(*parts)


def _reachable(
    ways: Collection[str], *, now: datetime, recent: timedelta
) -> list[ColumnElement[bool]]:
    """Who every one of these ways can reach: private asks need a private chat and consent,
    public replies a message of theirs in a community chat within `recent`."""
    s = SUPPORTER.c
    where: list[ColumnElement[bool]] = [
        s.opted_out_at.is_(None),
        s.blocked_at.is_(None),
        s.forgotten_at.is_(None),
    ]
    if "private" in ways or not ways:
        where += [s.chat_id.is_not(None), s.consented_at.is_not(None)]
    if "group_reply" in ways:
        m = COMMUNITY_MESSAGE.c
        where.append(
            exists().where(
                m.author_id == s.id, m.sent_at >= now - recent, s.telegram_user_id.is_not(None)
            )
        )
    return where


def _not_recently_asked(
    campaign_name: str, *, now: datetime, cap: timedelta | None
) -> ColumnElement[bool]:
    this_campaign = select(CAMPAIGN.c.id).where(CAMPAIGN.c.name == campaign_name).scalar_subquery()
    blocking: list[ColumnElement[bool]] = [ASK.c.campaign_id == this_campaign]
    if cap:
        cutoff = now - cap
        running = select(CAMPAIGN.c.id).where(CAMPAIGN.c.state == RUNNING)
        blocking.append(ASK.c.sent_at >= cutoff)
        blocking.append(
            and_(
                ASK.c.state.in_([PENDING, SENDING]),
                ASK.c.due_at >= cutoff,
                ASK.c.campaign_id.in_(running),
            )
        )
    return not_(exists().where(ASK.c.supporter_id == SUPPORTER.c.id, or_(*blocking)))


def _label(audience: Audience, *, now: datetime, zone: ZoneInfo) -> ColumnElement[str]:
    if not audience.any:
        return literal(rules.fallback_label(audience))
    labels = [rules.group_label("any", i, rule) for i, rule in enumerate(audience.any)]
    if len(labels) == 1:
        return literal(labels[0])
    # The WHERE clause guarantees one `any` rule holds, so the last needs no test.
    whens = [
        (rule_condition(rule, now=now, zone=zone), label)
        for rule, label in zip(audience.any[:-1], labels[:-1], strict=True)
    ]
    return case(*whens, else_=literal(labels[-1]))


def _order(campaign: Campaign) -> list[ColumnElement[Any]]:
    s = SUPPORTER.c
    order = campaign.audience.order_by
    if order == "engagement":
        return [s.engagement_score.desc(), s.id]
    if order == "recency":
        return [s.last_interaction_at.desc().nulls_last(), s.id]
    if order == "rfm":
        return [s.rfm_score.desc(), s.engagement_score.desc(), s.id]
    if order == "influence":
        return [influence_expression().desc(), s.engagement_score.desc(), s.id]
    seed = rules.seed_for(campaign.audience, campaign.name)
    s1, s2 = seed % rules.RANDOM_M1, (seed * 7919) % rules.RANDOM_M2
    h1 = (cast(s.id, BigInteger) * _int(rules.RANDOM_A1) + _int(s1)) % _int(rules.RANDOM_M1)
    return [(h1 * _int(rules.RANDOM_A2) + _int(s2)) % _int(rules.RANDOM_M2), s.id]


def effective_cap(campaign: Campaign, cap: timedelta | None) -> timedelta | None:
    """Return the campaign's own frequency cap, else the organisation's."""
    return campaign.frequency_cap if campaign.frequency_cap is not None else cap


# A limited audience is found fastest by walking supporters in order and probing each one's
# history (EXISTS); a large one by a single pass over the history, grouped per supporter.
PROBE_UP_TO = 20_000


def _first_rule(any_rules: Sequence[Rule], *, now: datetime, zone: ZoneInfo) -> Any:
    """Return a subquery of (supporter_id, first): the index of the first `any` rule held."""
    seen: list[tuple[int, ColumnElement[bool]]] = []
    gave: list[tuple[int, ColumnElement[bool]]] = []
    tags: list[tuple[int, str]] = []
    branches: list[Select[Any]] = []
    for index, rule in enumerate(any_rules):
        if rule.interaction is not None and rule.min_count == 1:
            seen.append((index, and_(*_interaction_filter(rule, now=now, zone=zone))))
        elif rule.donated_within is not None:
            gave.append((index, and_(*_gift_filter(rule, now=now))))
        elif rule.donated is True:
            gave.append((index, true()))
        elif rule.tag is not None:
            tags.append((index, rule.tag))
        else:
            condition = rule_condition(rule, now=now, zone=zone)
            branches.append(
                select(SUPPORTER.c.id.label("sid"), _int(index).label("idx")).where(condition)
            )

    def branch(table: Any, pairs: list[tuple[int, ColumnElement[bool]]]) -> Select[Any]:
        index = case(*[(condition, _int(i)) for i, condition in pairs])
        return select(table.c.supporter_id.label("sid"), index.label("idx")).where(
            table.c.supporter_id.is_not(None), or_(*(condition for _, condition in pairs))
        )

    if seen:
        branches.append(branch(INTERACTION, seen))
    if gave:
        branches.append(branch(DONATION, gave))
    if tags:
        branches.append(branch(TAG, [(i, TAG.c.tag == tag) for i, tag in tags]))
    held = branches[0].subquery() if len(branches) == 1 else union_all(*branches).subquery()
    return (
        select(held.c.sid.label("supporter_id"), func.min(held.c.idx).label("first"))
        .group_by(held.c.sid)
        .subquery("first_rule")
    )


def _selection(
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: ZoneInfo,
    labelled: bool = True,
    recent: timedelta = RECENT_DEFAULT,
    ways: Collection[str] | None = None,
) -> tuple[Any, list[ColumnElement[bool]], ColumnElement[str]]:
    """Return (FROM clause, WHERE conditions, rule label) of the audience.

    Without a label (counting) the `any` rules are one EXISTS per table, which the planner
    runs as a semi-join; with one, a large audience gets the grouped first-rule join.
    """
    audience = campaign.audience
    where = _reachable(campaign.ways() if ways is None else ways, now=now, recent=recent)
    if not audience.include_flagged:
        where.append(not_(active_flag()))
    source: Any = SUPPORTER
    labels = [rules.group_label("any", i, rule) for i, rule in enumerate(audience.any)]
    if not audience.any:
        label: ColumnElement[str] = literal(rules.fallback_label(audience))
    elif not labelled or (audience.limit is not None and audience.limit <= PROBE_UP_TO):
        where.append(any_condition(audience.any, now=now, zone=zone))
        label = _label(audience, now=now, zone=zone)
    else:
        first = _first_rule(audience.any, now=now, zone=zone)
        source = SUPPORTER.join(first, first.c.supporter_id == SUPPORTER.c.id)
        label = case(*[(first.c.first == i, text) for i, text in enumerate(labels)])
    where += [rule_condition(r, now=now, zone=zone) for r in audience.all]
    if audience.exclude:
        where.append(not_(any_condition(audience.exclude, now=now, zone=zone)))
    where.append(_not_recently_asked(campaign.name, now=now, cap=effective_cap(campaign, cap)))
    return source, where, label


def audience_query(
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
    recent: timedelta = RECENT_DEFAULT,
) -> Select[Any]:
    """Build the one SELECT of (supporter_id, rule, language, chat_id, timezone, source).

    `cap` is the organisation's frequency cap (the campaign's own wins when set); `zone` is
    the organisation's time zone, used for since/before dates when the campaign names none.
    """
    source, where, label = _selection(
        campaign, now=now, cap=cap, zone=campaign.zone(zone or "UTC"), recent=recent
    )
    s = SUPPORTER.c
    query = (
        select(
            s.id.label("supporter_id"),
            label.label("rule"),
            s.language,
            s.chat_id,
            s.timezone,
            s.source,
        )
        .select_from(source)
        .where(*where)
        .order_by(*_order(campaign))
    )
    if campaign.audience.limit is not None:
        query = query.limit(campaign.audience.limit)
    return query


async def _plan_without_jit(session: AsyncSession) -> None:
    """Turn PostgreSQL's JIT off for this transaction.

    The rule subqueries give the audience query a high estimated cost, so PostgreSQL spends
    about a second compiling it; JIT never pays that back on a query this short.
    """
    if dialect_name(session) == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


async def count_audience(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
    recent: timedelta = RECENT_DEFAULT,
    ways: Collection[str] | None = None,
) -> int:
    """Count the audience the campaign would select now (limit included).

    `ways` counts those every one of these ways reaches instead of the campaign's own arms'.
    """
    tz = campaign.zone(zone or "UTC")
    source, where, _ = _selection(
        campaign, now=now, cap=cap, zone=tz, labelled=False, recent=recent, ways=ways
    )
    inner = select(SUPPORTER.c.id).select_from(source).where(*where)
    if campaign.audience.limit is not None:
        # Without ORDER BY the database may stop at any `limit` rows; the count is the same.
        inner = inner.limit(campaign.audience.limit)
    await _plan_without_jit(session)
    total = await session.scalar(select(func.count()).select_from(inner.subquery()))
    return int(total or 0)


async def stream_audience(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
    batch: int = 5000,
) -> AsyncIterator[list[AudienceRow]]:
    """Yield the audience in order, `batch` rows at a time, from a server-side cursor."""
    rows = stream_audience_tuples(session, campaign, now=now, cap=cap, zone=zone, batch=batch)
    async for partition in rows:
        # Rows are tuples in the query's column order; unpacking beats attribute access.
        yield [AudienceRow(*row) for row in partition]


async def count_by_rule(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
    recent: timedelta = RECENT_DEFAULT,
) -> dict[str, int]:
    """Count the audience per matching rule label (limit and order included), largest first."""
    selected = audience_query(campaign, now=now, cap=cap, zone=zone, recent=recent).subquery()
    query = select(selected.c.rule, func.count()).group_by(selected.c.rule)
    await _plan_without_jit(session)
    counts = {rule: int(n) for rule, n in (await session.execute(query)).tuples()}
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


async def stream_audience_tuples(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
    batch: int = 5000,
    recent: timedelta = RECENT_DEFAULT,
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Yield the audience as stream_audience does, each row a plain tuple in AudienceRow order.

    For a launch: at a million rows, an object per row costs about ten seconds.
    """
    query = audience_query(campaign, now=now, cap=cap, zone=zone, recent=recent)
    await _plan_without_jit(session)
    result = await session.stream(query.execution_options(yield_per=batch))
    async for partition in result.partitions(batch):
        yield partition


async def count_flagged_out(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    cap: timedelta | None,
    zone: str | None = None,
) -> tuple[int, dict[str, int]]:
    """Count the flagged supporters the audience leaves out, in all and per reason."""
    if campaign.audience.include_flagged:
        return 0, {}
    widened = campaign.model_copy(
        update={"audience": campaign.audience.model_copy(update={"include_flagged": True})}
    )
    tz = widened.zone(zone or "UTC")
    source, where, _ = _selection(widened, now=now, cap=cap, zone=tz, labelled=False)
    flagged = select(SUPPORTER.c.id).select_from(source).where(*where, active_flag()).subquery()
    await _plan_without_jit(session)
    people = await session.scalar(select(func.count()).select_from(flagged))
    f = FLAG.c
    rows = await session.execute(
        select(f.reason, func.count())
        .where(f.supporter_id.in_(select(flagged.c.id)), f.cleared_at.is_(None))
        .group_by(f.reason)
    )
    reasons = {str(reason): int(n) for reason, n in rows.tuples()}
    return int(people or 0), dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
