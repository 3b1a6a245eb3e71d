"""Preview a campaign before launch: who it reaches, the expected arm split, real messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.experiment import assign_arm, expected_split
from bot.domain.power import detectable_difference, power_line
from bot.domain.spec import Campaign
from bot.domain.templating import MessageContext, TemplateProblem, render_message
from bot.services.baseline import Baseline, planned_baseline
from bot.storage import audience, supporters

PREVIEW_TOKEN = "PREVIEW"


@dataclass(frozen=True)
class SampleMessage:
    """One supporter of the audience and the message they would get (None for a holdout)."""

    supporter_id: int
    name: str
    language: str
    rule: str
    arm: str
    arm_kind: str
    message_key: str | None
    text: str | None
    problem: str | None = None


@dataclass(frozen=True)
class Preview:
    """What launching a campaign now would do."""

    campaign: str
    title: str
    audience_size: int
    segments: dict[str, int]
    arms: dict[str, float]
    arm_kinds: dict[str, str]
    samples: list[SampleMessage]
    donate_link: str
    baseline: Baseline | None = None
    # The smallest detectable specific-vs-broadcast difference, in plain words; None when the
    # campaign has no such pair of arms.
    power: str | None = None
    # Flagged supporters the audience leaves out: how many, and how many per flag reason.
    flagged_out: int = 0
    flagged_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    # How many supporters each way (private, group_reply) could reach, before the audience
    # keeps only those every arm's way reaches.
    eligible_by_way: dict[str, int] = dataclasses.field(default_factory=dict)


WAYS = ("private", "group_reply")


def frequency_cap(settings: Settings) -> timedelta | None:
    """Return the organisation's frequency cap (None when FREQUENCY_CAP_DAYS is 0)."""
    days = settings.frequency_cap_days
    return timedelta(days=days) if days > 0 else None


async def preview_campaign(
    sessions: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    *,
    now: datetime,
    settings: Settings,
    count: int = 3,
) -> Preview:
    """Select the audience as a launch would, and render messages for its first supporters."""
    cap = frequency_cap(settings)
    link = f"{settings.public_base_url.rstrip('/')}/r/{PREVIEW_TOKEN}"
    recent = timedelta(days=settings.group_reply_recent_days)
    async with sessions() as session:
        segments = await audience.count_by_rule(
            session, campaign, now=now, cap=cap, zone=settings.timezone, recent=recent
        )
        by_way = {
            way: await audience.count_audience(
                session,
                campaign,
                now=now,
                cap=cap,
                zone=settings.timezone,
                recent=recent,
                ways=[way],
            )
            for way in WAYS
        }
        first = audience.audience_query(
            campaign, now=now, cap=cap, zone=settings.timezone, recent=recent
        )
        limit = min(count, campaign.audience.limit or count)
        rows = (await session.execute(first.limit(limit))).all() if limit > 0 else []
        flagged_out, flagged_reasons = await audience.count_flagged_out(
            session, campaign, now=now, cap=cap, zone=settings.timezone
        )
        samples = [
            await _sample(session, campaign, row.supporter_id, row.rule, now, settings, link)
            for row in rows
        ]
    size = sum(segments.values())
    weights = {name: arm.weight for name, arm in campaign.arms.items()}
    split = expected_split(size, weights)
    baseline = await planned_baseline(
        sessions, configured=settings.baseline_donation_rate, before=now
    )
    return Preview(
        campaign=campaign.name,
        title=campaign.title,
        audience_size=size,
        segments=segments,
        arms=split,
        arm_kinds={name: arm.kind for name, arm in campaign.arms.items()},
        samples=samples,
        donate_link=link,
        baseline=baseline,
        power=_power(campaign, split, baseline),
        flagged_out=flagged_out,
        flagged_reasons=flagged_reasons,
        eligible_by_way=by_way,
    )


def _power(campaign: Campaign, split: dict[str, float], baseline: Baseline) -> str | None:
    # The report's main comparison: the first specific arm against the first broadcast arm.
    specific = next((n for n, arm in campaign.arms.items() if arm.kind == "specific"), None)
    broadcast = next((n for n, arm in campaign.arms.items() if arm.kind == "broadcast"), None)
    if specific is None or broadcast is None:
        return None
    n_a, n_b = int(split[specific]), int(split[broadcast])
    source = f" ({baseline.source})"
    if n_a < 1 or n_b < 1:
        return (
            f"Power: no {specific if n_a < 1 else broadcast} recipients expected, so the "
            "campaign cannot compare specific with broadcast asks at all (baseline donation "
            f"rate {baseline.rate:.1%}{source})."
        )
    line = power_line(detectable_difference(n_a, n_b, baseline.rate), (specific, broadcast))
    return line.replace(" baseline donation rate", f" baseline donation rate{source}", 1)


async def _sample(
    session: AsyncSession,
    campaign: Campaign,
    supporter_id: int,
    rule: str,
    now: datetime,
    settings: Settings,
    link: str,
) -> SampleMessage:
    supporter = await supporters.supporter_by_id(session=session, supporter_id=supporter_id)
    assert supporter is not None
    arm_name = assign_arm(campaign.name, supporter_id, campaign.weights())
    arm = campaign.arms[arm_name]
    name = " ".join(p for p in (supporter.first_name, supporter.last_name) if p) or "(no name)"
    sample = SampleMessage(
        supporter_id=supporter_id,
        name=name,
        language=supporter.language,
        rule=rule,
        arm=arm_name,
        arm_kind=arm.kind,
        message_key=arm.message,
        text=None,
    )
    if arm.message is None:
        return sample
    zone = ZoneInfo(supporter.timezone or campaign.timezone or settings.timezone)
    history = await supporters.latest_interactions(session=session, supporter_id=supporter_id)
    context = MessageContext(
        today=now.astimezone(zone).date(),
        first_name=supporter.first_name,
        last_name=supporter.last_name,
        username=supporter.username,
        language=supporter.language,
        donate_link=link,
        interactions=[(kind, detail, at.astimezone(zone)) for kind, detail, at in history],
    )
    try:
        text = render_message(campaign, arm.message, context)
    except TemplateProblem as exc:
        return dataclasses.replace(sample, problem=str(exc))
    return dataclasses.replace(sample, text=text)
