"""Read YAML into plain Python data, remembering the file line of every field path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

Loc = tuple[str | int, ...]

# A campaign nests five levels deep (audience.any[0].detail); far deeper is a mistake or an
# attack, and deep enough nesting would exhaust Python's stack while the file is read.
MAX_DEPTH = 32
# Explicit tags that only restate what YAML would infer; any other tag (!custom, !!binary,
# !!python/...) names a type a campaign has no use for.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


class YamlRefused(ComposerError):
    """YAML that parses but uses a feature campaign files refuse (aliases, custom tags)."""


class _Composer(Composer):
    """Composer that refuses anchors, aliases and unknown tags instead of building them.

    Aliases are refused, not merely bounded: nested anchors expand exponentially when the
    document is copied into plain data (a 491-byte file asked for gigabytes), and a campaign
    file is short enough to write each value out.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlRefused(
                None,
                None,
                "anchors and aliases (&name, *name) are not supported; write the value out",
                event.start_mark,
            )
        tag = getattr(event, "tag", None)
        if tag is not None and str(tag) not in _PLAIN_TAGS:
            raise YamlRefused(
                None,
                None,
                f"the tag {tag!s} is not supported; remove it (quote the value for text)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


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
    yaml.Composer = _Composer
    yaml.max_depth = MAX_DEPTH
    document = yaml.load(text)
    lines: dict[Loc, int] = {}
    return _plain(document, (), lines), lines


def yaml_problem(exc: YAMLError, text: str) -> tuple[int | None, str]:
    """Describe why text could not be read as YAML: the 1-based line, if known, and the problem."""
    if isinstance(exc, YamlRefused):
        return exc.problem_mark.line + 1, f"YAML feature not supported: {exc.problem}"
    if isinstance(exc, MaxDepthExceededError):
        line = exc.problem_mark.line + 1
        return line, f"YAML syntax error: nested more than {MAX_DEPTH} levels deep"
    position = getattr(exc, "position", None)  # the reader knows a character offset only
    if isinstance(position, int):
        reason = str(exc).splitlines()[0]
        return text.count("\n", 0, position) + 1, f"YAML syntax error: {reason}"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return (mark.line + 1 if mark is not None else None), f"YAML syntax error: {problem}"


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
