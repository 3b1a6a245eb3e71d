"""`campaign-bot db upgrade`: create or migrate the database schema."""

from __future__ import annotations

import typer

from bot.commands.common import console, database_errors, settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Alembic revision to migrate to."),
) -> None:
    """Create or migrate the database at DATABASE_URL to the newest schema."""
    # Imported here: Alembic is slow to import and only this command needs it.
    from bot.storage.migrate import upgrade

    url = settings().database_url
    with database_errors():
        upgrade(url, revision)
    console.print(f"Database at {_safe_url(url)} is at revision {revision}.")


def _safe_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    # Imported here: SQLAlchemy is slow to import; `campaign-bot --help` should not wait for it.
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
