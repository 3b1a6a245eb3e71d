"""The campaign spec (pydantic) and loading it from YAML with file:line errors."""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
import types
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.domain.durations import Duration, format_duration

Loc = tuple[str | int, ...]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
SUBJECTS = ("interaction", "donated", "donated_within", "gave_at_least", "tag", "language")
INTERACTION_ONLY = ("detail", "sentiment", "since", "before", "within", "min_count")
_RULES_ERROR = "campaign_rules"


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


# --- value checks: each raises ValueError with a message a member of staff can act on ---


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
        raise ValueError(f"must be a slug of lowercase letters, digits and dashes (got {value!r})")
    return value


def _key(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise ValueError(
            "must be lowercase letters, digits, '_' or '-' like visited_exhibition "
            f"(got {value!r})"
        )
    return value


def _language(value: str) -> str:
    code = value.strip().lower().replace("_", "-")
    if not re.fullmatch(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?", code):
        raise ValueError(f"must be a language code like en, nl or pt-br (got {value!r})")
    return code


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value.strip())
    if isinstance(value, datetime):
        raise ValueError(f"must be a date without a time, like 2026-01-01 (got {_shown(value)})")
    if not isinstance(value, date):
        raise ValueError(f"must be a date like 2026-01-01 (got {_shown(value)})")
    return value


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise ValueError(f"must be a date and time like 2026-12-01T10:00:00 (got {_shown(value)})")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL like https://donate.example.org (got {value!r})")
    return value.strip()


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, _zone_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"must be an IANA time zone like Europe/Amsterdam (got {value!r}){hint}"
        ) from None
    return value


def _chat(value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d+", text):
        raise ValueError(f"must be a @channelname or a numeric chat id (got {_shown(value)})")
    return text


Slug = Annotated[str, AfterValidator(_slug)]
Key = Annotated[str, AfterValidator(_key)]
Language = Annotated[str, AfterValidator(_language)]
Day = Annotated[date, BeforeValidator(_to_date)]
Moment = Annotated[datetime, BeforeValidator(_to_datetime)]
Text = Annotated[str, Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- the spec ---


class Rule(_Spec):
    """One audience condition; exactly one subject (interaction, donated, tag, ...) per rule."""

    interaction: Key | None = None
    detail: Text | None = None
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    since: Day | None = None
    before: Day | None = None
    within: Duration | None = None
    min_count: int = Field(default=1, ge=1)
    donated: bool | None = None
    donated_within: Duration | None = None
    min_amount: int | None = Field(default=None, ge=0)
    gave_at_least: int | None = Field(default=None, ge=1)
    tag: Text | None = None
    language: Language | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Rule:
        subjects = [name for name in SUBJECTS if getattr(self, name) is not None]
        if len(subjects) != 1:
            got = " and ".join(subjects) if subjects else "none"
            raise ValueError(f"a rule needs exactly one of {', '.join(SUBJECTS)} (got {got})")
        # Compare with defaults, not fields_set, so a full model_dump() validates again.
        defaults = type(self).model_fields
        stray = [n for n in INTERACTION_ONLY if getattr(self, n) != defaults[n].default]
        if self.interaction is None and stray:
            raise ValueError(f"{', '.join(stray)} only apply to interaction rules")
        if self.donated_within is None and self.min_amount is not None:
            raise ValueError("min_amount only applies to donated_within rules")
        if self.since and self.before and self.since >= self.before:
            raise ValueError(f"since ({self.since}) must be before 'before' ({self.before})")
        return self

    @property
    def subject(self) -> str:
        """Name the one subject this rule tests (interaction, donated, tag, ...)."""
        return next(name for name in SUBJECTS if getattr(self, name) is not None)

    @property
    def detail_is_glob(self) -> bool:
        """Tell whether detail is a * pattern rather than an exact string."""
        return self.detail is not None and "*" in self.detail

    def detail_like(self) -> str | None:
        """Give detail as an SQL LIKE pattern (escape character backslash)."""
        if self.detail is None:
            return None
        escaped = self.detail.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return escaped.replace("*", "%")


class Audience(_Spec):
    """Who is asked: any of, all of, none of the rules; then ordered and limited."""

    any: list[Rule] = []
    all: list[Rule] = []
    exclude: list[Rule] = []
    order_by: Literal["engagement", "recency", "rfm", "random"] = "engagement"
    seed: int | None = None
    limit: int | None = Field(default=None, ge=1)

    def interaction_kinds(self) -> list[str]:
        """List the interaction kinds any rule mentions, in order of appearance."""
        kinds = [r.interaction for r in (*self.any, *self.all, *self.exclude) if r.interaction]
        return list(dict.fromkeys(kinds))


class SendWindow(_Spec):
    """Days and local hours in which asks may be sent; "24:00" may end the day."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    hours: str = "09:00-20:00"

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[str]) -> list[str]:
        repeated = sorted({day for day in days if days.count(day) > 1}, key=WEEKDAYS.index)
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return days

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, hours: str) -> str:
        match = re.fullmatch(r"\s*(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*", hours)
        bad = f"must be local opening hours like 10:00-20:00 (got {hours!r})"
        if not match:
            raise ValueError(bad)
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(bad)
        if h1 * 60 + m1 >= h2 * 60 + m2:
            raise ValueError(f"must start before it ends (got {hours!r})")
        return f"{h1:02}:{m1:02}-{h2:02}:{m2:02}"

    @property
    def minutes(self) -> tuple[int, int]:
        """Give opening and closing time as minutes after local midnight (close may be 1440)."""
        h1, m1, h2, m2 = (int(part) for part in re.findall(r"\d\d", self.hours))
        return h1 * 60 + m1, h2 * 60 + m2

    def is_open(self, local: datetime) -> bool:
        """Tell whether a local wall-clock moment falls inside the window."""
        opens, closes = self.minutes
        minute = local.hour * 60 + local.minute
        return WEEKDAYS[local.weekday()] in self.days and opens <= minute < closes

    def next_open(self, local: datetime) -> datetime:
        """Give the first moment at or after a local wall-clock time inside the window."""
        if self.is_open(local):
            return local
        opens, _ = self.minutes
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            start = datetime.combine(day, time(opens // 60, opens % 60), tzinfo=local.tzinfo)
            if WEEKDAYS[day.weekday()] in self.days and start >= local:
                return start
        raise AssertionError("a window with at least one day always opens within a week")


class Arm(_Spec):
    """One experiment arm: a specific ask, a broadcast-style ask, or a holdout (no message)."""

    kind: Literal["specific", "broadcast", "holdout"]
    weight: float = Field(gt=0, allow_inf_nan=False)
    message: Key | None = None


class FollowUp(_Spec):
    """A later message to those of the listed arms who did not reply, click or give."""

    name: Key
    after: Duration
    when: Literal["no_reply", "no_click", "no_gift"]
    message: Key
    arms: list[Key] | None = None


class BroadcastPost(_Spec):
    """An observational post in a channel or group, with its own tracked link."""

    chat: Annotated[str, BeforeValidator(_chat)]
    message: Key
    at: Moment | None = None


@dataclass(frozen=True)
class _Source:
    file: str
    lines: dict[Loc, int]


class Campaign(_Spec):
    """A validated campaign: audience, arms, messages, schedule and follow-ups."""

    name: Slug
    title: Text
    organisation: Text
    donate_url: Annotated[str, AfterValidator(_http_url)]
    reference_param: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "client_reference_id"
    timezone: Annotated[str, AfterValidator(_timezone)] | None = None
    default_language: Language = "en"
    start: Moment | None = None
    send_window: SendWindow = SendWindow()
    spread: Duration | None = None
    attribution_window: Duration = timedelta(days=14)
    frequency_cap: Duration | None = None
    audience: Audience = Audience()
    arms: dict[Key, Arm] = Field(min_length=1)
    messages: dict[Key, dict[Language, Text]] = Field(min_length=1)
    follow_ups: list[FollowUp] = []
    broadcast_post: BroadcastPost | None = None
    thank_you: Key | None = None

    _source: _Source | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        from bot.domain.templating import template_problems  # templating imports this module

        problems = _cross_problems(self) + template_problems(self)
        if problems:
            raise PydanticCustomError(
                _RULES_ERROR,
                "{summary}",
                {
                    "summary": "; ".join(f"{_field(loc)}: {msg}" for loc, msg in problems),
                    "problems": problems,
                },
            )
        return self

    def arm(self, name: str) -> Arm:
        """Return the arm called name, or raise KeyError naming the arms there are."""
        try:
            return self.arms[name]
        except KeyError:
            raise KeyError(
                f"campaign {self.name!r} has no arm {name!r} ({_names(self.arms)})"
            ) from None

    def weights(self) -> dict[str, float]:
        """Give each arm's share of supporters, normalised to sum to 1."""
        total = sum(arm.weight for arm in self.arms.values())
        return {name: arm.weight / total for name, arm in self.arms.items()}

    def sending_arms(self) -> list[str]:
        """List the arms that receive a message (all but holdouts)."""
        return [name for name, arm in self.arms.items() if arm.kind != "holdout"]

    def follow_up_arms(self, follow_up: FollowUp) -> list[str]:
        """List the arms a follow-up goes to (default: every arm that sends)."""
        return list(follow_up.arms) if follow_up.arms is not None else self.sending_arms()

    def zone(self, fallback: str) -> zoneinfo.ZoneInfo:
        """Give the campaign's time zone, or the organisation's fallback zone."""
        return zoneinfo.ZoneInfo(self.timezone or fallback)

    def start_at(self, fallback_zone: str) -> datetime | None:
        """Give the aware start moment; a naive start is read in the campaign's zone."""
        if self.start is None or self.start.tzinfo is not None:
            return self.start
        return self.start.replace(tzinfo=self.zone(fallback_zone))

    def donate_url_for(self, token: str) -> str:
        """Give the donation URL with the tracking token added under reference_param."""
        parts = urlsplit(self.donate_url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), (self.reference_param, token)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    @property
    def source_file(self) -> str | None:
        """Give the file this campaign was loaded from, if any."""
        return self._source.file if self._source else None

    def source_line(self, loc: Loc) -> int | None:
        """Give the file line of a field path such as ("messages", "personal", "en")."""
        return _line_of(self._source.lines, loc) if self._source else None


def _names(mapping: dict[str, Any]) -> str:
    return ", ".join(sorted(mapping)) or "none"


def _unknown(kind: str, name: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no {kind} called {name!r}{hint} ({kind}s: {_names(known)})"


def _cross_problems(c: Campaign) -> list[tuple[Loc, str]]:
    """Find references between parts of the campaign that do not line up."""
    problems: list[tuple[Loc, str]] = []

    def need_message(loc: Loc, key: str) -> None:
        if key not in c.messages:
            problems.append((loc, _unknown("message", key, c.messages)))

    for name, arm in c.arms.items():
        if arm.kind == "holdout" and arm.message is not None:
            problems.append((("arms", name, "message"), "a holdout arm is sent nothing"))
        elif arm.kind != "holdout" and arm.message is None:
            problems.append((("arms", name), f"a {arm.kind} arm needs a message"))
        elif arm.message is not None:
            need_message(("arms", name, "message"), arm.message)
    if not c.sending_arms():
        problems.append((("arms",), "needs at least one arm that is not a holdout"))
    seen: set[str] = set()
    for i, step in enumerate(c.follow_ups):
        if step.name in seen:
            problems.append((("follow_ups", i, "name"), f"{step.name!r} is used twice"))
        seen.add(step.name)
        need_message(("follow_ups", i, "message"), step.message)
        for j, arm_name in enumerate(step.arms or []):
            if arm_name not in c.arms:
                problems.append((("follow_ups", i, "arms", j), _unknown("arm", arm_name, c.arms)))
            elif c.arms[arm_name].kind == "holdout":
                problems.append((("follow_ups", i, "arms", j), "a holdout arm is sent nothing"))
    if c.broadcast_post:
        need_message(("broadcast_post", "message"), c.broadcast_post.message)
    if c.thank_you:
        need_message(("thank_you",), c.thank_you)
    for key, templates in c.messages.items():
        if c.default_language not in templates:
            problems.append(
                (("messages", key), f"needs a text in the default language {c.default_language!r}")
            )
    return problems


# --- YAML to plain data, remembering the line of every key and list item ---


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


def _line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1 if lines else None


def _field(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


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
        return f"must be one of {options} (got {_shown(got)})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _PLAIN:
        # Bounds come back as floats for float fields; "greater than 0" reads better than 0.0.
        bounds = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()
        }
        return _PLAIN[kind].format(got=_shown(got), **bounds)
    return f"{error['msg'][:1].lower()}{error['msg'][1:]} (got {_shown(got)})"


def _spec_errors(exc: ValidationError, file: str, lines: dict[Loc, int]) -> list[SpecError]:
    errors = []
    for error in exc.errors():
        if error["type"] == _RULES_ERROR:
            for loc, message in error["ctx"]["problems"]:
                errors.append(SpecError(file, _line_of(lines, loc), _field(loc), message))
            continue
        # A bad mapping key is reported by pydantic as "<key>/[key]": name the key itself.
        loc = tuple(part for part in error["loc"] if part != "[key]")
        message = _explain(error)
        if error["loc"][-1:] == ("[key]",):
            message = f"key {loc[-1]!r} {message}"
        errors.append(SpecError(file, _line_of(lines, loc), _field(loc), message))
    return errors


# --- loading ---


def _load_file(path: Path) -> tuple[Campaign | None, list[SpecError]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecError(file, None, "", f"cannot be read: {exc}")]
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        return None, [SpecError(file, line, "", f"YAML syntax error: {problem}")]
    lines: dict[Loc, int] = {}
    data = _plain(document, (), lines)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _shown(data)
        return None, [SpecError(file, 1, "", f"must be a mapping of campaign fields (got {got})")]
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        return None, sorted(_spec_errors(exc, file, lines), key=lambda e: e.line or 0)
    campaign._source = _Source(file, lines)
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

    def raise_for_errors(self) -> None:
        """Raise CampaignInvalid if any file had a problem."""
        if self.errors:
            raise CampaignInvalid(self.errors)

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
        if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith(".")
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
    import io

    yaml = YAML(typ="rt")
    yaml.width = 4096  # keep long template lines whole rather than folded
    out = io.StringIO()
    yaml.dump(_yaml_ready(campaign.model_dump(exclude_defaults=True)), out)
    return out.getvalue()
