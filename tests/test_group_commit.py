"""GroupRunner: callers share runs of a batch function, in one lane or several."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.services.group_commit import GroupRunner


class Recorder:
    """A batch function that holds each run until released, and records the groups."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.running = 0
        self.most_at_once = 0
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def run(self, items: Sequence[int]) -> list[int | Exception]:
        self.groups.append(list(items))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        await self.release.wait()
        self.running -= 1
        return [ValueError(f"no {i}") if i < 0 else i * 10 for i in items]


async def test_items_arriving_during_a_run_form_the_next_group() -> None:
    recorder = Recorder()
    runner = GroupRunner(recorder.run)
    first = asyncio.create_task(runner(1))
    await recorder.started.wait()
    rest = [asyncio.create_task(runner(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)  # let them queue behind the running group
    recorder.release.set()
    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40]
    assert recorder.groups == [[1], [2, 3, 4]]
    assert recorder.most_at_once == 1


async def test_two_lanes_run_two_groups_at_once_and_never_more() -> None:
    recorder = Recorder()
    runner = GroupRunner(recorder.run, lanes=2)
    tasks = [asyncio.create_task(runner(1))]
    await recorder.started.wait()
    tasks.append(asyncio.create_task(runner(2)))
    for _ in range(3):
        await asyncio.sleep(0)
    tasks += [asyncio.create_task(runner(i)) for i in (3, 4, 5)]
    for _ in range(3):
        await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(*tasks) == [10, 20, 30, 40, 50]
    assert recorder.groups == [[1], [2], [3, 4, 5]]
    assert recorder.most_at_once == 2


async def test_an_outcome_that_is_an_error_fails_only_its_own_caller() -> None:
    recorder = Recorder()
    recorder.release.set()
    runner = GroupRunner(recorder.run, lanes=2)
    results = await asyncio.gather(runner(1), runner(-1), runner(2), return_exceptions=True)
    assert results[0] == 10 and results[2] == 20
    assert isinstance(results[1], ValueError) and str(results[1]) == "no -1"
