"""Imports run one way: transports -> services -> domain and storage; domain stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# Packages a layer must never import, and why.
FORBIDDEN = {
    "bot/domain": (
        "telegram",
        "sqlalchemy",
        "sqlmodel",
        "httpx",
        "starlette",
        "apscheduler",
        "bot.storage",
        "bot.services",
        "bot.telegram",
        "bot.web",
        "bot.clock",
        "bot.config",
    ),
    "bot/storage": (
        "telegram",
        "bot.services",
        "bot.telegram",
        "bot.web",
        "bot.cli",
        "bot.commands",
        "bot.app",
        "bot.scheduler",
    ),
    "bot/services": (
        "bot.cli",
        "bot.commands",
        "bot.app",
        "bot.web",
        "bot.telegram.staff",
        "bot.telegram.supporters",
        "bot.telegram.application",
    ),
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _modules(folder: str) -> list[Path]:
    return sorted((BOT.parent / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layer_imports_nothing_it_must_not(folder: str) -> None:
    bad = [
        f"{path.relative_to(BOT.parent)}:{line}: imports {name}"
        for path in _modules(folder)
        for line, name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[folder])
    ]
    assert bad == []


def test_domain_never_reads_the_clock() -> None:
    bad = []
    for path in _modules("bot/domain"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLOCK_CALLS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"datetime", "date", "time"}
            ):
                bad.append(f"{path.relative_to(BOT.parent)}:{node.lineno}")
    assert bad == []


def test_the_guard_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy\nfrom telegram import Bot\nfrom . import x\n")
    assert [name for _, name in _imports(sample)] == ["sqlalchemy", "telegram"]


def test_only_config_reads_the_environment() -> None:
    offenders = [
        str(path.relative_to(BOT.parent))
        for path in BOT.rglob("*.py")
        if path.name != "config.py"
        and ("os.environ" in path.read_text() or "getenv(" in path.read_text())
    ]
    assert offenders == []
