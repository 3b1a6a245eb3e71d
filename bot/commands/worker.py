"""`campaign-bot worker`: a standalone outbox worker process, to scale sending out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

import typer

from bot.commands.common import database_errors, fail, settings, telegram_errors
from bot.config import RunMode, Settings

app = typer.Typer()

log = logging.getLogger(__name__)


async def run_worker(
    current: Settings, *, worker_id: str, concurrency: int, batch: int | None
) -> None:
    """Send due asks until SIGTERM or SIGINT, then finish in-flight sends and exit."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.outbox import OutboxWorker
    from bot.services.registry import CampaignRegistry
    from bot.storage.db import open_database
    from bot.telegram.sender import TelegramSender

    registry = CampaignRegistry(current.campaigns_dir)
    if current.campaigns_dir.is_dir():
        registry.reload()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with (
        open_database(current.database_url) as sessions,
        TelegramSender.from_settings(current, pool_size=concurrency or 64) as sender,
    ):
        worker = OutboxWorker(
            sessions,
            sender,
            current,
            worker_id=worker_id,
            specs=lambda: registry.campaigns,
            concurrency=concurrency or None,
            batch_size=batch,
        )
        log.info(
            "outbox worker %s sending at most %.0f/s", worker_id, worker.limiter.limits.per_second
        )
        await worker.run_forever(stop)
        log.info("outbox worker %s stopped: %s", worker_id, dict(worker.stats))


WORKER_HELP = (
    "Run an extra outbox worker against DATABASE_URL until SIGTERM or Ctrl+C. "
    "Several workers can share one PostgreSQL outbox (each claims with SKIP LOCKED); with "
    "SQLite, run one sender at a time. Each keeps SEND_RATE_PER_SECOND on its own, so split "
    "the rate between workers."
)


@app.command("worker", help=WORKER_HELP)
def worker(
    worker_id: str = typer.Option(
        "",
        "--id",
        help="This worker's name, unique among running workers (default: worker-HOSTNAME). "
        "Restarted under the same name, it settles its own interrupted sends at once.",
    ),
    concurrency: int = typer.Option(
        0, min=0, help="Sends in flight at once (0: enough for the rate, at most 64)."
    ),
    batch: int = typer.Option(
        0, min=0, help="Asks claimed at a time (0: about 0.5 s of sending)."
    ),
) -> None:
    """Run an extra outbox worker until SIGTERM or Ctrl+C."""
    current = settings(RunMode.WORKER)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=current.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    name = worker_id or f"worker-{socket.gethostname()}"
    with telegram_errors(current), database_errors():
        try:
            asyncio.run(
                run_worker(
                    current, worker_id=name[:64], concurrency=concurrency, batch=batch or None
                )
            )
        except OSError as exc:
            fail(f"Could not start: {exc}")
