"""Record what became of claimed asks, committed in small groups soon after they come in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.campaign_state import RUNNING
from bot.services.campaigns import CANCEL_REASON
from bot.storage import outbox
from bot.storage.models import CANCELLED, PENDING

log = logging.getLogger(__name__)

# Outcomes are committed in groups: after this long, or once this many are waiting.
FLUSH_DELAY = 0.05
FLUSH_AT = 64


class OutcomeRecorder:
    """Commit ask outcomes in small groups soon after they come in.

    A commit waits up to FLUSH_DELAY for more outcomes (or until FLUSH_AT are queued): one
    transaction per few dozen sends instead of one each. A process killed meanwhile loses at
    most that much: those asks stay in `sending` and are recovered as unknown, never resent.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], worker: str, stats: Counter[str]
    ) -> None:
        self._sessions = sessions
        self._worker = worker
        self._stats = stats
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

    # --- outcomes without a send -------------------------------------------------------------

    def settle_unsent(self, ask: outbox.ClaimedAsk, state: str) -> None:
        """Put a claimed ask back (paused campaign, stopping) or cancel it (campaign ended)."""
        if state in (RUNNING, "paused"):
            self.retry_at(ask, ask.due_at, ask.attempts, None)
        else:
            self.finish(ask, CANCELLED, CANCEL_REASON)

    def retry_at(
        self, ask: outbox.ClaimedAsk, due: datetime, attempts: int, reason: str | None
    ) -> None:
        """Put a claimed ask back in the queue, due at `due`."""
        self._stats["requeued"] += 1
        self.add(
            outbox.AskUpdate(
                id=ask.id, state=PENDING, due_at=due, attempts=attempts, failure_reason=reason
            )
        )

    def finish(
        self,
        ask: outbox.ClaimedAsk,
        state: str,
        reason: str,
        *,
        attempts: int | None = None,
        person: outbox.SupporterUpdate | None = None,
    ) -> None:
        """Settle a claimed ask for good (failed, skipped, cancelled, unknown), saying why."""
        self._stats[state] += 1
        self.add(
            outbox.AskUpdate(
                id=ask.id,
                state=state,
                due_at=ask.due_at,
                attempts=ask.attempts if attempts is None else attempts,
                failure_reason=reason[:300],
            ),
            person,
        )
