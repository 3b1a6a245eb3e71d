"""Test helpers: the one fake clock and the one wait for something another task or process does."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tests.factories import NOW

T = TypeVar("T")

# How long a test waits for the bot to react; generous for slow CI, never reached when green.
WAIT_SECONDS = 10.0


@dataclass
class FakeClock:
    """The tests' clock: moves only when a test advances it or the code under test sleeps on it.

    Call it for the bot's `now`; `monotonic` and `sleep` serve the send limiter and the sandbox's
    flood limits, and move together with `now`.
    """

    now: datetime = NOW
    seconds: float = 1_000.0
    slept: float = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        """Return the monotonic reading, in seconds."""
        return self.seconds

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta
        self.seconds += delta.total_seconds()

    async def sleep(self, seconds: float) -> None:
        """Let other tasks run, then move the clock to the end of the wait."""
        target = self.seconds + seconds
        await asyncio.sleep(0)
        if target > self.seconds:
            # Another sleeper may have moved the clock meanwhile; never move it back.
            self.now += timedelta(seconds=target - self.seconds)
            self.seconds = target
        self.slept += seconds


async def wait_for(
    check: Callable[[], Awaitable[T | None] | T | None],
    *,
    what: str,
    limit: float = WAIT_SECONDS,
    every: float = 0.01,
) -> T:
    """Poll a check (plain or async) until it returns something truthy, or fail naming `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(every)
