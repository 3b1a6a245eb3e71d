"""Read community members' messages in batches, in a worker process when one is configured.

Reading a message (bot/domain/community.read_message: the classifier's rules and model) is the
bot's largest CPU cost per community update. The recorder hands each batch's messages here; with
COMMUNITY_READER_PROCESSES at 1 or more they are read in that many worker processes while the
bot's own process goes on fetching and handling updates. With 0 they are read in the bot's
process. A worker that dies is replaced, and that batch is read in the bot's process: nothing is
lost or read twice. The words only pass through memory; nothing here stores them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.domain.community import read_messages

log = logging.getLogger(__name__)

Message = tuple[str, str | None]  # the words and the member's Telegram language code
MessageReading = tuple[str, bool]  # sentiment, and whether it asks a question


class MessageReader:
    """Read batches of messages, in worker processes or in this one."""

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # A fresh interpreter (not a fork of this one, with its threads and event loop)
            # that loads the lexicons and the model once, now rather than on the first batch.
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn")
            )
            self._pool.submit(read_messages, [("", None)])
        return self._pool

    def start(self) -> None:
        """Start the worker processes, if any, so the first batch does not wait for them."""
        if self.processes:
            self._workers()

    async def read(self, messages: Sequence[Message]) -> list[MessageReading]:
        """Return each message's sentiment and whether it is a question, in order."""
        if not messages:
            return []
        if not self.processes:
            return read_messages(messages)
        batch = list(messages)
        size = -(-len(batch) // self.processes)  # one share for each worker
        shares = [batch[i : i + size] for i in range(0, len(batch), size)]
        loop = asyncio.get_running_loop()
        workers = self._workers()
        try:
            read = await asyncio.gather(
                *(loop.run_in_executor(workers, read_messages, share) for share in shares)
            )
            return [reading for share in read for reading in share]
        except BrokenProcessPool:
            log.warning("a message reader process died; it is replaced, this batch read here")
            self.close()
            return read_messages(batch)

    def close(self) -> None:
        """Stop the worker processes (they finish what they are reading first)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
