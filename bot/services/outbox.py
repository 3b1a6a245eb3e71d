"""The outbox worker: claim due asks, send them at Telegram's pace, record what became of each.

Deciding and rendering a claimed batch is in bot.services.ask_batch (its pure rules in
bot.domain.ask_rules); the group commits of the outcomes are in bot.services.outcome_recorder.

Crash safety: an ask is claimed (state `sending`, committed) before its request goes out, and
its outcome is committed as soon as possible after the answer, in small group commits. A
process killed in between leaves the ask in `sending`; on start-up it is marked `unknown`
("interrupted while sending") and never sent again, because Telegram may have delivered it.
Only answers that prove nothing was delivered (429, 5xx, no connection made) are retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import utcnow
from bot.config import Settings
from bot.domain.campaign_state import RUNNING
from bot.domain.flags import is_deactivated
from bot.domain.limits import LimitSettings, SendLimiter, backoff_seconds
from bot.domain.public_asks import GROUP_REPLY
from bot.domain.sending import Result, Sender, SendOutcome, SendRefused
from bot.domain.spec import Campaign
from bot.services.ask_batch import FrozenSpecs, ReadyAsk, decide_batch, read_batch
from bot.services.outcome_recorder import OutcomeRecorder
from bot.storage import campaign_runs, outbox
from bot.storage.models import CANCELLED, FAILED, SENT, UNKNOWN

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted while sending; not retried to avoid a duplicate"
# No live worker holds an ask in `sending` this long: waits are capped at MAX_WAIT below.
SENDING_LEASE = timedelta(minutes=10)
# An ask that would wait longer than this for a send slot goes back to the queue instead.
MAX_WAIT = 30.0
# How stale the cached campaign states may be: pause and cancel act within this.
STATE_TTL = 0.5
# Without a wake-up, look for due asks this often (other processes may have queued some).
IDLE_POLL = 1.0
RECOVER_EVERY = 60.0
# A claim takes about this much sending time, within these bounds.
BATCH_SECONDS = 0.5
BATCH_MIN = 16
BATCH_MAX = 200
# A refused bot token stops all sending for this long rather than failing every ask.
HALT_PAUSE = 60.0


def limiter_for(settings: Settings) -> SendLimiter:
    """Build the send limiter for the configured rate (paid broadcast or not)."""
    rate = (
        settings.paid_rate_per_second if settings.paid_broadcast else settings.send_rate_per_second
    )
    # At paid rates one millisecond of scheduling jitter is a whole slot: allow a small burst.
    return SendLimiter(
        LimitSettings(
            per_second=rate,
            burst=max(1, int(rate // 100)),
            per_group_per_minute=settings.group_sends_per_minute,
        )
    )


@dataclass
class _Batch:
    """The asks of one claim on their way out: its clock, and how many are still unsent."""

    now: datetime
    started: float
    left: int
    done: asyncio.Event


class OutboxWorker:
    """Send due asks from the database at Telegram's pace; many may share one PostgreSQL outbox.

    Time comes from outside: `now` for the database (due times, sent_at), and a monotonic
    `monotonic`/`sleep` pair for pacing, so tests drive it without real waiting.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        settings: Settings,
        *,
        worker_id: str = "bot",
        specs: Callable[[], Mapping[str, Campaign]] | None = None,
        limiter: SendLimiter | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.settings = settings
        self.worker_id = worker_id
        self.limiter = limiter or limiter_for(settings)
        rate = self.limiter.limits.per_second
        self.paid = settings.paid_broadcast
        self.stats: Counter[str] = Counter()
        self._specs = specs
        self._mono = monotonic
        self._sleep = sleep
        self._max_wait = max_wait
        # Enough sends in flight to keep the rate with ~0.2 s per answer, without crowding the
        # connection pool (httpx gets slower per request as its queue grows).
        self.concurrency = concurrency or min(64, max(4, math.ceil(rate * 0.2)))
        # That many lanes take prepared asks from one queue and send them one after another:
        # a lane goes from one answer straight to its next request, keeping its connection busy.
        self._queue: asyncio.Queue[tuple[ReadyAsk, _Batch]] = asyncio.Queue()
        self._lanes: list[asyncio.Task[None]] = []
        # Claim about half a second of sending (and at least twice what is in flight): the
        # lanes never run dry and the per-batch queries are shared by many asks, yet few asks
        # sit in `sending` at once, so a crash leaves few of them unknown.
        self.batch_size = batch_size or min(
            BATCH_MAX, max(BATCH_MIN, 2 * self.concurrency, math.ceil(rate * BATCH_SECONDS))
        )
        self._recorder = OutcomeRecorder(sessions, worker_id, self.stats)
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._states: dict[int, str] = {}
        self._states_at = float("-inf")
        self._frozen = FrozenSpecs()
        self._in_flight = 0
        self._stopping = False
        # Asked of Telegram once, when the first public ask needs a start link.
        self._bot_username: str | None = None

    # --- public -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due asks now (after a launch, a resume, or when the scheduler says so)."""
        self._wake.set()

    async def recover(self, now: datetime) -> int:
        """Mark asks a dead worker left in `sending` as unknown; return how many."""
        async with self.sessions() as session, session.begin():
            found = await outbox.recover_interrupted(
                session=session,
                reason=INTERRUPTED,
                stale_before=now - SENDING_LEASE,
                worker=self.worker_id,
            )
        if found:
            log.warning("%d asks were interrupted while sending; marked unknown", found)
        self.stats["recovered"] += found
        return found

    async def run_once(self, now: datetime) -> int:
        """Claim up to one batch of due asks, send them, record every outcome; return claimed."""
        claimed = await self._claim(now, self.batch_size)
        try:
            if claimed:
                await self._process(claimed, now)
        finally:
            await self._stop_lanes()
        await self._recorder.close()
        return len(claimed)

    async def run_forever(
        self, stop: asyncio.Event, clock: Callable[[], datetime] = utcnow
    ) -> None:
        """Send until `stop` is set, waking when asks fall due; finish in-flight sends on stop.

        A new batch is claimed while half of the previous one is still being sent, so the
        next batch is loaded and rendered while sends go on, and at most 1.5 batches (about
        three quarters of a second of sending) are ever in `sending` at once.
        """
        await self.recover(clock())
        batches: set[asyncio.Task[None]] = set()
        last_recover = self._mono()
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                now = clock()
                if self._mono() - last_recover > RECOVER_EVERY:
                    last_recover = self._mono()
                    await self._recover_stale(now)
                self._wake.clear()
                self._room.clear()
                if self._in_flight <= self.batch_size // 2:
                    claimed = await self._claim(now, self.batch_size)
                    if claimed:
                        task = asyncio.create_task(self._process(claimed, now))
                        batches.add(task)
                        task.add_done_callback(batches.discard)
                        continue
                    timeout = await self._idle_timeout(now)
                else:
                    timeout = IDLE_POLL
                waiters = [
                    asyncio.create_task(self._wake.wait()),
                    asyncio.create_task(self._room.wait()),
                ]
                await asyncio.wait(
                    {stopper, *waiters}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            self._stopping = True
            stopper.cancel()
            if batches:
                await asyncio.gather(*batches, return_exceptions=True)
            await self._stop_lanes()
            await self._recorder.close()

    # --- claiming ------------------------------------------------------------------------------

    async def _claim(self, now: datetime, limit: int) -> list[outbox.ClaimedAsk]:
        async with self.sessions() as session, session.begin():
            running = await campaign_runs.running_campaign_ids(session=session)
            claimed: list[outbox.ClaimedAsk] = []
            # An even share per running campaign first, so one big campaign cannot starve others.
            share = max(1, limit // max(1, len(running)))
            for rounds in (share, limit):
                for campaign_id in running:
                    room = min(rounds, limit - len(claimed))
                    if room <= 0:
                        break
                    taken = {a.id for a in claimed}
                    more = await outbox.claim_due_asks(
                        session=session,
                        campaign_id=campaign_id,
                        now=now,
                        limit=room,
                        worker=self.worker_id,
                    )
                    claimed += [a for a in more if a.id not in taken]
                if len(running) <= 1:
                    break
        self._in_flight += len(claimed)
        self.stats["claimed"] += len(claimed)
        return claimed

    async def _idle_timeout(self, now: datetime) -> float:
        async with self.sessions() as session:
            due = await outbox.next_due_at(session=session)
        if due is None:
            return IDLE_POLL
        return max(0.0, min(IDLE_POLL, (due - now).total_seconds()))

    async def _recover_stale(self, now: datetime) -> None:
        async with self.sessions() as session, session.begin():
            found = await outbox.recover_interrupted(
                session=session, reason=INTERRUPTED, stale_before=now - SENDING_LEASE
            )
        if found:
            log.warning("%d asks abandoned by a dead worker; marked unknown", found)

    # --- one batch -----------------------------------------------------------------------------

    async def _process(self, claimed: list[outbox.ClaimedAsk], now: datetime) -> None:
        started = self._mono()
        jobs: list[ReadyAsk] = []
        try:
            jobs = await self._prepare(claimed, now)
        except Exception:
            # They stay in `sending` and are settled as unknown by the next recovery.
            log.exception("could not prepare %d claimed asks", len(claimed))
        finally:
            self._settled(len(claimed) - len(jobs))
        if not jobs:
            return
        batch = _Batch(now, started, len(jobs), asyncio.Event())
        self._start_lanes()
        for job in jobs:
            self._queue.put_nowait((job, batch))
        await batch.done.wait()

    def _start_lanes(self) -> None:
        if not self._lanes:
            self._lanes = [asyncio.create_task(self._lane()) for _ in range(self.concurrency)]

    async def _stop_lanes(self) -> None:
        """Stop the lanes once no batch needs them (their queue is empty by then)."""
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)

    async def _lane(self) -> None:
        """Send queued asks one at a time, for as long as the worker runs."""
        while True:
            job, batch = await self._queue.get()
            try:
                await self._deliver_one(job, batch.now, batch.started)
            except Exception:  # the ask stays `sending` and is recovered as unknown
                log.exception("could not send ask %d", job.ask.id)
            finally:
                self._settled(1)
                batch.left -= 1
                if not batch.left:
                    batch.done.set()

    def _settled(self, count: int) -> None:
        """Count asks as done; let the claim loop refill once half a batch is left."""
        self._in_flight -= count
        if self._in_flight <= self.batch_size // 2:
            self._room.set()

    async def _prepare(self, claimed: list[outbox.ClaimedAsk], now: datetime) -> list[ReadyAsk]:
        """Load what the batch needs in one read, decide each ask, render those that go."""
        facts = await read_batch(
            self.sessions, claimed, now, settings=self.settings, frozen=self._frozen
        )
        self._states.update({cid: run.state for cid, run in facts.runs.items()})
        self._states_at = self._mono()
        if self._bot_username is None and any(
            GROUP_REPLY in spec.ways() for spec in facts.specs.values()
        ):
            try:
                self._bot_username = await self.sender.bot_username() or ""
            except SendRefused as refused:
                log.warning("no start links for public asks: %s", refused)
        return decide_batch(
            claimed,
            facts,
            now,
            settings=self.settings,
            current=self._specs,
            recorder=self._recorder,
            bot_username=self._bot_username,
        )

    # --- sending one ---------------------------------------------------------------------------

    async def _deliver_one(self, job: ReadyAsk, now: datetime, started: float) -> None:
        ask = job.ask
        busy_for = await self._pace(job.chat_id)
        if busy_for:
            # No slot within max_wait (a long 429 pause): back to the queue until then.
            due = self._at(now, started) + timedelta(seconds=busy_for)
            self._recorder.retry_at(ask, due, ask.attempts, None)
            return
        state = await self._state_of(ask.campaign_id)
        if state != RUNNING or self._stopping:
            self._recorder.settle_unsent(ask, RUNNING if self._stopping else state)
            return
        # The last check, right before the request leaves (the state check above may have
        # waited for the database): never more than the rate in any one-second window,
        # however the slots were bunched by a busy event loop.
        while (late := self.limiter.window_wait(self._mono())) > 0:
            await self._sleep(late)
        self.limiter.started(self._mono())
        if job.reply_to is None:
            outcome = await self.sender.send_text(
                job.chat_id, job.text, buttons=job.buttons, paid=self.paid
            )
        else:
            outcome = await self.sender.send_text(
                job.chat_id, job.text, buttons=job.buttons, reply_to=job.reply_to
            )
        self._record(job, outcome, self._at(now, started))

    async def _pace(self, chat_id: int) -> float:
        """Wait for a send slot that keeps the pace and the per-chat limits; return 0, or the
        wait it would take when that is longer than max_wait."""
        deadline = self._mono() + self._max_wait
        while True:
            now = self._mono()
            reservation = self.limiter.reserve(chat_id, now)
            if reservation.wait > 0:
                if now + reservation.wait > deadline:
                    return reservation.wait
                await self._sleep(reservation.wait)
            if reservation.booked and not self.limiter.is_paused(self._mono()):
                return 0.0

    async def _state_of(self, campaign_id: int) -> str:
        if self._mono() - self._states_at > STATE_TTL:
            self._states_at = self._mono()
            async with self.sessions() as session:
                fresh = await campaign_runs.campaign_states(
                    session=session, ids=list(self._states)
                )
            self._states.update(fresh)
        return self._states.get(campaign_id, CANCELLED)

    def _at(self, now: datetime, started: float) -> datetime:
        """Give the database time of this moment: the batch's `now` plus time spent since."""
        return now + timedelta(seconds=max(0.0, self._mono() - started))

    def _record(self, job: ReadyAsk, outcome: SendOutcome, at: datetime) -> None:
        ask = job.ask
        result = outcome.result
        self.stats[result.value] += 1
        tries = ask.attempts + 1
        if result is Result.SENT:
            self._recorder.add(
                outbox.AskUpdate(
                    id=ask.id,
                    state=SENT,
                    due_at=ask.due_at,
                    attempts=tries,
                    sent_at=at,
                    chat_id=job.chat_id,
                    telegram_message_id=outcome.message_id,
                ),
                outbox.SupporterUpdate(ask.supporter_id, asked_at=at)
                if ask.supporter_id
                else None,
            )
        elif result is Result.RETRY_AFTER:
            # Telegram sent nothing and asked for a pause: it applies to every send, and this
            # ask goes back to the queue without counting as a failed attempt.
            self.limiter.pause(self._mono(), outcome.retry_after)
            due = at + timedelta(seconds=outcome.retry_after)
            self._recorder.retry_at(
                ask, due, ask.attempts, f"flood limit: retry after {outcome.retry_after:g} s"
            )
        elif result is Result.HALT:
            log.error("Telegram refused the bot token (%s); pausing sends", outcome.description)
            self.limiter.pause(self._mono(), HALT_PAUSE)
            self._recorder.retry_at(
                ask, at + timedelta(seconds=HALT_PAUSE), ask.attempts, outcome.description
            )
        elif result is Result.TRANSIENT:
            if tries >= self.settings.max_send_attempts:
                reason = f"gave up after {tries} attempts: {outcome.description}"
                self._recorder.finish(ask, FAILED, reason, attempts=tries)
            else:
                due = at + timedelta(seconds=backoff_seconds(tries))
                self._recorder.retry_at(
                    ask, due, tries, f"attempt {tries} failed: {outcome.description}"
                )
        elif result is Result.AMBIGUOUS:
            reason = f"no answer after sending ({outcome.description}); not retried"
            self._recorder.finish(ask, UNKNOWN, reason, attempts=tries)
        elif result is Result.BLOCKED:
            self._recorder.finish(
                ask,
                FAILED,
                f"blocked: {outcome.description}",
                attempts=tries,
                person=outbox.SupporterUpdate(ask.supporter_id, blocked_at=at)
                if ask.supporter_id
                else None,
            )
        elif result is Result.UNREACHABLE:
            self._recorder.finish(
                ask,
                FAILED,
                f"unreachable: {outcome.description}",
                attempts=tries,
                person=outbox.SupporterUpdate(
                    ask.supporter_id,
                    unreachable=True,
                    deactivated_at=at if is_deactivated(outcome.description) else None,
                )
                if ask.supporter_id
                else None,
            )
        else:
            self._recorder.finish(
                ask, FAILED, outcome.description or "rejected by Telegram", attempts=tries
            )
