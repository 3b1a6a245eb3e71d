"""Send the staff chat a summary of every active campaign, exactly once per scheduled week."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.message_length import fit_lines
from bot.domain.money import format_amount
from bot.domain.spec import Campaign
from bot.services.community_report import community_health_line
from bot.services.report_format import duration_text
from bot.services.report_model import ArmResponse
from bot.services.reporting import arm_responses, report_by_name
from bot.storage import desk, weekly

JOB = "weekly_summary"
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CRON = re.compile(r"\s*([a-z,*-]+)\s+(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class SummarySchedule:
    """When summaries are due: local weekdays (0 is Monday) at one local time."""

    days: frozenset[int]
    at: time


def _day(word: str) -> int:
    for i, name in enumerate(DAY_NAMES):
        if word in (name, name[:3]):
            return i
    raise ValueError(word)


def parse_weekly_cron(text: str) -> SummarySchedule:
    """Read a schedule like "mon 09:00", "mon,thu 08:30", "mon-fri 17:00" or "* 09:00"."""
    bad = f"WEEKLY_SUMMARY_CRON must look like 'mon 09:00' (got {text!r})"
    match = _CRON.fullmatch(text.lower())
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise ValueError(bad)
    days: set[int] = set()
    try:
        for part in match.group(1).split(","):
            if part == "*":
                days.update(range(7))
            elif "-" in part:
                first, last = (_day(word) for word in part.split("-", 1))
                days.update(range(first, last + 1) if first <= last else ())
            else:
                days.add(_day(part))
    except ValueError:
        raise ValueError(bad) from None
    if not days:
        raise ValueError(bad)
    return SummarySchedule(frozenset(days), time(int(match.group(2)), int(match.group(3))))


def _moments(
    now: datetime, settings: Settings, step: int
) -> tuple[SummarySchedule, list[datetime]]:
    """List the local scheduled moments of the eight days from now going back (-1) or on (1)."""
    schedule = parse_weekly_cron(settings.weekly_summary_cron)
    local = now.astimezone(settings.zone)
    # Each moment is built from its local date, so daylight-saving changes are honoured.
    moments = [
        datetime.combine(local.date() + timedelta(days=step * i), schedule.at, settings.zone)
        for i in range(9)
    ]
    return schedule, [m for m in moments if m.weekday() in schedule.days]


def last_weekly_run(now: datetime, settings: Settings) -> datetime:
    """Give the latest scheduled moment at or before now, as aware UTC."""
    _, moments = _moments(now, settings, -1)
    return next(m for m in moments if m <= now).astimezone(UTC)


def next_weekly_run(now: datetime, settings: Settings) -> datetime:
    """Give the first scheduled moment after now, as aware UTC.

    Reference oracle for tests: the scheduler's cron trigger must fire at these moments.
    """
    _, moments = _moments(now, settings, 1)
    return next(m for m in moments if m > now).astimezone(UTC)


def _previous_run(moment: datetime, settings: Settings) -> datetime:
    return last_weekly_run(moment - timedelta(seconds=1), settings)


def period_key(moment: datetime, settings: Settings) -> str:
    """Name a moment's period: its ISO week ("2026-W11"), or its date if several days a week."""
    schedule = parse_weekly_cron(settings.weekly_summary_cron)
    local = moment.astimezone(settings.zone)
    if len(schedule.days) > 1:
        return local.date().isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


async def run_weekly_if_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    settings: Settings,
    send: Callable[[str], Awaitable[None]],
    specs: Mapping[str, Campaign] | None = None,
) -> bool:
    """Send the summary of the latest scheduled week unless it was sent; tell whether it was.

    specs are the loaded campaign files, used for campaigns without a copy frozen at launch.
    The week is claimed in the database before sending, so two processes never both send; if
    building or sending fails, the claim is withdrawn (and the error raised) so a later call
    retries. After missed weeks only the latest one is sent.
    """
    moment = last_weekly_run(now, settings)
    key = period_key(moment, settings)
    async with sessions() as session:
        if await weekly.job_period_done(session=session, job=JOB, period=key):
            return False
        if not await weekly.claim_job_period(session=session, job=JOB, period=key, now=now):
            return False
    try:
        text = await weekly_summary(sessions, now=now, settings=settings, specs=specs or {})
        await send(text)
    except BaseException:
        async with sessions() as session:
            await weekly.release_job_period(session=session, job=JOB, period=key)
            await session.commit()
        raise
    return True


async def weekly_summary(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    settings: Settings,
    specs: Mapping[str, Campaign],
) -> str:
    """Write the summary of the week up to the latest scheduled moment, in Telegram HTML."""
    end = last_weekly_run(now, settings)
    start = _previous_run(end, settings)
    async with sessions() as session:
        activity = await weekly.week_activity(session=session, start=start, end=end)
        waiting = await weekly.waiting_replies(session=session)
        timings = await desk.period_response_rows(session=session, start=start, end=end)
    health = await community_health_line(sessions, start=start, end=end)
    local = end.astimezone(settings.zone)
    head = (
        f"<b>Weekly summary</b>, week to {local:%a %d %b %Y %H:%M} ({escape(settings.timezone)})"
    )
    busy = [a for a in activity if a.asks_sent or a.replies or a.gifts or a.waiting_replies]
    if not busy and not waiting and health is None:
        return f"{head}: a quiet week, with no asks sent, no replies and no gifts."
    lines = [head]
    if health is not None:
        lines.append(escape(health))
    if not busy:
        lines.append("No campaign activity this week.")
    for item in busy:
        amounts = ", ".join(format_amount(v, c) for c, v in item.amounts.items())
        gifts = f"{item.gifts:,} gifts" + (f" ({escape(amounts)})" if amounts else "")
        lines.append(
            f"<b>{escape(item.title or item.name)}</b> (<code>{escape(item.name)}</code>, "
            f"{escape(item.state)}): {item.asks_sent:,} messages sent, {item.replies:,} "
            f"replies, {gifts}; {item.waiting_replies:,} replies waiting for an answer."
        )
        lines.append(
            "So far: "
            + escape(
                await _comparison_so_far(
                    sessions, item.name, specs, now, settings.baseline_donation_rate
                )
            )
        )
        spec = specs.get(item.name)
        answered = arm_responses(
            list(spec.arms) if spec else [],
            [row[1:] for row in timings if row[0] == item.campaign_id],
            now=end,
        )
        if answered:
            lines.append("Answer times this week: " + "; ".join(_timing(r) for r in answered))
    lines.append(f"Replies still waiting for a staff answer, all campaigns: {waiting:,}.")
    return fit_lines(lines, "…(more in /report)")


def _timing(response: ArmResponse) -> str:
    t = response.times
    return (
        f"{escape(response.arm)} median {duration_text(t.median_seconds)}, 90th percentile "
        f"{duration_text(t.p90_seconds)}, {t.waited_over_day:,} of {t.messages:,} waited over "
        "24 hours"
    )


async def _comparison_so_far(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    specs: Mapping[str, Campaign],
    now: datetime,
    baseline_rate: float | None,
) -> str:
    report = await report_by_name(
        sessions, name, now=now, specs=specs, baseline_rate=baseline_rate
    )
    if report is None:
        return "the campaign file is not loaded, so there is no comparison."
    primary = [c for c in report.comparisons if c.metric == "donation"]
    if not primary:
        return "not enough data yet to compare specific with broadcast asks."
    return " ".join(c.verdict for c in primary)
