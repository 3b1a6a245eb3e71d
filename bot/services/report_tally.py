"""Count a campaign's report rows into the per-arm funnel, segments and timeline (pure).

The rows come from bot/storage/reports.py; nothing here reads the database or the clock, so
a test can hand it rows and check every figure.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain import stats
from bot.domain.spec import Campaign
from bot.services.report_model import (
    HOLDOUT_KIND,
    ArmReport,
    PostReport,
    Rate,
    SegmentReport,
)
from bot.storage.models import FAILED, FIRST_STEP, PENDING, SENDING, SENT, UNKNOWN
from bot.storage.report_rows import AskCount, Engagement, GiftPoint, MemberGifts, PostRow
from bot.storage.reports import read_hour

SEGMENT_DIMENSIONS = ("rule", "language", "source")


@dataclass(frozen=True)
class Funnel:
    """What a campaign's rows count up to, before the arms are compared."""

    arms: tuple[ArmReport, ...]
    posts: tuple[PostReport, ...]
    segments: tuple[SegmentReport, ...]
    main_currency: str | None
    # Per arm, each donor's total in the main currency: the input of the revenue comparison.
    donor_totals: dict[str, list[int]]
    timeline: tuple[GiftPoint, ...]
    # The same totals keyed by supporter, to pair them with last year's giving (CUPED).
    member_totals: dict[str, dict[int, int]] = field(default_factory=dict)


def tally_report(
    campaign: Campaign,
    *,
    groups: list[AskCount],
    opt_outs: dict[str, int],
    gifts: Iterable[MemberGifts],
    replies: list[Engagement],
    clicks: list[Engagement],
    posts: list[PostRow],
    post_hours: Mapping[str, list[GiftPoint]],
) -> Funnel:
    """Count asks, opt-outs, gifts, replies, clicks and posts into the report's figures."""
    kinds = _arm_kinds(campaign, groups)
    tallied = _tally_gifts(gifts, kinds)
    main_currency = _main_currency(tallied.gifts_per_currency, posts)
    post_points = post_hours.get(main_currency, []) if main_currency is not None else []
    weights = campaign.weights()
    tallies = _tally_asks(groups, opt_outs)
    per_arm_gifts = tallied.arms
    arms = tuple(
        dataclasses.replace(
            _arm_report(
                name,
                kinds[name],
                weights.get(name),
                tallies.get(name, _ArmTally()),
                per_arm_gifts.get(name, _Gifts()),
                replies,
                clicks,
            ),
            via=campaign.arms[name].via if name in campaign.arms else "private",
        )
        for name in kinds
    )
    donor_totals = {
        name: list(tally.per_donor[main_currency].values())
        for name, tally in per_arm_gifts.items()
        if main_currency is not None
    }
    return Funnel(
        arms=arms,
        posts=tuple(_post_report(p) for p in posts),
        segments=_segments(groups, tallied.segment_donors, kinds),
        main_currency=main_currency,
        donor_totals=donor_totals,
        timeline=_timeline(tallied.hours, main_currency, post_points),
        member_totals={
            name: dict(tally.per_donor[main_currency])
            for name, tally in per_arm_gifts.items()
            if main_currency is not None
        },
    )


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


def _arm_kinds(campaign: Campaign, groups: Iterable[AskCount]) -> dict[str, str]:
    kinds: dict[str, str] = {name: arm.kind for name, arm in campaign.arms.items()}
    # An arm in the database that the spec no longer names is still reported, never dropped.
    for group in groups:
        kinds.setdefault(group.arm, "unknown")
    return kinds


def _tally_asks(groups: Iterable[AskCount], opt_outs: dict[str, int]) -> dict[str, _ArmTally]:
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


def _tally_gifts(rows: Iterable[MemberGifts], kinds: dict[str, str]) -> _GiftTally:
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


def _engagement(counts: Iterable[Engagement], arm: str) -> Engagement:
    for count in counts:
        if count.arm == arm:
            return count
    return Engagement(arm, 0, 0, 0, 0)


def _arm_report(
    name: str,
    kind: str,
    weight: float | None,
    tally: _ArmTally,
    gifts: _Gifts,
    replies: list[Engagement],
    clicks: list[Engagement],
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


def _main_currency(gifts_per_currency: Mapping[str, int], posts: Iterable[PostRow]) -> str | None:
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
    posts: list[GiftPoint],
) -> tuple[GiftPoint, ...]:
    """Give the gifts in the main currency per arm and hour, with the posts', oldest first."""
    if currency is None:
        return ()
    points = [
        GiftPoint(arm, read_hour(hour), amount, n)
        for (in_currency, hour, arm), (amount, n) in hours.items()
        if in_currency == currency
    ]
    return tuple(sorted(points + posts, key=lambda p: (p.donated_at, p.source)))


def _post_report(post: PostRow) -> PostReport:
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
    groups: Iterable[AskCount],
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
