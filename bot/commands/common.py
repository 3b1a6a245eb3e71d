"""What every command shares: the consoles, a clean exit on error, and loading settings."""

from __future__ import annotations

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


def settings(mode: RunMode = RunMode.TOOLS) -> Settings:
    """Load settings for a run mode or exit with one line per bad or missing setting."""
    try:
        return load_settings(mode=mode)
    except SettingsError as exc:
        fail(exc.lines)
