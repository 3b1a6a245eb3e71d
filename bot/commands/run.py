"""`campaign-bot run` and `campaign-bot sandbox`: run the bot, or a local Bot API to try it on."""

from __future__ import annotations

import asyncio
import logging

import typer

from bot.commands.common import fail, settings, telegram_errors
from bot.config import RunMode, SettingsError

app = typer.Typer()


def _configure_logging(level: str) -> None:
    """Log to stderr at LOG_LEVEL, without one line per HTTP request to the Bot API."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command("run")
def run(
    webhook: bool = typer.Option(
        False,
        "--webhook",
        help="Receive updates at PUBLIC_BASE_URL/telegram (needs WEBHOOK_SECRET) "
        "instead of polling Telegram.",
    ),
) -> None:
    """Run the bot: staff commands, supporter conversations, sending, links and webhooks."""
    # Imported here: the bot's stack (PTB, uvicorn, the services) takes most of a second to
    # import, which other commands and `--help` should not pay for.
    from bot.app import run_bot

    current = settings(RunMode.WEBHOOK if webhook else RunMode.POLLING)
    if not logging.getLogger().handlers:
        _configure_logging(current.log_level)
    with telegram_errors(current):
        try:
            asyncio.run(run_bot(current, webhook=webhook))
        except SettingsError as exc:
            fail(exc.lines)
        except OSError as exc:
            fail(f"Could not start: {exc}")


@app.command("sandbox")
def sandbox(
    port: int = typer.Option(8081, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    token: str | None = typer.Option(
        None, "--token", help="Accept only this bot token (default: any well-formed token)."
    ),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Do not enforce Telegram's flood limits (no 429 answers)."
    ),
) -> None:
    """Run a local Telegram Bot API sandbox to try the bot without Telegram."""
    # Imported here: only this command needs the sandbox server.
    from bot.sandbox.server import serve_sandbox

    typer.echo(
        "To try the bot: set TELEGRAM_BASE_URL to the Bot API base URL below (in .env), run "
        "`campaign-bot run` in another terminal, and play users through the control API "
        "(see 'Trying the bot by hand' in the README)."
    )
    try:
        serve_sandbox(host, port, token, limits_enabled=not no_limits)
    except OSError as exc:
        fail(f"Could not start the sandbox on {host}:{port}: {exc}")
    except KeyboardInterrupt:
        pass
