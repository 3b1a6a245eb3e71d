"""Group commit: concurrent callers share one run of a batch function, each getting its result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupRunner(Generic[Item, Outcome]):
    """Hand each item to `run` with every other item that arrived meanwhile.

    One group runs at a time (up to `lanes` with more lanes); items arriving while every
    lane is busy form the next group, taken by the first lane to finish. A caller is
    answered when the run holding its item returns (after its commit, for a writer). It gets
    the run's exception if the run fails, or its own if the run returns one in its place. No
    task outlives an empty queue, so nothing needs starting or stopping.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Outcome | Exception]]],
        *,
        lanes: int = 1,
    ) -> None:
        self._run = run
        self._lanes = lanes
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._draining: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Outcome:
        """Queue an item and wait for the outcome of the group it is run in."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        # A task is done() as soon as its loop finds the queue empty; nothing can slip between.
        self._draining = {task for task in self._draining if not task.done()}
        if len(self._draining) < self._lanes:
            self._draining.add(asyncio.create_task(self._drain()))
        # shield: a caller that gives up (a client hanging up) must not cancel the group.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                outcomes = await self._run([item for item, _ in group])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:
                for _, future in group + self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
