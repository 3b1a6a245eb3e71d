"""APScheduler jobs for delivery; the database is the schedule, so jobs are derived from it.

Nothing is stored in the scheduler: on start-up (and after every change) the date jobs are
derived again from the database, so a restart loses nothing and repeats nothing. Jobs:
`outbox-wake` at the next due ask, `broadcast-posts` at the next due post, `follow-ups` every
minute, `weekly-summary` on WEEKLY_SUMMARY_CRON, `resync` every minute as a safety net, and
hourly `community-flags`, daily `member-counts` and daily `scores` (every supporter's
engagement and RFM, which decay with time and take in the community's recorded facts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import utcnow
from bot.config import Settings
from bot.domain.sending import Sender
from bot.domain.spec import Campaign
from bot.services.community_report import take_member_counts
from bot.services.flags import evaluate_flags
from bot.services.followups import enqueue_all_follow_ups
from bot.services.outbox import OutboxWorker
from bot.services.posts import recover_posts, send_due_posts
from bot.services.schedule import next_due
from bot.services.supporters import refresh_all_scores
from bot.services.weekly import run_weekly_if_due
from bot.telegram.sender import TelegramSender

log = logging.getLogger(__name__)

WAKE_JOB = "outbox-wake"
POSTS_JOB = "broadcast-posts"
FOLLOW_UPS_JOB = "follow-ups"
RESYNC_JOB = "resync"
WEEKLY_JOB = "weekly-summary"
FLAGS_JOB = "community-flags"
MEMBER_COUNTS_JOB = "member-counts"
SCORES_JOB = "scores"
_CRON = re.compile(r"^\s*([a-z,\-]+|\*)\s+(\d{1,2}):(\d{2})\s*$")


def weekly_trigger(cron: str, zone: Any) -> CronTrigger:
    """Turn WEEKLY_SUMMARY_CRON ("mon 09:00", "mon,thu 08:30") into a cron trigger."""
    match = _CRON.match(cron.lower())
    if not match:
        raise ValueError(f"WEEKLY_SUMMARY_CRON must look like 'mon 09:00' (got {cron!r})")
    days, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    return CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=zone)


class DeliveryScheduler:
    """Wake the outbox, post broadcast posts, queue follow-ups and send weekly summaries."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        worker: OutboxWorker,
        post_sender: Sender,
        clock: Callable[[], datetime] = utcnow,
        send_staff: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.worker = worker
        self.post_sender = post_sender
        self.clock = clock
        self.send_staff = send_staff
        self.scheduler = AsyncIOScheduler(
            timezone=settings.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )

    async def start(self) -> None:
        """Recover from a crash, add the periodic jobs, derive the date jobs, and start."""
        interrupted = await recover_posts(self.sessions)
        if interrupted:
            log.warning(
                "%d broadcast posts were interrupted while posting; marked unknown", interrupted
            )
        minute = IntervalTrigger(minutes=1, timezone=self.settings.zone)
        self.scheduler.add_job(self.follow_ups, minute, id=FOLLOW_UPS_JOB, replace_existing=True)
        self.scheduler.add_job(
            self.sync_jobs_from_database, minute, id=RESYNC_JOB, replace_existing=True
        )
        hourly = IntervalTrigger(hours=1, timezone=self.settings.zone)
        self.scheduler.add_job(self.flags, hourly, id=FLAGS_JOB, replace_existing=True)
        daily = IntervalTrigger(days=1, timezone=self.settings.zone)
        self.scheduler.add_job(
            self.member_counts, daily, id=MEMBER_COUNTS_JOB, replace_existing=True
        )
        self.scheduler.add_job(self.scores, daily, id=SCORES_JOB, replace_existing=True)
        try:
            weekly = weekly_trigger(self.settings.weekly_summary_cron, self.settings.zone)
        except ValueError as exc:
            log.error("weekly summary not scheduled: %s", exc)
        else:
            self.scheduler.add_job(self.weekly, weekly, id=WEEKLY_JOB, replace_existing=True)
        self.scheduler.start()
        await self.sync_jobs_from_database()

    def shutdown(self) -> None:
        """Stop the scheduler without waiting for running jobs."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sync_jobs_from_database(self) -> None:
        """(Re)create the date jobs from the database: next due ask, next due post."""
        now = self.clock()
        due = await next_due(self.sessions)
        self._date_job(WAKE_JOB, self._wake, due.ask, now)
        self._date_job(POSTS_JOB, self.posts, due.post, now)

    def _date_job(
        self, job_id: str, func: Callable[[], Any], when: datetime | None, now: datetime
    ) -> None:
        if when is None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(job_id)
            return
        run_at = max(when, now)
        self.scheduler.add_job(
            func, DateTrigger(run_date=run_at), id=job_id, replace_existing=True
        )

    def _wake(self) -> None:
        self.worker.wake()

    async def posts(self) -> None:
        """Post every due broadcast post, then schedule the next."""
        sent = await send_due_posts(
            self.sessions, self.post_sender, self.settings, now=self.clock()
        )
        if sent:
            log.info("posted %d broadcast posts", sent)
        await self.sync_jobs_from_database()

    async def follow_ups(self) -> None:
        """Queue due follow-up steps and wake the worker if any were added."""
        added = await enqueue_all_follow_ups(
            self.sessions, now=self.clock(), settings=self.settings
        )
        if added:
            self.worker.wake()
            await self.sync_jobs_from_database()

    async def flags(self) -> None:
        """Flag members whom time shows inactive or quick to leave."""
        added = await evaluate_flags(self.sessions, now=self.clock())
        if any(added.values()):
            log.info("new flags: %s", added)

    async def member_counts(self) -> None:
        """Snapshot each community chat's member count, so the community report shows growth."""
        chats = self.settings.community_chat_ids
        if chats:
            await take_member_counts(self.sessions, self.post_sender, chats, now=self.clock())

    async def scores(self) -> None:
        """Refresh every supporter's engagement and RFM (gifts in MAIN_CURRENCY)."""
        await refresh_all_scores(
            self.sessions, now=self.clock(), main_currency=self.settings.main_currency
        )

    async def weekly(self) -> None:
        """Send the weekly summary if it is due."""
        if self.send_staff is None:  # nowhere to send it from this process
            return
        await run_weekly_if_due(
            self.sessions, now=self.clock(), settings=self.settings, send=self.send_staff
        )


@dataclass
class Delivery:
    """The running outbox worker and its scheduler, as `campaign-bot run` holds them."""

    worker: OutboxWorker
    scheduler: DeliveryScheduler

    def wake(self) -> None:
        """Send due asks now and re-derive the jobs (after a launch or a resume)."""
        self.worker.wake()
        task = asyncio.get_running_loop().create_task(self.scheduler.sync_jobs_from_database())
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


@contextlib.asynccontextmanager
async def running_delivery(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    specs: Callable[[], Mapping[str, Campaign]] | None = None,
    clock: Callable[[], datetime] = utcnow,
    send_staff: Callable[[str], Awaitable[None]] | None = None,
    worker_id: str = "bot",
) -> AsyncIterator[Delivery]:
    """Run the outbox worker and the scheduler in this event loop for the length of a block.

    `specs` gives the campaign files in force (message texts corrected with /reload are used);
    `send_staff` is handed to the weekly summary. Set BotServices.wake_outbox to
    `delivery.wake`.
    """
    async with TelegramSender.from_settings(settings) as sender:
        worker = OutboxWorker(sessions, sender, settings, worker_id=worker_id, specs=specs)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, clock))
        scheduler = DeliveryScheduler(
            sessions,
            settings,
            worker=worker,
            post_sender=sender,
            clock=clock,
            send_staff=send_staff,
        )
        await scheduler.start()
        try:
            yield Delivery(worker, scheduler)
        finally:
            scheduler.shutdown()
            stop.set()
            await task
