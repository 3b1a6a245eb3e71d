"""Load campaign files from YAML, reporting every problem as file:line: field: message."""

from __future__ import annotations

import difflib
import functools
import io
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.domain.durations import format_duration
from bot.domain.spec import RULES_ERROR, Campaign
from bot.domain.spec_fields import describe_value
from bot.domain.yaml_lines import Loc, field_path, line_of, read_yaml, yaml_problem

# The models themselves are imported from bot.domain.spec, never through this module.
__all__ = [
    "MAX_FILE_BYTES", "CampaignInvalid", "CampaignSet", "SpecError", "dump_campaign",
    "load_campaign", "load_campaigns",
]  # fmt: skip

# The saved answers live beside the campaigns (bot.domain.answers); they are not a campaign.
ANSWERS_FILE = "answers.yaml"


# A generous campaign (ten messages in five languages) is under 30 KiB; a bigger file is a
# mistake, and reading and validating it should never cost the bot much memory or time.
MAX_FILE_BYTES = 256 * 1024


class SpecError(Exception):
    """One problem in a campaign file, pointing at the line and field to fix."""

    def __init__(self, file: str | Path, line: int | None, field: str, message: str) -> None:
        super().__init__(file, line, field, message)
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class CampaignInvalid(Exception):
    """A campaign file (or directory) that cannot be used, with every problem found."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


# --- pydantic errors in plain words ---


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            tp = next(arg for arg in get_args(tp) if arg is not type(None))
        else:
            return tp


def _allowed_keys(loc: Loc) -> list[str]:
    """List the keys the model at a path accepts, for unknown-key messages."""
    tp: Any = Campaign
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return []
            tp = tp.model_fields[str(part)].annotation
        elif get_origin(tp) in (list, dict):
            tp = get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


_PLAIN = {
    "missing": "is required",
    "string_type": "must be text (got {got}); put it in quotes if you mean it as text",
    "int_type": "must be a whole number (got {got})",
    "int_from_float": "must be a whole number (got {got})",
    "float_type": "must be a number (got {got})",
    "finite_number": "must be a finite number (got {got})",
    "bool_type": "must be true or false (got {got})",
    "dict_type": "must be a mapping of keys to values (got {got})",
    "model_type": "must be a mapping of keys to values (got {got})",
    "list_type": "must be a list (got {got})",
    "greater_than": "must be greater than {gt} (got {got})",
    "greater_than_equal": "must be at least {ge} (got {got})",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "must match {pattern} (got {got})",
}


def _explain(error: ErrorDetails) -> str:
    kind, loc, got = error["type"], error["loc"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {loc[-1]!r}{hint} (allowed: {', '.join(allowed)})"
    if kind == "literal_error":
        options = ", ".join(re.findall(r"'([^']*)'", ctx.get("expected", "")))
        return f"must be one of {options} (got {describe_value(got)})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _PLAIN:
        # Bounds come back as floats for float fields; "greater than 0" reads better than 0.0.
        bounds = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()
        }
        return _PLAIN[kind].format(got=describe_value(got), **bounds)
    return f"{error['msg'][:1].lower()}{error['msg'][1:]} (got {describe_value(got)})"


def _spec_errors(exc: ValidationError, file: str, lines: dict[Loc, int]) -> list[SpecError]:
    errors = []
    for error in exc.errors():
        if error["type"] == RULES_ERROR:
            for loc, message in error["ctx"]["problems"]:
                errors.append(SpecError(file, line_of(lines, loc), field_path(loc), message))
            continue
        # A bad mapping key is reported by pydantic as "<key>/[key]": name the key itself.
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = _explain(error)
        if error["loc"][-1:] == ("[key]",):
            message = f"key {loc[-1]!r} {message}"
        errors.append(SpecError(file, line_of(lines, loc), field_path(loc), message))
    return errors


# --- loading ---


def _read_text(path: Path) -> str:
    """Read a campaign file of at most MAX_FILE_BYTES (raises ValueError, OSError)."""
    with path.open("rb") as handle:
        # Read one byte past the limit rather than trusting the size the file system reports.
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(
            f"is larger than {MAX_FILE_BYTES // 1024} KiB, the most a campaign file may be"
        )
    return raw.decode("utf-8")


def _load_file(path: Path) -> tuple[Campaign | None, list[SpecError]]:
    try:
        return _load_checked(path)
    except Exception as exc:  # whatever a hostile file trips over, it is that file's problem
        problem = f"cannot be loaded: {type(exc).__name__}: {exc}"[:300]
        return None, [SpecError(path, None, "", problem)]


def _load_checked(path: Path) -> tuple[Campaign | None, list[SpecError]]:
    file = str(path)
    try:
        text = _read_text(path)
    except UnicodeDecodeError as exc:
        return None, [SpecError(file, None, "", f"cannot be read as UTF-8 text: {exc.reason}")]
    except ValueError as exc:
        return None, [SpecError(file, None, "", str(exc))]
    except OSError as exc:
        return None, [SpecError(file, None, "", f"cannot be read: {exc}")]
    try:
        data, lines = read_yaml(text)
    except YAMLError as exc:
        line, problem = yaml_problem(exc, text)
        return None, [SpecError(file, line, "", problem)]
    if not isinstance(data, dict):
        got = "an empty file" if data is None else describe_value(data)
        return None, [SpecError(file, 1, "", f"must be a mapping of campaign fields (got {got})")]
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        return None, sorted(_spec_errors(exc, file, lines), key=lambda e: e.line or 0)
    campaign.attach_source(file, lines)
    return campaign, []


def load_campaign(path: Path) -> Campaign:
    """Load and validate one campaign file, raising CampaignInvalid with every problem."""
    campaign, errors = _load_file(path)
    if campaign is None:
        raise CampaignInvalid(errors)
    return campaign


@dataclass
class CampaignSet:
    """Every valid campaign of a directory by name, and every problem found in it."""

    campaigns: dict[str, Campaign] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every file loaded without a problem."""
        return not self.errors

    def __iter__(self) -> Iterator[Campaign]:
        return iter(self.campaigns.values())


def load_campaigns(directory: Path) -> CampaignSet:
    """Load every *.yaml and *.yml file of a directory, collecting all problems of all files."""
    result = CampaignSet()
    if not directory.is_dir():
        result.errors.append(SpecError(directory, None, "", "is not a directory"))
        return result
    paths = sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not p.name.startswith(".")
        and p.name != ANSWERS_FILE
    )
    for path in paths:
        campaign, errors = _load_file(path)
        result.errors.extend(errors)
        if campaign is None:
            continue
        first = result.campaigns.get(campaign.name)
        if first is not None:
            where = f"{first.source_file}:{first.source_line(('name',))}"
            result.errors.append(
                SpecError(
                    path,
                    campaign.source_line(("name",)),
                    "name",
                    f"campaign name {campaign.name!r} is already used in {where}",
                )
            )
            continue
        result.campaigns[campaign.name] = campaign
    return result


def _yaml_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _yaml_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_yaml_ready(item) for item in value]
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def dump_campaign(campaign: Campaign) -> str:
    """Write a campaign back as YAML that loads to an equal campaign."""
    yaml = YAML(typ="rt")
    yaml.width = 4096  # keep long template lines whole rather than folded
    out = io.StringIO()
    yaml.dump(_yaml_ready(campaign.model_dump(exclude_defaults=True)), out)
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def frozen_spec(spec_yaml: str) -> Campaign:
    """Read back the copy of a campaign frozen at launch (raises ValueError or YAMLError).

    Cached: the sender, the follow-ups and the link redirect read the same few copies again
    and again. Callers share the returned campaign and must not change it.
    """
    data, _ = read_yaml(spec_yaml)
    return Campaign.model_validate(data)
