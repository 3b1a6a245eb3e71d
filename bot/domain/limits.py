"""Telegram's flood limits on our side: a paced global rate, 1/s per chat, 20/min per group."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

ChatId = int | str
# Forget per-chat history this long after its last use; the limits look back at most a minute.
_FORGET_AFTER = 61.0
# Waits are computed by subtraction; a nanosecond of slack keeps rounding from looping forever.
_SLACK = 1e-9


def is_group(chat: ChatId) -> bool:
    """Tell whether a chat is a group or channel (negative id or @name) rather than a person."""
    return isinstance(chat, str) or chat < 0


@dataclass(frozen=True)
class LimitSettings:
    """The limits the sender keeps to, in messages per second and per minute."""

    per_second: float = 25.0
    per_chat_interval: float = 1.0
    per_group_per_minute: int = 20
    # How many sends may go at once after a stall, before pacing resumes; 1 = strictly paced.
    burst: int = 1
    # Telegram counts messages per second as they arrive; requests that leave on time can
    # still arrive bunched. No more than ceil(per_second) sends start in any window this much
    # longer than a second, so up to this much bunching on the way does no harm.
    window_slack: float = 0.03


@dataclass(frozen=True)
class Reservation:
    """How long to wait, and whether a send slot was booked at the end of the wait."""

    wait: float
    booked: bool


class SendLimiter:
    """Reserve send slots in time order, so concurrent senders together keep every limit.

    Times are plain seconds from any monotonic clock the caller chooses; nothing here reads a
    clock. `reserve` books the earliest slot that fits every limit and says how long to wait
    for it, so many tasks can book ahead and sleep, and the global pace still holds.
    """

    def __init__(self, limits: LimitSettings) -> None:
        if limits.per_second <= 0:
            raise ValueError("per_second must be positive")
        self.limits = limits
        self._interval = 1.0 / limits.per_second
        self._tolerance = max(limits.burst - 1, 0) * self._interval
        # Generic cell rate algorithm: the theoretical time the next send is due.
        self._next_global = float("-inf")
        self._paused_until = float("-inf")
        self._chats: dict[ChatId, float] = {}
        self._groups: dict[ChatId, deque[float]] = {}
        self._last_prune = float("-inf")
        self.reserved = 0
        self._window = 1.0 + limits.window_slack
        # Start times of the last ceil(per_second) sends: the sliding-window guard.
        self._started: deque[float] = deque(maxlen=max(1, math.ceil(limits.per_second)))

    @property
    def paused_until(self) -> float:
        """Give the time until which all sending is paused (after a 429); only tests read it."""
        return self._paused_until

    def is_paused(self, now: float) -> bool:
        """Tell whether a 429 pause is still running at `now`."""
        return now < self._paused_until

    def pause(self, now: float, seconds: float) -> None:
        """Stop all sending for `seconds` from `now`, as Telegram's retry_after asks."""
        until = now + max(seconds, 0.0)
        self._paused_until = max(self._paused_until, until)
        # Slots booked before the pause are void; pacing restarts when the pause ends.
        self._next_global = max(self._next_global, self._paused_until)

    def reserve(self, chat: ChatId, now: float) -> Reservation:
        """Book the earliest slot for one message to `chat`, or say how long the chat is busy.

        A chat still inside its own limit books nothing, so one busy chat never holds a
        global slot that others could use: the caller waits `wait` and asks again.
        """
        self._prune(now)
        limits = self.limits
        sent: deque[float] | None = None
        if is_group(chat):
            sent = self._groups.setdefault(chat, deque())
            while sent and sent[0] <= now - 60.0 + _SLACK:
                sent.popleft()
            if len(sent) >= limits.per_group_per_minute:
                return Reservation(sent[-limits.per_group_per_minute] + 60.0 - now, booked=False)
        else:
            free_at = self._chats.get(chat, float("-inf"))
            if free_at > now + _SLACK:
                return Reservation(free_at - now, booked=False)
        slot = max(now, self._paused_until, self._next_global - self._tolerance)
        self._next_global = max(self._next_global, slot) + self._interval
        if sent is not None:
            sent.append(slot)
        else:
            self._chats[chat] = slot + limits.per_chat_interval
        self.reserved += 1
        return Reservation(slot - now, booked=True)

    def window_wait(self, now: float) -> float:
        """Say how long to wait before the next send may start without exceeding the rate in
        any sliding window of one second (plus slack); 0 when it may start now."""
        if len(self._started) < (self._started.maxlen or 1):
            return 0.0
        return max(0.0, self._started[0] + self._window - now)

    def started(self, now: float) -> None:
        """Note that a send starts now (after its slot and window_wait)."""
        self._started.append(now)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < _FORGET_AFTER:
            return
        self._last_prune = now
        self._chats = {c: t for c, t in self._chats.items() if t > now - _FORGET_AFTER}
        self._groups = {c: q for c, q in self._groups.items() if q and q[-1] > now - _FORGET_AFTER}


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Give the wait before retry number `attempt` (1-based): 2, 4, 8, ... up to `cap`."""
    return min(cap, base * 2.0 ** max(attempt - 1, 0))
