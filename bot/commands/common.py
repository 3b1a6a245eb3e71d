"""What every command shares: the consoles, a clean exit on error, and loading settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from bot.config import RunMode, Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)


def fail(lines: list[str] | str, code: int = 2) -> NoReturn:
    """Print one clear line per problem to stderr and exit without a traceback."""
    for line in [lines] if isinstance(lines, str) else lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def write_report(
    body: str, png: bytes | None, *, out: Path | None, chart: Path | None, what: str
) -> None:
    """Write a report to `out` (else standard output) and its chart, then say what was written."""
    try:
        if chart is not None and png is not None:
            chart.write_bytes(png)
        if out is not None:
            out.write_text(body, encoding="utf-8")
    except OSError as exc:
        fail(f"Could not write the {what}: {exc}")
    if out is None:
        # Plain print: rich markup would eat square brackets in campaign titles.
        print(body, end="")
    written = [str(p) for p in (out, chart) if p is not None]
    if written:
        console.print(f"Wrote {', '.join(written)}.", markup=False, highlight=False)


def settings(mode: RunMode = RunMode.TOOLS) -> Settings:
    """Load settings for a run mode or exit with one line per bad or missing setting."""
    try:
        return load_settings(mode=mode)
    except SettingsError as exc:
        fail(exc.lines)


def _reason(exc: BaseException) -> str:
    """Return the first line of what the database driver said, without SQLAlchemy's wrapping."""
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    # asyncpg's errors arrive as "<class 'asyncpg.exceptions.X'>: what happened".
    return re.sub(r"^<class '[^']+'>: ", "", text.splitlines()[0])


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn an unreachable, unusable or un-migrated database into one line, not a traceback."""
    # Imported here: SQLAlchemy is slow to import; `campaign-bot --help` should not wait for it.
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        fail(
            f"DATABASE_URL: cannot be used ({_reason(exc)}); check that the database answers "
            "and run `campaign-bot db upgrade`"
        )


@contextmanager
def telegram_errors(current: Settings) -> Iterator[None]:
    """Turn a refused token or an unreachable Bot API into one line, not a traceback."""
    # Imported here: python-telegram-bot is slow to import and only the bot's commands use it.
    from telegram.error import InvalidToken, NetworkError, TelegramError

    try:
        yield
    except InvalidToken:
        # The token itself is not printed: this line may end up in shared logs.
        fail("TELEGRAM_BOT_TOKEN: refused by the Bot API; copy it again from @BotFather")
    except NetworkError as exc:
        fail(f"TELEGRAM_BASE_URL: cannot reach the Bot API at {current.telegram_base_url} ({exc})")
    except TelegramError as exc:
        fail(f"Telegram refused to start the bot: {exc}")
