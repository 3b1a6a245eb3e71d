"""Tests for the weekly summary: its schedule, once per week across restarts, catch-up, content."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings, load_settings
from bot.scheduler import weekly_trigger
from bot.services.weekly import (
    JOB,
    last_weekly_run,
    next_weekly_run,
    parse_weekly_cron,
    period_key,
    run_weekly_if_due,
    weekly_summary,
)
from bot.storage.db import make_engine, session_maker
from bot.storage.models import JobRun
from tests.report_seed import seed_spring, spring_spec

# Monday 9 March 2026, 09:00 in Amsterdam (CET, UTC+1): the summary of 2-9 March is due.
DUE = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
SPECS = {"spring-appeal": spring_spec()}


def _settings(**overrides: str) -> Settings:
    values = {"timezone": "Europe/Amsterdam", "weekly_summary_cron": "mon 09:00", **overrides}
    return load_settings(values, env_file=None)


class Outbox:
    """The staff chat, as far as the summary can tell: it keeps what it is sent."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    async def __call__(self, text: str) -> None:
        if self.fail:
            raise RuntimeError("Telegram said no")
        self.sent.append(text)


async def _periods(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(JobRun.period).where(JobRun.job == JOB))  # type: ignore[call-overload]
        return sorted(rows.scalars())


@pytest.mark.parametrize(
    ("text", "days", "hour", "minute"),
    [
        ("mon 09:00", {0}, 9, 0),
        ("Friday 17:30", {4}, 17, 30),
        (" sun 0:05 ", {6}, 0, 5),
        ("mon,thu 08:30", {0, 3}, 8, 30),
        ("mon-fri 07:00", {0, 1, 2, 3, 4}, 7, 0),
        ("* 23:59", set(range(7)), 23, 59),
    ],
)
def test_schedule_text_is_read(text: str, days: set[int], hour: int, minute: int) -> None:
    schedule = parse_weekly_cron(text)
    assert (schedule.days, schedule.at.hour, schedule.at.minute) == (days, hour, minute)


@pytest.mark.parametrize(
    "text", ["", "mon", "9:00 mon", "mo 09:00", "mon 24:00", "monk 09:00", "fri-mon 09:00"]
)
def test_bad_schedule_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="mon 09:00"):
        parse_weekly_cron(text)


def test_schedule_follows_local_time_across_daylight_saving() -> None:
    settings = _settings()
    assert last_weekly_run(DUE, settings) == DUE
    assert last_weekly_run(DUE.replace(minute=59, hour=7), settings) == datetime(
        2026, 3, 2, 8, 0, tzinfo=UTC
    )
    wednesday = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    assert last_weekly_run(wednesday, settings) == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    # Summer time starts on 29 March: 09:00 in Amsterdam is then 07:00 UTC.
    assert next_weekly_run(wednesday, settings) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert next_weekly_run(DUE, settings) == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    assert period_key(DUE, settings) == "2026-W11"
    twice = _settings(weekly_summary_cron="mon,thu 09:00")
    assert next_weekly_run(DUE, twice) == datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    assert period_key(DUE, twice) == "2026-03-09"


@pytest.mark.parametrize("cron", ["mon 09:00", "mon,thu 09:00", "sun 03:30", "fri 23:59"])
def test_scheduler_trigger_fires_when_the_summary_falls_due(cron: str) -> None:
    settings = _settings(weekly_summary_cron=cron)
    trigger = weekly_trigger(cron, settings.zone)
    # Hourly steps over five weeks around the start of summer time on 29 March 2026.
    start = datetime(2026, 3, 10, 0, 17, tzinfo=UTC)
    for hour in range(24 * 35):
        now = start + timedelta(hours=hour)
        fires = trigger.get_next_fire_time(None, now)
        assert fires is not None
        assert fires.astimezone(UTC) == next_weekly_run(now, settings), now


async def test_summary_is_sent_once_per_week_even_after_a_restart(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    await seed_spring(sessions)
    settings = _settings()
    outbox = Outbox()
    later = DUE.replace(hour=10)
    assert await run_weekly_if_due(
        sessions, now=later, settings=settings, specs=SPECS, send=outbox
    )
    thursday = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
    assert not await run_weekly_if_due(
        sessions, now=thursday, settings=settings, specs=SPECS, send=outbox
    )
    # A restarted bot: a new engine and new objects over the same database.
    engine = make_engine(db_url)
    try:
        restarted = session_maker(engine)
        assert not await run_weekly_if_due(
            restarted, now=thursday, settings=_settings(), specs=SPECS, send=outbox
        )
    finally:
        await engine.dispose()
    assert len(outbox.sent) == 1
    assert await _periods(sessions) == ["2026-W11"]

    (text,) = outbox.sent
    assert text.startswith("<b>Weekly summary</b>, week to Mon 09 Mar 2026 09:00")
    # 11 first asks and one follow-up were sent in the week; 5 replies came in; 8 gifts were
    # credited to the campaign or its post: EUR 25 + 3 + 2 + 10 + 10 + 15 and USD 10 + 3.
    assert (
        "<b>Spring &lt;appeal&gt; &amp; &quot;friends&quot;</b> (<code>spring-appeal</code>, "
        "running): 12 messages sent, 5 replies, 8 gifts (€65.00, $13.00); "
        "3 replies waiting for an answer."
    ) in text
    assert "So far: Donation conversion: specific 50.0% (3/6) vs broadcast 20.0% (1/5)" in text
    # The other campaign ran too; its spec is not loaded, so it has no comparison.
    assert "(<code>other-appeal</code>, running): 0 messages sent, 0 replies, 1 gifts" in text
    assert "the campaign file is not loaded" in text
    assert "Replies still waiting for a staff answer, all campaigns: 3." in text


async def test_missed_weeks_are_caught_up_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = _settings()
    outbox = Outbox()
    assert await run_weekly_if_due(sessions, now=DUE, settings=settings, specs={}, send=outbox)
    # The bot was down for three weeks; on the Wednesday it comes back, one summary is sent.
    back = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    for _ in range(3):
        await run_weekly_if_due(sessions, now=back, settings=settings, specs={}, send=outbox)
    assert len(outbox.sent) == 2
    assert await _periods(sessions) == ["2026-W11", "2026-W14"]


async def test_a_quiet_week_is_one_short_line(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    text = await weekly_summary(sessions, now=DUE, settings=_settings(), specs={})
    assert "\n" not in text and len(text) < 200
    assert "a quiet week" in text


async def test_a_failed_send_is_retried_later(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = _settings()
    with pytest.raises(RuntimeError, match="Telegram said no"):
        await run_weekly_if_due(
            sessions, now=DUE, settings=settings, specs={}, send=Outbox(fail=True)
        )
    assert await _periods(sessions) == []
    outbox = Outbox()
    assert await run_weekly_if_due(sessions, now=DUE, settings=settings, specs={}, send=outbox)
    assert len(outbox.sent) == 1


async def test_two_processes_at_once_send_one_summary(
    sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    settings = _settings()
    outbox = Outbox()
    engines = [make_engine(db_url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(
                run_weekly_if_due(
                    session_maker(engine), now=DUE, settings=settings, specs={}, send=outbox
                )
                for engine in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(results) == [False, True]
    assert len(outbox.sent) == 1
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(JobRun))
    assert count == 1
