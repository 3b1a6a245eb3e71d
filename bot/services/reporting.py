"""Build a campaign's report: funnel per arm and post, segments, and honest statistics."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ruamel.yaml.error import YAMLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import stats
from bot.domain.spec import Campaign
from bot.domain.yaml_lines import read_yaml
from bot.services.report_compare import compare_arms, sample_ratio
from bot.services.report_model import (
    ALPHA,
    HOLDOUT_KIND,
    MIN_PER_ARM,
    ArmReport,
    PostReport,
    Rate,
    Report,
    SegmentReport,
)
from bot.storage import reports as queries
from bot.storage.models import FAILED, FIRST_STEP, PENDING, SENDING, SENT, UNKNOWN

T = TypeVar("T")
SEGMENT_DIMENSIONS = ("rule", "language", "source")


@dataclass
class _ArmTally:
    assigned: int = 0
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed_by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    follow_ups_sent: int = 0
    opted_out: int = 0


@dataclass
class _Gifts:
    donors: set[int] = field(default_factory=set)
    reached_donors: set[int] = field(default_factory=set)
    period_donors: set[int] = field(default_factory=set)
    gifts: int = 0
    gift_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    amounts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reached_amounts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Seconds from the first ask being sent to the first gift, per donor.
    delay: dict[int, float] = field(default_factory=dict)
    # One total per donor in base, per currency: the input of the revenue comparison.
    per_donor: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))


async def build_report(
    sessions: async_sessionmaker[AsyncSession], campaign: Campaign, *, now: datetime
) -> Report:
    """Measure a campaign from the database and compare its arms honestly."""
    async with sessions() as session:
        row = await queries.find_campaign(session=session, name=campaign.name)
        if row is None or row.id is None or row.launched_at is None:
            state = row.state if row is not None else "not in the database"
            return Report(
                name=campaign.name,
                title=campaign.title,
                state=state,
                launched=False,
                generated_at=now,
                notes=(f"Campaign {campaign.name} has not been launched yet ({state}).",),
            )
    launched_at = _utc(row.launched_at) or now
    ended_at = _utc(row.finished_at or row.cancelled_at)
    period_end = now if ended_at is None else min(now, ended_at + campaign.attribution_window)
    cid = row.id
    (groups, opt_outs, posts, post_hours), replies, clicks, gifts = await asyncio.gather(
        _read_asks(sessions, cid, launched_at),
        _read(sessions, queries.reply_counts, campaign_id=cid),
        _read(sessions, queries.click_counts, campaign_id=cid),
        _read(sessions, queries.member_gifts, campaign_id=cid, start=launched_at, end=period_end),
    )
    kinds = _arm_kinds(campaign, groups)
    tallied = _tally_gifts(gifts, kinds)
    main_currency = _main_currency(tallied.gifts_per_currency, posts)
    post_points = post_hours.get(main_currency, []) if main_currency is not None else []
    weights = campaign.weights()
    tallies = _tally_asks(groups, opt_outs)
    per_arm_gifts = tallied.arms
    arms = tuple(
        _arm_report(
            name,
            kinds[name],
            weights.get(name),
            tallies.get(name, _ArmTally()),
            per_arm_gifts.get(name, _Gifts()),
            replies,
            clicks,
        )
        for name in kinds
    )
    donor_totals = {
        name: list(tally.per_donor[main_currency].values())
        for name, tally in per_arm_gifts.items()
        if main_currency is not None
    }
    comparisons, revenue = compare_arms(arms, donor_totals, main_currency, seed=campaign.name)
    return Report(
        name=campaign.name,
        title=campaign.title,
        state=row.state,
        launched=True,
        generated_at=now,
        launched_at=launched_at,
        ended_at=ended_at,
        period_start=launched_at,
        period_end=period_end,
        main_currency=main_currency,
        arms=arms,
        posts=tuple(_post_report(p) for p in posts),
        segments=_segments(groups, tallied.segment_donors, kinds),
        comparisons=comparisons,
        revenue=revenue,
        srm=sample_ratio(arms, weights),
        notes=_notes(arms, posts, main_currency, launched_at, period_end),
        timeline=_timeline(tallied.hours, main_currency, post_points),
    )


async def _read(
    sessions: async_sessionmaker[AsyncSession], query: Callable[..., Awaitable[T]], **kwargs: Any
) -> T:
    """Run one report query in a session of its own, so that independent queries overlap.

    Each runs in its own read transaction; their snapshots differ by the milliseconds between
    them starting, which no figure in a report can show.
    """
    async with sessions() as session:
        await queries.tune_for_report(session=session)
        return await query(session=session, **kwargs)


async def _read_asks(
    sessions: async_sessionmaker[AsyncSession], campaign_id: int, since: datetime
) -> tuple[
    list[queries.AskCount],
    dict[str, int],
    list[queries.PostRow],
    dict[str, list[queries.GiftPoint]],
]:
    async with sessions() as session:
        await queries.tune_for_report(session=session)
        groups = await queries.ask_counts(session=session, campaign_id=campaign_id)
        opt_outs = await queries.opt_out_counts(
            session=session, campaign_id=campaign_id, since=since
        )
        posts = await queries.post_rows(session=session, campaign_id=campaign_id)
        hours = (
            await queries.post_timeline(session=session, campaign_id=campaign_id) if posts else {}
        )
    return groups, opt_outs, posts, hours


async def report_by_name(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    *,
    now: datetime,
    specs: Mapping[str, Campaign],
) -> Report | None:
    """Report a campaign by name, with the spec it launched with; None if it is unknown.

    A launched campaign keeps the copy of its YAML frozen at launch (so the weights compared
    are the ones used); a campaign never launched is reported from its current file.
    """
    async with sessions() as session:
        row = await queries.find_campaign(session=session, name=name)
    spec = specs.get(name)
    if row is not None and row.spec_yaml:
        # The copy written at launch (dump_campaign), read the way the launch reads it back.
        # Should it no longer validate (a spec format change since), the file is the fallback.
        with contextlib.suppress(ValueError, YAMLError):
            spec = Campaign.model_validate(read_yaml(row.spec_yaml)[0])
    if spec is None:
        return None
    return await build_report(sessions, spec, now=now)


def _utc(value: datetime | None) -> datetime | None:
    # Rows read through the ORM are aware already; this only guards a naive value.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _arm_kinds(campaign: Campaign, groups: Iterable[queries.AskCount]) -> dict[str, str]:
    kinds: dict[str, str] = {name: arm.kind for name, arm in campaign.arms.items()}
    # An arm in the database that the spec no longer names is still reported, never dropped.
    for group in groups:
        kinds.setdefault(group.arm, "unknown")
    return kinds


def _tally_asks(
    groups: Iterable[queries.AskCount], opt_outs: dict[str, int]
) -> dict[str, _ArmTally]:
    tallies: dict[str, _ArmTally] = defaultdict(_ArmTally)
    for g in groups:
        tally = tallies[g.arm]
        if g.step != FIRST_STEP:
            if g.state == SENT:
                tally.follow_ups_sent += g.asks
            continue
        tally.assigned += g.asks
        tally.states[g.state] += g.asks
        if g.state == FAILED:
            tally.failed_by_reason[g.failure_reason or "no reason recorded"] += g.asks
    for arm, count in opt_outs.items():
        tallies[arm].opted_out += count
    return tallies


def _in_base(kind: str, state: str) -> bool:
    """Tell whether a member counts in the base of the rates: sent, or any holdout member."""
    return kind == HOLDOUT_KIND or state == SENT


@dataclass
class _GiftTally:
    """What one pass over the (member, currency, hour) gift rows gives the report."""

    arms: dict[str, _Gifts]
    # Gifts per currency, however credited: the main currency is the most common one.
    gifts_per_currency: dict[str, int]
    # (dimension, value, arm) -> donors in base, for the segment table.
    segment_donors: dict[tuple[str, str | None, str], set[int]]
    # (currency, hour, arm) -> [amount, gifts], for the timeline.
    hours: dict[tuple[str, Any, str], list[int]]


def _tally_gifts(rows: Iterable[queries.MemberGifts], kinds: dict[str, str]) -> _GiftTally:
    """Sum the (member, currency, hour) rows per arm, segment and hour, counting each donor once.

    One pass: a big campaign has tens of thousands of these rows, and every pass over them
    in Python shows in the time a report takes.
    """
    tallies: dict[str, _Gifts] = defaultdict(_Gifts)
    per_currency: dict[str, int] = defaultdict(int)
    segment_donors: dict[tuple[str, str | None, str], set[int]] = defaultdict(set)
    hours: dict[tuple[str, Any, str], list[int]] = defaultdict(lambda: [0, 0])
    # Unpacked by position (the fields of MemberGifts, in order): attribute access on tens of
    # thousands of rows costs more than the rest of the loop.
    for (
        arm,
        donor,
        state,
        rule,
        language,
        source,
        currency,
        hour,
        credited_minor,
        credited_gifts,
        seconds_to_first_gift,
        period_minor,
        period_gifts,
    ) in rows:
        t = tallies[arm]
        kind = kinds.get(arm, "")
        holdout = kind == HOLDOUT_KIND
        if period_gifts:
            t.period_donors.add(donor)
        # A holdout had no token to credit, so its gifts are those made in the period.
        gifts = period_gifts if holdout else credited_gifts
        per_currency[currency] += gifts
        if not gifts:
            continue
        amount = period_minor if holdout else credited_minor
        t.donors.add(donor)
        t.gifts += gifts
        t.gift_counts[currency] += gifts
        t.amounts[currency] += amount
        bucket = hours[(currency, hour, arm)]
        bucket[0] += amount
        bucket[1] += gifts
        if not holdout and seconds_to_first_gift is not None:
            # Whole seconds: the database's day fractions carry float noise (430199.99998...).
            delay = float(round(seconds_to_first_gift))
            # Several rows per member (currencies, hours): the first gift is the earliest.
            earlier = t.delay.get(donor)
            t.delay[donor] = delay if earlier is None else min(delay, earlier)
        if _in_base(kind, state):
            t.reached_donors.add(donor)
            t.reached_amounts[currency] += amount
            per_donor = t.per_donor[currency]
            per_donor[donor] = per_donor.get(donor, 0) + amount
            segment_donors[("rule", rule, arm)].add(donor)
            segment_donors[("language", language, arm)].add(donor)
            segment_donors[("source", source, arm)].add(donor)
    return _GiftTally(tallies, per_currency, segment_donors, hours)


def _engagement(counts: Iterable[queries.Engagement], arm: str) -> queries.Engagement:
    for count in counts:
        if count.arm == arm:
            return count
    return queries.Engagement(arm, 0, 0, 0, 0)


def _arm_report(
    name: str,
    kind: str,
    weight: float | None,
    tally: _ArmTally,
    gifts: _Gifts,
    replies: list[queries.Engagement],
    clicks: list[queries.Engagement],
) -> ArmReport:
    holdout = kind == HOLDOUT_KIND
    states = dict(sorted(tally.states.items()))
    sent = states.get(SENT, 0)
    recipients = tally.assigned if holdout else sent
    replied = _engagement(replies, name)
    clicked = _engagement(clicks, name)
    amounts = dict(sorted(gifts.amounts.items()))
    return ArmReport(
        name=name,
        kind=kind,
        weight=weight,
        assigned=tally.assigned,
        states=states,
        sent=sent,
        failed=states.get(FAILED, 0),
        failed_by_reason=dict(sorted(tally.failed_by_reason.items(), key=lambda kv: -kv[1])),
        unknown=states.get(UNKNOWN, 0),
        waiting=states.get(PENDING, 0) + states.get(SENDING, 0),
        follow_ups_sent=tally.follow_ups_sent,
        recipients=recipients,
        replied=replied.members,
        positive_replies=replied.positive,
        clicked=clicked.members,
        clicks=clicked.events,
        donors=len(gifts.donors),
        gifts=gifts.gifts,
        amounts=amounts,
        average_gift_minor={c: a / gifts.gift_counts[c] for c, a in amounts.items()},
        revenue_per_recipient_minor={
            c: a / recipients for c, a in sorted(gifts.reached_amounts.items()) if recipients
        },
        opted_out=tally.opted_out,
        median_seconds_to_first_gift=None
        if holdout
        else stats.median_seconds(list(gifts.delay.values())),
        donors_in_period=len(gifts.period_donors),
        donation_rate=Rate.of(len(gifts.reached_donors), recipients),
        click_rate=None if holdout else Rate.of(min(clicked.reached, recipients), recipients),
        reply_rate=None if holdout else Rate.of(min(replied.reached, recipients), recipients),
        period_rate=Rate.of(len(gifts.period_donors), tally.assigned),
    )


def _main_currency(
    gifts_per_currency: Mapping[str, int], posts: Iterable[queries.PostRow]
) -> str | None:
    """Pick the currency most of the reported gifts were made in (ties: alphabetical)."""
    counts: dict[str, int] = defaultdict(int, gifts_per_currency)
    for post in posts:
        for currency in post.amounts:
            counts[currency] += post.gifts if len(post.amounts) == 1 else 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0] if ranked and ranked[0][1] > 0 else None


def _timeline(
    hours: Mapping[tuple[str, Any, str], list[int]],
    currency: str | None,
    posts: list[queries.GiftPoint],
) -> tuple[queries.GiftPoint, ...]:
    """Give the gifts in the main currency per arm and hour, with the posts', oldest first."""
    if currency is None:
        return ()
    points = [
        queries.GiftPoint(arm, queries.read_hour(hour), amount, n)
        for (in_currency, hour, arm), (amount, n) in hours.items()
        if in_currency == currency
    ]
    return tuple(sorted(points + posts, key=lambda p: (p.donated_at, p.source)))


def _post_report(post: queries.PostRow) -> PostReport:
    known = post.reach is not None and post.reach > 0 and post.donors <= post.reach
    return PostReport(
        id=post.id,
        chat=post.chat,
        state=post.state,
        sent_at=post.sent_at,
        reach=post.reach,
        clicks=post.clicks,
        donors=post.donors,
        gifts=post.gifts,
        amounts=post.amounts,
        conversion=Rate.of(post.donors, post.reach or 0) if known else None,
    )


def _segments(
    groups: Iterable[queries.AskCount],
    donors: Mapping[tuple[str, str | None, str], set[int]],
    kinds: dict[str, str],
) -> tuple[SegmentReport, ...]:
    """Count members, recipients and donors per arm within each rule, language and source."""
    assigned: dict[tuple[str, str | None, str], int] = defaultdict(int)
    recipients: dict[tuple[str, str | None, str], int] = defaultdict(int)

    def add(key: tuple[str, str | None, str], state: str, count: int) -> None:
        assigned[key] += count
        if _in_base(kinds.get(key[2], ""), state):
            recipients[key] += count

    for g in groups:
        if g.step == FIRST_STEP:
            add(("rule", g.rule, g.arm), g.state, g.asks)
            add(("language", g.language, g.arm), g.state, g.asks)
            add(("source", g.source, g.arm), g.state, g.asks)
    order = {name: i for i, name in enumerate(kinds)}
    keys = sorted(
        assigned,
        key=lambda k: (
            SEGMENT_DIMENSIONS.index(k[0]),
            k[1] is None,
            k[1] or "",
            order.get(k[2], len(order)),
        ),
    )
    segments = []
    for key in keys:
        base = recipients[key]
        gave = len(donors.get(key, ()))
        # A donor whose first ask left the base later (rare) must not push a rate above 100%.
        count = min(gave, base)
        segments.append(
            SegmentReport(
                dimension=key[0],
                value=key[1],
                arm=key[2],
                assigned=assigned[key],
                recipients=base,
                donors=gave,
                conversion=Rate.of(count, base),
            )
        )
    return tuple(segments)


def _notes(
    arms: tuple[ArmReport, ...],
    posts: list[queries.PostRow],
    currency: str | None,
    start: datetime,
    end: datetime,
) -> tuple[str, ...]:
    notes = [
        "Arms are randomised: supporters were assigned to them by chance, so a significant "
        "difference between arms is caused by the message. Rates are per supporter: a reply, "
        "click or gift after a follow-up counts once, toward the supporter's arm.",
        "Donation, click and reply rates are out of the supporters whose first ask was sent; "
        f"p-values are adjusted for the {ALPHA:.0%} level across every comparison shown (Holm), "
        f"and nothing is called significant with fewer than {MIN_PER_ARM} recipients per arm.",
    ]
    if any(arm.is_holdout for arm in arms):
        notes.append(
            "The holdout was sent nothing and had no tracked link, so its donors are the "
            "holdout supporters who gave anything, however credited, between "
            f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC (from the launch to this "
            "report, or to the end of the campaign plus its attribution window). Every arm's "
            "'gave in period' is counted the same way, and that is the figure the holdout "
            "comparisons use."
        )
    if posts:
        notes.append(
            "Broadcast posts are observational: their readers chose to follow the channel and "
            "were not assigned at random, so their rates are shown but not tested against the "
            "arms. A post's conversion is donors out of the chat's member count (its reach)."
        )
    unknown = sum(arm.unknown for arm in arms)
    if unknown:
        asks = "1 ask has" if unknown == 1 else f"{unknown:,} asks have"
        notes.append(
            f"{asks} an unknown outcome (the bot stopped while sending); not counted as sent."
        )
    if currency is not None:
        others = sorted(
            {c for arm in arms for c in arm.amounts} | {c for p in posts for c in p.amounts}
        )
        if len(others) > 1:
            notes.append(
                f"Amounts are shown per currency and never added across currencies; revenue per "
                f"recipient is compared in {currency}, the currency of most gifts."
            )
    return tuple(notes)
