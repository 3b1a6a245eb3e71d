"""`campaign-bot run`: python-telegram-bot, the scheduler and the web app on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.constants import ParseMode

from bot.clock import utcnow
from bot.config import Settings, SettingsError
from bot.scheduler import Delivery, running_delivery
from bot.services.audit import read_audit_log
from bot.services.donations import DonationOutcome, announce_gift
from bot.services.registry import CampaignRegistry
from bot.storage.db import open_database
from bot.telegram import community
from bot.telegram.application import ALLOWED_UPDATES, build_application, register_commands
from bot.telegram.context import BotApplication, BotServices
from bot.telegram.sender import TelegramSender
from bot.telegram.webhook import telegram_route, webhook_url
from bot.web import create_web_app

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to run_bot."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    """Bind the web port before serving, so a taken port fails at once and port 0 works."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP lets asyncio turn off Nagle on accepted connections (else ~40 ms stalls).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def _serve(app: Any, host: str, port: int, log_level: str) -> AsyncIterator[str]:
    """Serve the web app in this event loop and yield its URL; stop it on exit."""
    sock = _listen(host, port)
    config = uvicorn.Config(
        app, log_level=log_level.lower(), access_log=False, lifespan="on", log_config=None
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError(f"the web server could not start on {host}:{port}")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()[1]
        yield f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class BotRuntime:
    """A running bot: its Application, services and where its web app listens."""

    application: BotApplication
    services: BotServices
    web_url: str | None
    # The outbox worker and scheduler running in this process (the demo drives its jobs).
    delivery: Delivery | None = None


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    webhook: bool = False,
    registry: CampaignRegistry | None = None,
    clock: Callable[[], datetime] = utcnow,
    serve_web: bool = True,
    poll_timeout: float = 10.0,
) -> AsyncIterator[BotRuntime]:
    """Run the bot (polling or webhook), its scheduler and web app until the block ends."""
    if registry is None:
        registry = CampaignRegistry(settings.campaigns_dir)
        for error in registry.reload():
            log.warning("campaign file problem: %s", error)
    services = BotServices(settings=settings, sessions=sessions, registry=registry, clock=clock)
    application = build_application(services, polling=not webhook)

    async def on_gift(outcome: DonationOutcome) -> None:
        await announce_gift(
            TelegramSender(application.bot),
            outcome,
            specs=registry.campaigns,
            settings=settings,
            sessions=sessions,
        )

    routes = [telegram_route(application, settings.webhook_secret)] if webhook else []
    web_app = create_web_app(
        sessions=sessions,
        settings=settings,
        specs=lambda: registry.campaigns,
        clock=clock,
        on_gift=on_gift,
        extra_routes=routes,
    )
    # Exits run in reverse: background jobs, updates, web app, then the Application.
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(application)
        # Entered before start, so its last facts are written after the last update is handled.
        await stack.enter_async_context(community.listening(application))
        await application.start()
        stack.push_async_callback(application.stop)
        web_url = None
        if serve_web:
            web_url = await stack.enter_async_context(
                _serve(web_app, settings.web_host, settings.web_port, settings.log_level)
            )
        await register_commands(application.bot, settings)
        updates = ALLOWED_UPDATES
        if webhook:
            await application.bot.set_webhook(
                webhook_url(settings.public_base_url),
                secret_token=settings.webhook_secret,
                allowed_updates=updates,
            )
        else:
            assert application.updater is not None
            await application.bot.delete_webhook()
            await application.updater.start_polling(
                timeout=timedelta(seconds=poll_timeout), allowed_updates=updates
            )
            stack.push_async_callback(application.updater.stop)
        delivery = await stack.enter_async_context(_background(services, application))
        log.info("bot running (%s); web app at %s", "webhook" if webhook else "polling", web_url)
        yield BotRuntime(
            application=application, services=services, web_url=web_url, delivery=delivery
        )


@contextlib.asynccontextmanager
async def _background(
    services: BotServices, application: BotApplication
) -> AsyncIterator[Delivery]:
    """Run the outbox worker and the scheduled jobs while the bot runs."""
    settings = services.settings

    async def send_staff(text: str) -> None:
        if settings.staff_chat_id is not None:
            await application.bot.send_message(
                settings.staff_chat_id, text, parse_mode=ParseMode.HTML
            )

    # The outbox sends through its own Bot and connection pool, so a burst of asks never
    # queues behind (or delays) the answers to staff and supporters.
    async with running_delivery(
        settings,
        services.sessions,
        specs=lambda: services.registry.campaigns,
        clock=services.clock,
        send_staff=send_staff,
    ) as delivery:
        services.wake_outbox = delivery.wake
        yield delivery


async def _check_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Fail with one clear line when the database is unreachable or has no tables yet."""
    try:
        await read_audit_log(sessions)  # fails if the tables are missing
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SettingsError(
            [f"DATABASE_URL: cannot be used ({reason}); run `campaign-bot db upgrade` first"]
        ) from None


async def run_bot(settings: Settings, *, webhook: bool, stop: asyncio.Event | None = None) -> None:
    """Run the bot until SIGINT or SIGTERM (or until stop is set), then shut down cleanly.

    The settings are loaded for the run mode (`load_settings(mode=...)`), which refuses what
    polling or webhook mode cannot start without.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        async with open_database(settings.database_url) as sessions:
            await _check_database(sessions)
            async with running_bot(settings, sessions, webhook=webhook):
                await stop.wait()
                log.info("stopping")
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
