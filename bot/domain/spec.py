"""The campaign spec: pydantic models of a campaign and the checks between their parts."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.domain.durations import Duration
from bot.domain.spec_fields import Chat, Day, HttpUrl, Key, Language, Moment, Slug, Text, TimeZone
from bot.domain.templating import template_problems
from bot.domain.yaml_lines import Loc, field_path, line_of

__all__ = [
    "INTERACTION_ONLY", "RULES_ERROR", "SUBJECTS", "WEEKDAYS", "Arm", "Audience", "BroadcastPost",
    "Campaign", "FollowUp", "Rule", "SendWindow", "Weekday",
]  # fmt: skip

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
SUBJECTS = (
    "interaction", "donated", "donated_within", "gave_at_least", "tag", "language",
    "influence_at_least",
)  # fmt: skip
INTERACTION_ONLY = ("detail", "sentiment", "since", "before", "within", "min_count")
# The pydantic error type Campaign raises for problems between its parts; ctx["problems"]
# holds (field path, message) pairs.
RULES_ERROR = "campaign_rules"


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
    influence_at_least: int | None = Field(default=None, ge=0)

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
    order_by: Literal["engagement", "recency", "rfm", "random", "influence"] = "engagement"
    seed: int | None = None
    limit: int | None = Field(default=None, ge=1)
    # Flagged supporters (bot/domain/flags.py) are left out unless the campaign says otherwise.
    include_flagged: bool = False


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
    # private: a message in the supporter's private chat; group_reply: a public reply to
    # their own message in a community chat, with a button that opens the bot privately.
    via: Literal["private", "group_reply"] = "private"


class FollowUp(_Spec):
    """A later message to those of the listed arms who did not reply, click or give."""

    name: Key
    after: Duration
    when: Literal["no_reply", "no_click", "no_gift"]
    message: Key
    arms: list[Key] | None = None


class BroadcastPost(_Spec):
    """An observational post in a channel or group, with its own tracked link."""

    chat: Chat
    message: Key
    at: Moment | None = None


@dataclass(frozen=True)
class _Source:
    file: str
    lines: Mapping[Loc, int]


class Campaign(_Spec):
    """A validated campaign: audience, arms, messages, schedule and follow-ups."""

    name: Slug
    title: Text
    organisation: Text
    donate_url: HttpUrl
    reference_param: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "client_reference_id"
    timezone: TimeZone | None = None
    default_language: Language = "en"
    start: Moment | None = None
    send_window: SendWindow = SendWindow()
    spread: Duration | None = None
    attribution_window: Duration = timedelta(days=14)
    frequency_cap: Duration | None = None
    group_replies_per_hour: int = Field(default=10, ge=1)
    audience: Audience = Audience()
    arms: dict[Key, Arm] = Field(min_length=1)
    messages: dict[Key, dict[Language, Text]] = Field(min_length=1)
    follow_ups: list[FollowUp] = []
    broadcast_post: BroadcastPost | None = None
    thank_you: Key | None = None

    _source: _Source | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        rules = (*self.audience.any, *self.audience.all, *self.audience.exclude)
        details = {r.interaction: r.detail for r in rules if r.interaction}
        problems = _cross_problems(self) + template_problems(
            self, start=self.start, details=details
        )
        if problems:
            raise PydanticCustomError(
                RULES_ERROR,
                "{summary}",
                {
                    "summary": "; ".join(f"{field_path(loc)}: {msg}" for loc, msg in problems),
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

    def ways(self) -> set[str]:
        """Give the ways (private, group_reply) this campaign's sending arms reach people."""
        return {self.arms[name].via for name in self.sending_arms()}

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

    @property
    def source_file(self) -> str | None:
        """Give the file this campaign was loaded from, if any."""
        return self._source.file if self._source else None

    def source_line(self, loc: Loc) -> int | None:
        """Give the file line of a field path such as ("messages", "personal", "en")."""
        return line_of(self._source.lines, loc) if self._source else None

    def attach_source(self, file: str, lines: Mapping[Loc, int]) -> None:
        """Remember the file and the line of every field path this campaign was read from."""
        # A private attribute, so the spec fields stay frozen and model_dump() ignores it.
        self._source = _Source(file, lines)


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
        elif arm.kind == "holdout" and arm.via != "private":
            problems.append((("arms", name, "via"), "a holdout arm is sent nothing"))
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
