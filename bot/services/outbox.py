"""The outbox worker: claim due asks, render them, send them at Telegram's pace, record each.

Crash safety: an ask is claimed (state `sending`, committed) before its request goes out, and
its outcome is committed as soon as possible after the answer, in small group commits. A
process killed in between leaves the ask in `sending`; on start-up it is marked `unknown`
("interrupted while sending") and never sent again, because Telegram may have delivered it.
Only answers that prove nothing was delivered (429, 5xx, no connection made) are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import utcnow
from bot.config import Settings
from bot.domain.campaign import Campaign, frozen_spec
from bot.domain.campaign_state import RUNNING
from bot.domain.limits import LimitSettings, SendLimiter, backoff_seconds
from bot.domain.schedule import is_open, next_open
from bot.domain.templating import MessageContext, TemplateProblem, render_message
from bot.services.campaigns import CANCEL_REASON
from bot.storage import campaign_runs, outbox, recipients
from bot.storage.models import CANCELLED, FAILED, PENDING, SENT, SKIPPED, UNKNOWN
from bot.telegram.sender import Button, Result, SendOutcome

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
# Outcomes are committed in groups: after this long, or once this many are waiting.
FLUSH_DELAY = 0.05
FLUSH_AT = 64
# A refused bot token stops all sending for this long rather than failing every ask.
HALT_PAUSE = 60.0

BUTTON_LABELS: Mapping[str, tuple[str, str, str]] = {
    "en": ("Donate", "Not now", "Stop messages"),
    "nl": ("Doneer", "Nu niet", "Stop berichten"),
    "de": ("Spenden", "Jetzt nicht", "Keine Nachrichten mehr"),
    "fr": ("Faire un don", "Pas maintenant", "Arrêter les messages"),
    "es": ("Donar", "Ahora no", "No más mensajes"),
}


class Sender(Protocol):
    """What the worker needs from a Telegram sender (bot.telegram.sender.TelegramSender)."""

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] = (),
        paid: bool = False,
    ) -> SendOutcome:
        """Send one message and report what became of it."""
        ...


# "Give in Telegram" (Telegram payments), shown only when a payment provider is configured.
GIVE_LABELS: Mapping[str, str] = {
    "en": "Give in Telegram",
    "nl": "Geef via Telegram",
    "de": "In Telegram spenden",
    "fr": "Donner dans Telegram",
    "es": "Donar en Telegram",
}


def ask_buttons(
    token: str, link: str, language: str | None, *, telegram_payments: bool = False
) -> list[list[Button]]:
    """Build an ask's inline buttons: Donate (tracked link), Not now, Stop messages."""
    primary = (language or "en").split("-")[0].lower()
    donate, not_now, stop = BUTTON_LABELS.get(primary, BUTTON_LABELS["en"])
    first = [Button(donate, url=link)]
    if telegram_payments:
        first.append(
            Button(GIVE_LABELS.get(primary, GIVE_LABELS["en"]), callback_data=f"give:{token}")
        )
    return [
        first,
        [
            Button(not_now, callback_data=f"notnow:{token}"),
            Button(stop, callback_data=f"stop:{token}"),
        ],
    ]


def tracked_link(settings: Settings, token: str) -> str:
    """Give the tracked link of an ask or post token, served by the bot's web app."""
    return f"{settings.public_base_url.rstrip('/')}/r/{token}"


def limiter_for(settings: Settings) -> SendLimiter:
    """Build the send limiter for the configured rate (paid broadcast or not)."""
    rate = (
        settings.paid_rate_per_second if settings.paid_broadcast else settings.send_rate_per_second
    )
    # At paid rates one millisecond of scheduling jitter is a whole slot: allow a small burst.
    return SendLimiter(LimitSettings(per_second=rate, burst=max(1, int(rate // 100))))


@dataclass(frozen=True)
class _Job:
    """A claimed ask that is ready to go: where, what, with which buttons."""

    ask: outbox.ClaimedAsk
    chat_id: int
    text: str
    buttons: list[list[Button]]


@dataclass
class _Batch:
    """The asks of one claim on their way out: its clock, and how many are still unsent."""

    now: datetime
    started: float
    left: int
    done: asyncio.Event


class _Recorder:
    """Commit ask outcomes in small groups soon after they come in.

    A commit waits up to FLUSH_DELAY for more outcomes (or until FLUSH_AT are queued): one
    transaction per few dozen sends instead of one each. A process killed meanwhile loses at
    most that much: those asks stay in `sending` and are recovered as unknown, never resent.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker: str) -> None:
        self._sessions = sessions
        self._worker = worker
        self._asks: list[outbox.AskUpdate] = []
        self._people: list[outbox.SupporterUpdate] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self.committed = 0

    def add(self, ask: outbox.AskUpdate, person: outbox.SupporterUpdate | None = None) -> None:
        """Queue one outcome and make sure a commit will pick it up soon."""
        self._asks.append(ask)
        if person is not None:
            self._people.append(person)
        if len(self._asks) >= FLUSH_AT:
            self._hurry.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._asks:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), FLUSH_DELAY)
                self._hurry.clear()
                await self.flush()
        except Exception:  # the asks stay `sending` and are recovered as unknown: log loudly
            log.exception("could not record send outcomes; will retry")

    async def flush(self) -> None:
        """Commit every queued outcome now (one transaction)."""
        async with self._lock:
            asks, people = self._asks, self._people
            if not asks and not people:
                return
            self._asks, self._people = [], []
            try:
                async with self._sessions() as session, session.begin():
                    await outbox.apply_outcomes(
                        session=session, worker=self._worker, asks=asks, supporters=people
                    )
            except BaseException:
                self._asks[:0], self._people[:0] = asks, people
                raise
            self.committed += len(asks)

    async def close(self) -> None:
        """Commit whatever is queued now and wait for it."""
        self._hurry.set()
        if self._task is not None:
            await self._task
        await self.flush()


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
        self._queue: asyncio.Queue[tuple[_Job, _Batch]] = asyncio.Queue()
        self._lanes: list[asyncio.Task[None]] = []
        # Claim about half a second of sending (and at least twice what is in flight): the
        # lanes never run dry and the per-batch queries are shared by many asks, yet few asks
        # sit in `sending` at once, so a crash leaves few of them unknown.
        self.batch_size = batch_size or min(
            BATCH_MAX, max(BATCH_MIN, 2 * self.concurrency, math.ceil(rate * BATCH_SECONDS))
        )
        self._recorder = _Recorder(sessions, worker_id)
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._states: dict[int, str] = {}
        self._states_at = float("-inf")
        self._frozen: dict[int, tuple[str, Campaign]] = {}
        self._in_flight = 0
        self._stopping = False

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
        jobs: list[_Job] = []
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

    async def _prepare(self, claimed: list[outbox.ClaimedAsk], now: datetime) -> list[_Job]:
        """Load what the batch needs in one read, decide each ask, render those that go."""
        supporter_ids = {a.supporter_id for a in claimed if a.supporter_id is not None}
        campaign_ids = {a.campaign_id for a in claimed}
        async with self.sessions() as session:
            runs = await campaign_runs.campaign_run_states(session=session, ids=campaign_ids)
            people = await recipients.supporter_facts(session=session, ids=supporter_ids)
            history = await recipients.interaction_history(session=session, ids=supporter_ids)
            specs: dict[int, Campaign] = {}
            unreadable: dict[int, str] = {}
            for cid, state in runs.items():
                try:
                    specs[cid] = self._frozen_spec(state)
                except ValueError as exc:  # pydantic's ValidationError is a ValueError
                    unreadable[cid] = f"the campaign's launch copy cannot be read: {exc}"

            capped = await self._capped(session, claimed, specs, now)
            not_now: set[tuple[int, int]] = set()
            for cid, facts in runs.items():
                later = {
                    a.supporter_id for a in claimed if a.campaign_id == cid and a.step != "ask"
                }
                ids = {s for s in later if s is not None}
                if ids:
                    said = await recipients.said_not_now(
                        session=session, supporter_ids=ids, campaign_name=facts.name
                    )
                    not_now |= {(cid, s) for s in said}
        self._states.update({cid: run.state for cid, run in runs.items()})
        self._states_at = self._mono()
        jobs = []
        # Every ask of a batch is checked against the same moment: one answer per window and zone.
        opened: dict[tuple[int, str], bool] = {}
        for ask in claimed:
            run = runs.get(ask.campaign_id)
            if run is None or run.state != RUNNING:
                self._settle_unsent(ask, run.state if run else CANCELLED)
                continue
            if ask.campaign_id in unreadable:
                self._finish(ask, FAILED, unreadable[ask.campaign_id])
                continue
            person = people.get(ask.supporter_id) if ask.supporter_id is not None else None
            reason = self._skip_reason(ask, person, capped, not_now)
            if reason is not None:
                self._finish(ask, SKIPPED, reason)
                continue
            assert person is not None and person.chat_id is not None
            spec = specs[ask.campaign_id]
            zone = _zone(person.timezone, spec, self.settings)
            key = (ask.campaign_id, zone.key)
            if key not in opened:
                opened[key] = is_open(spec.send_window, zone, now)
            if not opened[key]:
                self._retry_at(ask, next_open(spec.send_window, zone, now), ask.attempts, None)
                continue
            try:
                text = self._render(spec, run.name, ask, person, history, zone, now)
            except (TemplateProblem, KeyError) as problem:
                self._finish(ask, FAILED, f"message could not be rendered: {problem}"[:300])
                continue
            link = tracked_link(self.settings, ask.token)
            buttons = ask_buttons(
                ask.token,
                link,
                person.language or ask.language,
                telegram_payments=bool(self.settings.payment_provider_token),
            )
            jobs.append(_Job(ask, person.chat_id, text, buttons))
        return jobs

    def _frozen_spec(self, run: campaign_runs.CampaignRunState) -> Campaign:
        cached = self._frozen.get(run.id)
        if cached is None or cached[0] != run.spec_hash:
            cached = (run.spec_hash, frozen_spec(run.spec_yaml))
            self._frozen[run.id] = cached
        return cached[1]

    async def _capped(
        self,
        session: AsyncSession,
        claimed: list[outbox.ClaimedAsk],
        specs: Mapping[int, Campaign],
        now: datetime,
    ) -> set[int]:
        """Return the claimed ask ids that another campaign's recent ask rules out."""
        default = (
            timedelta(days=self.settings.frequency_cap_days)
            if self.settings.frequency_cap_days
            else None
        )
        caps = {
            cid: spec.frequency_cap if spec.frequency_cap is not None else default
            for cid, spec in specs.items()
        }
        longest = max((c for c in caps.values() if c is not None), default=None)
        if longest is None:
            return set()
        ids = {a.supporter_id for a in claimed if a.supporter_id is not None}
        sent = await recipients.recent_sends(
            session=session, supporter_ids=ids, since=now - longest
        )
        sends: dict[int, list[tuple[int, datetime]]] = {}
        for who, campaign, at in sent:
            sends.setdefault(who, []).append((campaign, at))
        capped: set[int] = set()
        chosen: dict[int, int] = {}
        for ask in claimed:
            sid, cap = ask.supporter_id, caps.get(ask.campaign_id)
            if sid is None or cap is None:
                continue
            asked_elsewhere = any(
                campaign != ask.campaign_id and at >= now - cap
                for campaign, at in sends.get(sid, [])
            )
            # Two campaigns due for one person in the same batch: the first one wins.
            if asked_elsewhere or chosen.get(sid, ask.campaign_id) != ask.campaign_id:
                capped.add(ask.id)
            else:
                chosen[sid] = ask.campaign_id
        return capped

    @staticmethod
    def _skip_reason(
        ask: outbox.ClaimedAsk,
        person: recipients.SupporterFacts | None,
        capped: set[int],
        not_now: set[tuple[int, int]],
    ) -> str | None:
        if person is None:
            return "supporter deleted"
        if person.forgotten_at is not None:
            return "supporter asked to be forgotten"
        if person.opted_out_at is not None:
            return "opted out"
        if person.blocked_at is not None:
            return "blocked the bot"
        if person.chat_id is None or person.consented_at is None:
            return "not reachable: has not started the bot"
        if ask.id in capped:
            return "frequency cap: asked in another campaign recently"
        if (ask.campaign_id, person.id) in not_now:
            return 'said "not now" to this campaign'
        return None

    def _render(
        self,
        spec: Campaign,
        name: str,
        ask: outbox.ClaimedAsk,
        person: recipients.SupporterFacts,
        history: Mapping[int, list[tuple[str, str | None, datetime]]],
        zone: ZoneInfo,
        now: datetime,
    ) -> str:
        """Render with the message texts in force now, the arms and steps frozen at launch."""
        key = _message_key(spec, ask)
        current = self._specs().get(name) if self._specs is not None else None
        source = current if current is not None and key in current.messages else spec
        context = MessageContext(
            today=now.astimezone(zone).date(),
            first_name=person.first_name,
            last_name=person.last_name,
            username=person.username,
            language=person.language or ask.language,
            donate_link=tracked_link(self.settings, ask.token),
            interactions=[
                (kind, detail, at.astimezone(zone))
                for kind, detail, at in history.get(person.id, [])
            ],
        )
        return render_message(source, key, context)

    # --- sending one ---------------------------------------------------------------------------

    async def _deliver_one(self, job: _Job, now: datetime, started: float) -> None:
        ask = job.ask
        busy_for = await self._pace(job.chat_id)
        if busy_for:
            # No slot within max_wait (a long 429 pause): back to the queue until then.
            due = self._at(now, started) + timedelta(seconds=busy_for)
            self._retry_at(ask, due, ask.attempts, None)
            return
        state = await self._state_of(ask.campaign_id)
        if state != RUNNING or self._stopping:
            self._settle_unsent(ask, RUNNING if self._stopping else state)
            return
        # The last check, right before the request leaves (the state check above may have
        # waited for the database): never more than the rate in any one-second window,
        # however the slots were bunched by a busy event loop.
        while (late := self.limiter.window_wait(self._mono())) > 0:
            await self._sleep(late)
        self.limiter.started(self._mono())
        outcome = await self.sender.send_text(
            job.chat_id, job.text, buttons=job.buttons, paid=self.paid
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

    def _record(self, job: _Job, outcome: SendOutcome, at: datetime) -> None:
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
            self._retry_at(
                ask, due, ask.attempts, f"flood limit: retry after {outcome.retry_after:g} s"
            )
        elif result is Result.HALT:
            log.error("Telegram refused the bot token (%s); pausing sends", outcome.description)
            self.limiter.pause(self._mono(), HALT_PAUSE)
            self._retry_at(
                ask, at + timedelta(seconds=HALT_PAUSE), ask.attempts, outcome.description
            )
        elif result is Result.TRANSIENT:
            if tries >= self.settings.max_send_attempts:
                reason = f"gave up after {tries} attempts: {outcome.description}"
                self._finish(ask, FAILED, reason, attempts=tries)
            else:
                due = at + timedelta(seconds=backoff_seconds(tries))
                self._retry_at(ask, due, tries, f"attempt {tries} failed: {outcome.description}")
        elif result is Result.AMBIGUOUS:
            reason = f"no answer after sending ({outcome.description}); not retried"
            self._finish(ask, UNKNOWN, reason, attempts=tries)
        elif result is Result.BLOCKED:
            self._finish(
                ask,
                FAILED,
                f"blocked: {outcome.description}",
                attempts=tries,
                person=outbox.SupporterUpdate(ask.supporter_id, blocked_at=at)
                if ask.supporter_id
                else None,
            )
        elif result is Result.UNREACHABLE:
            self._finish(
                ask,
                FAILED,
                f"unreachable: {outcome.description}",
                attempts=tries,
                person=outbox.SupporterUpdate(ask.supporter_id, unreachable=True)
                if ask.supporter_id
                else None,
            )
        else:
            self._finish(
                ask, FAILED, outcome.description or "rejected by Telegram", attempts=tries
            )

    # --- outcomes without a send -------------------------------------------------------------

    def _settle_unsent(self, ask: outbox.ClaimedAsk, state: str) -> None:
        """Put a claimed ask back (paused campaign, stopping) or cancel it (campaign ended)."""
        if state in (RUNNING, "paused"):
            self._retry_at(ask, ask.due_at, ask.attempts, None)
        else:
            self._finish(ask, CANCELLED, CANCEL_REASON)

    def _retry_at(
        self, ask: outbox.ClaimedAsk, due: datetime, attempts: int, reason: str | None
    ) -> None:
        self.stats["requeued"] += 1
        self._recorder.add(
            outbox.AskUpdate(
                id=ask.id, state=PENDING, due_at=due, attempts=attempts, failure_reason=reason
            )
        )

    def _finish(
        self,
        ask: outbox.ClaimedAsk,
        state: str,
        reason: str,
        *,
        attempts: int | None = None,
        person: outbox.SupporterUpdate | None = None,
    ) -> None:
        self.stats[state] += 1
        self._recorder.add(
            outbox.AskUpdate(
                id=ask.id,
                state=state,
                due_at=ask.due_at,
                attempts=ask.attempts if attempts is None else attempts,
                failure_reason=reason[:300],
            ),
            person,
        )


def _message_key(spec: Campaign, ask: outbox.ClaimedAsk) -> str:
    """Name the message an ask sends: its arm's for the first ask, its step's for follow-ups."""
    if ask.step == "ask":
        key = spec.arm(ask.arm).message
        if key is None:
            raise KeyError(f"arm {ask.arm!r} sends no message")
        return key
    for step in spec.follow_ups:
        if step.name == ask.step:
            return step.message
    raise KeyError(f"campaign {spec.name!r} has no follow-up step {ask.step!r}")


def _zone(name: str | None, spec: Campaign, settings: Settings) -> ZoneInfo:
    """Give the supporter's time zone when known and valid, else the campaign's or org's."""
    if name:
        with contextlib.suppress(ValueError, KeyError):
            return ZoneInfo(name)
    return spec.zone(settings.timezone)
