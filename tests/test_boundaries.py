"""Imports run one way: transports -> services -> domain and storage, no cycles; domain is pure."""

from __future__ import annotations

import ast
import itertools
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
        "telegram",
        "bot.cli",
        "bot.commands",
        "bot.app",
        "bot.web",
        "bot.telegram",
        "bot.scheduler",
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


# Transports may wire the database up (engine, sessions, migrations) but reach the rest of
# storage only through the services.
TRANSPORTS = ("bot.telegram", "bot.web", "bot.scheduler", "bot.commands", "bot.app", "bot.cli")
STORAGE_FOR_WIRING = ("bot.storage.db", "bot.storage.migrate")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path, root: Path) -> list[tuple[int, str]]:
    """Return every import of a module, inside functions too, as (line, dotted name)."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            # `from pkg import name` looks the name up on pkg first, so pkg counts as well.
            found += [(node.lineno, base)]
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Map each module under a package to the modules of that package it imports (with a line)."""
    paths = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        edges = graph.setdefault(module, {})
        for line, name in _imported_names(path, root):
            # The longest known prefix: `from pkg import mod` reaches pkg.mod, and
            # `from pkg.mod import func` reaches pkg.mod too.
            target = name
            while target and target not in paths:
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.setdefault(target, line)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """Return one shortest cycle per knot of modules that import each other, as text."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = {stack.pop()}
            while module not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    found = []
    for group in groups:
        start = min(group)
        paths = {start: [start]}
        queue = [start]
        cycle: list[str] = []
        while queue and not cycle:
            here = queue.pop(0)
            for target in sorted(graph[here]):
                if target == start:
                    cycle = [*paths[here], start]
                    break
                if target in group and target not in paths:
                    paths[target] = [*paths[here], target]
                    queue.append(target)
        steps = [f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle)]
        text = " -> ".join([*steps, start])
        if len(group) > len(cycle) - 1:
            text += f"; all tangled together: {', '.join(sorted(group))}"
        found.append(text)
    return sorted(found)


def test_transports_reach_storage_only_for_wiring() -> None:
    graph = _import_graph(BOT)
    bad = [
        f"{module} (line {line}) imports {target}"
        for module, edges in sorted(graph.items())
        if any(module == t or module.startswith(t + ".") for t in TRANSPORTS)
        for target, line in sorted(edges.items())
        if target.startswith("bot.storage.") and target not in STORAGE_FOR_WIRING
    ]
    assert not bad, "transports must go through bot/services:\n" + "\n".join(bad)


def test_no_import_cycles_inside_bot() -> None:
    cycles = _cycles(_import_graph(BOT))
    assert not cycles, "import cycles inside bot/:\n" + "\n".join(cycles)


def test_the_cycle_guard_sees_a_cycle_through_a_late_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "root.py").write_text("from pkg import part\n")
    (package / "part.py").write_text("import os\n\n\ndef f():\n    from .root import x\n")
    (package / "leaf.py").write_text("from pkg.part import f\nfrom . import root\n")
    assert _cycles(_import_graph(package)) == [
        "pkg.part (line 5) -> pkg.root (line 1) -> pkg.part"
    ]
