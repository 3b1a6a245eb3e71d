"""The README stays true: every command line command and every staff command is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from bot.cli import app

# The menu the bot registers with Telegram; the one line to change if the staff module moves.
from bot.telegram.application import staff_commands

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield every runnable command under a Click group as it is typed, e.g. 'db upgrade'."""
    children = getattr(command, "commands", None)
    if not children:
        yield " ".join(path)
        return
    for name, child in sorted(children.items()):
        if not getattr(child, "hidden", False):
            yield from _command_paths(child, (*path, name))


CLI_COMMANDS = list(_command_paths(typer.main.get_command(app)))
STAFF_COMMANDS = [command.command for command in staff_commands()]


def _cli_is_documented(path: str, text: str) -> bool:
    return re.search(rf"campaign-bot {re.escape(path)}(?![\w-])", text) is not None


def _staff_is_documented(name: str, text: str) -> bool:
    # Preceded by a space, backtick or line start, so a URL path like /r/status does not count.
    return re.search(rf"(?:^|[\s`(\"']){re.escape('/' + name)}(?![\w-])", text, re.M) is not None


def test_the_cli_walk_finds_the_commands_and_their_groups() -> None:
    assert {"run", "worker", "db upgrade", "supporters export"} <= set(CLI_COMMANDS)
    assert "db" not in CLI_COMMANDS  # a group is documented through its commands


@pytest.mark.parametrize("path", CLI_COMMANDS)
def test_every_cli_command_is_in_the_readme(path: str) -> None:
    assert _cli_is_documented(path, README), f"README.md never shows `campaign-bot {path}`"


@pytest.mark.parametrize("name", STAFF_COMMANDS)
def test_every_staff_command_is_in_the_readme(name: str) -> None:
    assert _staff_is_documented(name, README), f"README.md never mentions /{name}"


def test_the_checks_refuse_a_readme_without_the_command() -> None:
    assert _cli_is_documented("db upgrade", "run `campaign-bot db upgrade` first")
    assert not _cli_is_documented("db upgrade", "run `campaign-bot db upgrade-all` first")
    assert not _cli_is_documented("run", "campaign-bot runner")
    assert _staff_is_documented("status", "`/status NAME` shows")
    assert not _staff_is_documented("status", "GET https://bot.example.org/status")
    assert not _staff_is_documented("report", "/reports are weekly")
