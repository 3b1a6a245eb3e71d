"""Build a campaign's report: read its rows, tally them, compare the arms, write the notes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ruamel.yaml.error import YAMLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.campaign import frozen_spec
from bot.domain.response_times import response_times
from bot.domain.spec import Campaign
from bot.services.baseline import Baseline, planned_baseline
from bot.services.report_compare import compare_arms, sample_ratio
from bot.services.report_model import (
    ALPHA,
    MIN_PER_ARM,
    ArmReport,
    ArmResponse,
    ReferralReport,
    Report,
)
from bot.services.report_tally import tally_report
from bot.storage import desk as desk_queries
from bot.storage import reports as queries
from bot.storage.prior_giving import prior_giving
from bot.storage.referrals import referrer_rows
from bot.storage.report_rows import AskCount, GiftPoint, PostRow

T = TypeVar("T")
# CUPED's covariate: what each recipient gave in this long before the launch.
PRIOR_YEAR = timedelta(days=365)


async def build_report(
    sessions: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    *,
    now: datetime,
    baseline_rate: float | None = None,
) -> Report:
    """Measure a campaign from the database and compare its arms honestly.

    baseline_rate (BASELINE_DONATION_RATE) tunes the always-valid sequences; without it the
    donation rate of the campaigns launched before this one is used, or the default.
    """
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
    (
        (groups, opt_outs, posts, post_hours),
        replies,
        clicks,
        gifts,
        waits,
        baseline,
    ) = await asyncio.gather(
        _read_asks(sessions, cid, launched_at),
        _read(sessions, queries.reply_counts, campaign_id=cid),
        _read(sessions, queries.click_counts, campaign_id=cid),
        _read(sessions, queries.member_gifts, campaign_id=cid, start=launched_at, end=period_end),
        _read(sessions, desk_queries.campaign_response_rows, campaign_id=cid),
        planned_baseline(
            sessions, configured=baseline_rate, before=launched_at, exclude_campaign_id=cid
        ),
    )
    funnel = tally_report(
        campaign,
        groups=groups,
        opt_outs=opt_outs,
        gifts=gifts,
        replies=replies,
        clicks=clicks,
        posts=posts,
        post_hours=post_hours,
    )
    arms, main_currency = funnel.arms, funnel.main_currency
    prior = (
        await _read(
            sessions,
            prior_giving,
            campaign_id=cid,
            currency=main_currency,
            start=launched_at - PRIOR_YEAR,
            end=launched_at,
        )
        if main_currency is not None
        else {}
    )
    async with sessions() as session:
        referred = await referrer_rows(session=session)
    comparisons, revenue = compare_arms(
        arms,
        funnel.donor_totals,
        main_currency,
        seed=campaign.name,
        planned_rate=baseline.rate,
        member_totals=funnel.member_totals,
        prior=prior,
    )
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
        posts=funnel.posts,
        segments=funnel.segments,
        comparisons=comparisons,
        revenue=revenue,
        srm=sample_ratio(arms, campaign.weights()),
        notes=_notes(arms, posts, main_currency, launched_at, period_end, baseline),
        timeline=funnel.timeline,
        response_times=arm_responses([arm.name for arm in arms], waits, now=now),
        baseline_rate=baseline.rate,
        baseline_source=baseline.source,
        referrals=tuple(
            ReferralReport(
                r.referrer_id, r.name, r.starts, r.re_engaged, len(r.donors), dict(r.amounts)
            )
            for r in referred
        ),
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
    list[AskCount],
    dict[str, int],
    list[PostRow],
    dict[str, list[GiftPoint]],
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
    baseline_rate: float | None = None,
) -> Report | None:
    """Report a campaign by name, with the spec it launched with; None if it is unknown.

    A launched campaign keeps the copy of its YAML frozen at launch (so the weights compared
    are the ones used); a campaign never launched is reported from its current file.
    """
    async with sessions() as session:
        row = await queries.find_campaign(session=session, name=name)
    spec = specs.get(name)
    if row is not None and row.spec_yaml:
        # Should the copy no longer validate (a spec format change since), the file is the
        # fallback.
        with contextlib.suppress(ValueError, YAMLError):
            spec = frozen_spec(row.spec_yaml)
    if spec is None:
        return None
    return await build_report(sessions, spec, now=now, baseline_rate=baseline_rate)


def arm_responses(
    arm_order: Sequence[str],
    rows: Iterable[tuple[str | None, datetime, datetime | None, datetime | None]],
    *,
    now: datetime,
) -> tuple[ArmResponse, ...]:
    """Measure response times per arm from (arm, received, answered, closed) rows.

    Arms come in the report's order, then any other arm a message carries; arms without
    messages are left out.
    """
    by_arm: dict[str, list[tuple[datetime, datetime | None, datetime | None]]] = {}
    for arm, received, answered, closed in rows:
        by_arm.setdefault(arm or "(no arm)", []).append((received, answered, closed))
    order = [a for a in arm_order if a in by_arm] + sorted(set(by_arm) - set(arm_order))
    return tuple(ArmResponse(arm, response_times(by_arm[arm], now=now)) for arm in order)


def _utc(value: datetime | None) -> datetime | None:
    # Rows read through the ORM are aware already; this only guards a naive value.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _notes(
    arms: tuple[ArmReport, ...],
    posts: list[PostRow],
    currency: str | None,
    start: datetime,
    end: datetime,
    baseline: Baseline,
) -> tuple[str, ...]:
    notes = [
        "Arms are randomised: supporters were assigned to them by chance, so a significant "
        "difference between arms is caused by the message. Rates are per supporter: a reply, "
        "click or gift after a follow-up counts once, toward the supporter's arm.",
        "Donation, click and reply rates are out of the supporters whose first ask was sent; "
        f"p-values are adjusted for the {ALPHA:.0%} level across every comparison shown (Holm), "
        f"and nothing is called significant with fewer than {MIN_PER_ARM} recipients per arm.",
        "Significant means significant however often this report is read: each verdict rests "
        "on an always-valid confidence sequence (Waudby-Smith et al.'s asymptotic sequence, as "
        f"GrowthBook uses), tuned to a {baseline.rate:.1%} baseline donation rate "
        f"({baseline.source}). Fixed-horizon figures (Newcombe interval, z or Fisher test, "
        "bootstrap, Welch) are shown as well, labelled: they hold only for a single look "
        "planned in advance.",
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
    ways = {arm.via for arm in arms if not arm.is_holdout}
    if len(ways) > 1:
        notes.append(
            "Public replies (via group_reply) and private asks are compared only within the "
            "population eligible for both: the audience was limited to supporters who had "
            "started the bot and also wrote in a community chat recently, then randomised, so "
            "the comparison holds for that population, not for every supporter or member."
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
