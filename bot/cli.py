"""The command line: thin Typer commands over the services, and the only wiring outside `run`."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from bot.config import Settings, SettingsError, load_settings

app = typer.Typer(
    help="campaign-bot: personal fundraising asks over Telegram, measured against broadcasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


def fail(lines: list[str] | str, code: int = 2) -> NoReturn:
    """Print one clear line per problem to stderr and exit without a traceback."""
    for line in [lines] if isinstance(lines, str) else lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """Load settings or exit with one line per bad setting."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc.lines)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Alembic revision to migrate to."),
) -> None:
    """Create or migrate the database at DATABASE_URL to the newest schema."""
    from bot.storage.migrate import upgrade

    url = settings().database_url
    upgrade(url, revision)
    console.print(f"Database at {_safe_url(url)} is at revision {revision}.")


def _safe_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Run the command line."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


# Commands defined in their own modules register themselves here, one line each.
from bot.commands import demo as _demo  # noqa: E402, F401
from bot.commands import report as _report  # noqa: E402, F401
from bot.commands import run as _run  # noqa: E402, F401
from bot.commands import supporters as _supporters  # noqa: E402, F401
from bot.commands import worker as _worker  # noqa: E402, F401
