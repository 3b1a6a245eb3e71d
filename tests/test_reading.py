"""Members' messages read in batches: in the bot's process or in worker processes, alike."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import pytest

from bot.domain.community import read_message
from bot.services.reading import MessageReader

CORPUS = Path(__file__).parent / "data" / "replies.tsv"


def _messages(count: int) -> list[tuple[str, str | None]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    picked = rows[:: max(1, len(rows) // count)][:count]
    # Telegram's codes as members send them: with a region, or none at all.
    codes = ["en", "nl-BE", None, "de"]
    return [(row["text"], codes[i % len(codes)]) for i, row in enumerate(picked)]


async def test_worker_processes_read_as_the_bots_own_process_does_in_order() -> None:
    messages = _messages(120)
    expected = [read_message(text, language) for text, language in messages]
    assert await MessageReader(0).read(messages) == expected
    reader = MessageReader(2)
    try:
        assert await reader.read(messages) == expected
        assert await reader.read(messages[:1]) == expected[:1]
        assert await reader.read([]) == []
    finally:
        reader.close()
    reader.close()  # a second close changes nothing


async def test_a_dead_worker_is_replaced_and_its_batch_read_here(
    caplog: pytest.LogCaptureFixture,
) -> None:
    messages = _messages(40)
    expected = [read_message(text, language) for text, language in messages]
    reader = MessageReader(1)
    try:
        assert await reader.read(messages) == expected
        pool = reader._pool
        assert pool is not None
        for pid in list(pool._processes):  # the pool's own record of its workers
            os.kill(pid, signal.SIGKILL)
        assert await reader.read(messages) == expected
        assert "reader process died" in caplog.text
        assert reader._pool is not pool or reader._pool is None
        assert await reader.read(messages) == expected  # a new worker
        assert reader._pool is not None and reader._pool is not pool
    finally:
        reader.close()
