"""The command line: the root Typer app, which includes each command module's commands."""

from __future__ import annotations

import sys

import typer

from bot.commands import community, db, demo, report, run, sources, supporters, worker

app = typer.Typer(
    help="campaign-bot: personal fundraising asks over Telegram, measured against broadcasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Included in the order `campaign-bot --help` lists them; the unnamed ones add top-level commands.
app.add_typer(demo.app)
app.add_typer(report.app)
app.add_typer(run.app)
app.add_typer(supporters.app)
app.add_typer(worker.app)
app.add_typer(db.app, name="db")
app.add_typer(supporters.supporters_app, name="supporters")
app.add_typer(sources.app, name="sources")
app.add_typer(community.community_app, name="community")


def main() -> None:
    """Run the command line."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
