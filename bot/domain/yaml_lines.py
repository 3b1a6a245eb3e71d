"""Read YAML into plain Python data, remembering the file line of every field path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor

Loc = tuple[str | int, ...]


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves an unparseable date as text for pydantic to report."""


def _construct_timestamp(constructor: RoundTripConstructor, node: Any) -> Any:
    text = str(constructor.construct_scalar(node)).strip()
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _plain(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    """Copy ruamel's node types into plain Python, recording 1-based lines per path."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            name = _plain(key, (), {})
            try:
                lines[(*loc, name)] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):  # keys merged in with "<<" have no line of their own
                lines[(*loc, name)] = node.lc.line + 1
            out[name] = _plain(value, (*loc, name), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            lines[(*loc, i)] = node.lc.item(i)[0] + 1
            items.append(_plain(value, (*loc, i), lines))
        return items
    for kind in (bool, str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def read_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML into plain data and the line of every key and list item (may raise YAMLError)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    document = yaml.load(text)
    lines: dict[Loc, int] = {}
    return _plain(document, (), lines), lines


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """Give the line of a field path, or of its nearest parent that has one."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1 if lines else None


def field_path(loc: Loc) -> str:
    """Write a field path as staff read it, like follow_ups[0].message."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
