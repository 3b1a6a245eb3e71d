"""Telegram's flood limits and the seeded fault plan the sandbox applies to Bot API calls."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

Clock = Callable[[], float]
ChatKey = int | str


@dataclass
class Limits:
    """The flood limits Telegram enforces, as numbers the sandbox can change."""

    enabled: bool = True
    global_per_s: int = 30
    per_chat_per_s: float = 1.0
    # Telegram tolerates short bursts to one chat; this is how many messages fit at once.
    per_chat_burst: int = 3
    per_group_per_min: int = 20
    paid_per_s: int = 1000

    def as_dict(self) -> dict[str, Any]:
        """Return the limits as a JSON-ready mapping."""
        return asdict(self)


def _retry_after(seconds: float) -> int:
    """Round a wait up to Telegram's whole seconds, never below one."""
    return max(1, math.ceil(seconds - 1e-9))


class RateLimiter:
    """Sliding windows for the global and group limits, a token bucket per private chat."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        # Paid broadcasts are charged beyond the free allowance, so they have their own window
        # and never use up the 30/s the bot's ordinary messages get.
        self._global: deque[float] = deque()
        self._paid: deque[float] = deque()
        self._groups: dict[ChatKey, deque[float]] = {}
        self._private: dict[ChatKey, tuple[float, float]] = {}

    def reset(self, limits: Limits | None = None) -> None:
        """Forget every window and optionally take new limits."""
        if limits is not None:
            self.limits = limits
        self._global.clear()
        self._paid.clear()
        self._groups.clear()
        self._private.clear()

    def acquire(self, chat: ChatKey, *, private: bool, paid: bool) -> int | None:
        """Count one message to `chat` if allowed; otherwise return the retry_after seconds."""
        lim = self.limits
        if not lim.enabled:
            return None
        now = self._clock()
        window = self._paid if paid else self._global
        while window and window[0] <= now - 1.0:
            window.popleft()
        cap = lim.paid_per_s if paid else lim.global_per_s
        if len(window) >= cap:
            # The window must shrink below the cap: wait for the entry that makes room.
            return _retry_after(window[len(window) - cap] + 1.0 - now)
        if private:
            tokens, last = self._private.get(chat, (float(lim.per_chat_burst), now))
            tokens = min(float(lim.per_chat_burst), tokens + (now - last) * lim.per_chat_per_s)
            if tokens < 1.0:
                return _retry_after((1.0 - tokens) / lim.per_chat_per_s)
            self._private[chat] = (tokens - 1.0, now)
        else:
            group = self._groups.setdefault(chat, deque())
            while group and group[0] <= now - 60.0:
                group.popleft()
            if len(group) >= lim.per_group_per_min:
                return _retry_after(group[len(group) - lim.per_group_per_min] + 60.0 - now)
            group.append(now)
        window.append(now)
        return None


@dataclass
class Faults:
    """Which share of calls fail and how; seeded so a run can be repeated exactly."""

    seed: int = 0
    rate_429: float = 0.0
    retry_after: int = 1
    rate_5xx: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    # False: the call is dropped before it runs; True: it runs, then the answer is lost.
    drop_after_send: bool = False
    methods: frozenset[str] | None = field(default=None)

    @property
    def active(self) -> bool:
        """Tell whether any fault can happen at all."""
        return any((self.rate_429, self.rate_5xx, self.slow_rate, self.drop_rate))

    def as_dict(self) -> dict[str, Any]:
        """Return the fault settings as a JSON-ready mapping."""
        data = asdict(self)
        data["methods"] = sorted(self.methods) if self.methods is not None else None
        return data


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one call: answer an error status, delay it, or drop the connection."""

    status: int | None = None
    retry_after: int = 1
    delay: float = 0.0
    drop: bool = False
    drop_after_send: bool = False


class FaultInjector:
    """Draw a reproducible fault plan for each Bot API call from one seeded generator."""

    def __init__(self) -> None:
        self.faults = Faults()
        self._rng = random.Random(0)
        self._methods: frozenset[str] | None = None

    def configure(self, faults: Faults) -> None:
        """Take new fault settings and restart the generator from their seed."""
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._methods = (
            frozenset(m.lower() for m in faults.methods) if faults.methods is not None else None
        )

    def draw(self, method: str) -> FaultPlan | None:
        """Return the plan for one call of `method` (lower-cased), or None for a clean call."""
        f = self.faults
        if not f.active or (self._methods is not None and method not in self._methods):
            return None
        # Always draw twice so the sequence depends only on the number of calls.
        roll, slow_roll = self._rng.random(), self._rng.random()
        delay = f.slow_seconds if slow_roll < f.slow_rate else 0.0
        if roll < f.rate_429:
            return FaultPlan(status=429, retry_after=max(1, f.retry_after), delay=delay)
        if roll < f.rate_429 + f.rate_5xx:
            return FaultPlan(status=self._rng.choice((500, 502)), delay=delay)
        if roll < f.rate_429 + f.rate_5xx + f.drop_rate:
            return FaultPlan(delay=delay, drop=True, drop_after_send=f.drop_after_send)
        return FaultPlan(delay=delay) if delay else None


def faults_from_json(data: dict[str, Any]) -> Faults:
    """Build fault settings from a control API body."""
    methods: Iterable[str] | None = data.get("methods")
    return Faults(
        seed=int(data.get("seed", 0)),
        rate_429=float(data.get("rate_429", 0)),
        retry_after=int(data.get("retry_after", 1)),
        rate_5xx=float(data.get("rate_5xx", 0)),
        slow_rate=float(data.get("slow_rate", 0)),
        slow_seconds=float(data.get("slow_seconds", 0)),
        drop_rate=float(data.get("drop_rate", 0)),
        drop_after_send=bool(data.get("drop_after_send", False)),
        methods=frozenset(methods) if methods is not None else None,
    )


def limits_from_json(data: dict[str, Any]) -> Limits:
    """Build flood limits from a control API body."""
    base = Limits()
    return Limits(
        enabled=bool(data.get("enabled", base.enabled)),
        global_per_s=int(data.get("global_per_s", base.global_per_s)),
        per_chat_per_s=float(data.get("per_chat_per_s", base.per_chat_per_s)),
        per_chat_burst=int(data.get("per_chat_burst", base.per_chat_burst)),
        per_group_per_min=int(data.get("per_group_per_min", base.per_group_per_min)),
        paid_per_s=int(data.get("paid_per_s", base.paid_per_s)),
    )


class ManualClock:
    """A clock that only moves when told, for limit tests that must not sleep."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self.now += seconds
