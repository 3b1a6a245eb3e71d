"""Render campaign messages with sandboxed Jinja2, escaped for Telegram's HTML parse mode."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import html
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Protocol

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from bot.domain.i18n import fallback_name, language_tag, long_date, month_name, primary_language
from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.domain.money import format_amount
from bot.domain.template_limits import (
    BoundedEnvironment,
    RenderTooCostly,
    campaign_budget,
    render_budget,
)
from bot.domain.yaml_lines import Loc

KNOWN_VARIABLES = frozenset(
    {
        "first_name", "last_name", "name", "username", "language", "organisation",
        "campaign", "donate_link", "last", "today", "gift",
    }
)  # fmt: skip
ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "blockquote", "span",
    }
)  # fmt: skip


class CampaignTexts(Protocol):
    """What rendering reads of a campaign (bot.domain.spec.Campaign has all of it)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def organisation(self) -> str: ...
    @property
    def default_language(self) -> str: ...
    @property
    def messages(self) -> Mapping[str, Mapping[str, str]]: ...


@dataclass(frozen=True, kw_only=True)
class MessageContext:
    """What a message may say about one supporter; today anchors "days ago"."""

    today: dt.date
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language: str | None = None
    donate_link: str = ""
    interactions: Sequence[tuple[str, str | None, dt.date | dt.datetime]] = ()
    """(kind, detail, occurred_at) in any order; occurred_at as a local date or time."""
    gift_amount_minor: int | None = None
    gift_currency: str | None = None
    """The gift a thank-you is for, when known: minor units and currency code, both or neither."""

    def __post_init__(self) -> None:
        if (self.gift_amount_minor is None) != (self.gift_currency is None):
            raise ValueError("a gift needs both gift_amount_minor and gift_currency")


@dataclass(frozen=True)
class Gift:
    """The gift a thank-you is for, as templates see it: gift.amount and gift.currency."""

    amount: str
    currency: str

    def __str__(self) -> str:
        return self.amount


@dataclass(frozen=True)
class LastInteraction:
    """The supporter's most recent interaction of one kind, as templates see it."""

    kind: str
    detail: str
    date: dt.date
    month: str
    year: int
    days_ago: int


class TemplateProblem(Exception):
    """A message that cannot be rendered for a supporter."""

    def __init__(self, message_key: str, language: str, reason: str) -> None:
        super().__init__(f"message {message_key!r} ({language}): {reason}")
        self.message_key = message_key
        self.language = language
        self.reason = reason


class TemplateRenderError(TemplateProblem):
    """A template that failed while rendering (unknown variable, unguarded history, ...)."""


class TemplateTooLong(TemplateProblem):
    """A rendered message longer than Telegram allows in one message."""

    def __init__(self, message_key: str, language: str, length: int) -> None:
        super().__init__(
            message_key,
            language,
            f"renders to {length} characters; Telegram allows at most {MESSAGE_MAX_UTF16}",
        )
        self.length = length


class _Absent(StrictUndefined):
    """A kind missing from the history: false in an {% if %}, an error anywhere else."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]  # falsy is the point of this class
        return False


class LastInteractions(Mapping[str, LastInteraction]):
    """The `last` variable: kind -> LastInteraction, readable as last.kind or last['kind']."""

    def __init__(self, items: Mapping[str, LastInteraction]) -> None:
        self._items = dict(items)

    def __getitem__(self, kind: str) -> LastInteraction:
        return self._items[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getattr__(self, kind: str) -> LastInteraction | _Absent:
        if kind.startswith("_"):
            raise AttributeError(kind)
        found = self._items.get(kind)
        if found is not None:
            return found
        hint = (
            f"this supporter has no {kind!r} in their history; "
            f"guard it with {{% if last.{kind} %}}"
        )
        return _Absent(hint=hint, name=kind)


def _language_of(context: Context) -> str | None:
    value = context.get("language")
    return value if isinstance(value, str) else None


@pass_context
def _month_name_filter(context: Context, value: Any, language: str | None = None) -> str:
    month = value if isinstance(value, int) else value.month
    return month_name(month, language or _language_of(context))


@pass_context
def _date_filter(
    context: Context, value: dt.date, style: str = "long", language: str | None = None
) -> str:
    lang = language or _language_of(context)
    if style == "iso":
        return value.isoformat()
    if style == "month":
        return f"{month_name(value.month, lang)} {value.year}"
    return long_date(value, lang)


def _finalize(value: Any) -> Any:
    # An absent optional field (no last name, no username) prints as nothing, not "None".
    return "" if value is None else value


# What a template may read of our own values, each a plain datum the sandbox's checks would
# allow anyway: the public fields of a last interaction and of a gift.
_FIELDS: dict[type, frozenset[str]] = {
    LastInteraction: frozenset(f.name for f in dataclasses.fields(LastInteraction)),
    Gift: frozenset(f.name for f in dataclasses.fields(Gift)),
}
# `last.items` and the like are the mapping's methods, not kinds: those take the checked path.
_MAPPING_NAMES = frozenset(dir(LastInteractions))


class _MessageEnvironment(BoundedEnvironment):
    """The bounded sandbox, reading our own message values without a check per access."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Read `last.kind`, `last.kind.field` and `gift.field` directly; check the rest.

        They are most of what a message reads, and the sandbox's checks on them (is it
        internal, does it mutate, is it str.format) were 40% of the CPU of a render. What
        this returns is exactly what the checked path returns for these names; any other
        name, and every other object, goes through the sandbox.
        """
        kind = type(obj)
        if kind is LastInteractions:
            if attribute not in _MAPPING_NAMES and not attribute.startswith("_"):
                return obj.__getattr__(attribute)
        elif attribute in _FIELDS.get(kind, ()):
            return obj.__dict__[attribute]
        return super().getattr(obj, attribute)


_ENV = _MessageEnvironment(
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)
_ENV.add_filter("month_name", _month_name_filter)
_ENV.add_filter("date", _date_filter)


_GLOBALS = dict(_ENV.globals)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> Template:
    return _ENV.from_string(source)


def pick_language(campaign: CampaignTexts, message_key: str, wanted: str | None) -> str:
    """Choose the supporter's language if the message has it, else the campaign default."""
    templates = campaign.messages[message_key]
    tag = language_tag(wanted)
    if tag:
        for candidate in (tag, primary_language(tag)):
            if candidate in templates:
                return candidate
    return campaign.default_language


def _last(context: MessageContext, language: str) -> LastInteractions:
    latest: dict[str, tuple[dt.date | dt.datetime, str | None]] = {}
    for kind, detail, occurred_at in context.interactions:
        seen = latest.get(kind)
        if seen is None or _as_datetime(occurred_at) > _as_datetime(seen[0]):
            latest[kind] = (occurred_at, detail)
    items = {}
    for kind, (occurred_at, detail) in latest.items():
        day = occurred_at.date() if isinstance(occurred_at, dt.datetime) else occurred_at
        items[kind] = LastInteraction(
            kind=kind,
            detail=detail or "",
            date=day,
            month=month_name(day.month, language),
            year=day.year,
            days_ago=(context.today - day).days,
        )
    return LastInteractions(items)


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.combine(value, dt.time())


def _gift(context: MessageContext, language: str) -> Gift | _Absent:
    if context.gift_amount_minor is None or context.gift_currency is None:
        hint = "no gift is known for this message; guard it with {% if gift %}"
        return _Absent(hint=hint, name="gift")
    currency = context.gift_currency.strip().upper()
    return Gift(format_amount(context.gift_amount_minor, currency, language), currency)


def _variables(campaign: CampaignTexts, language: str, context: MessageContext) -> dict[str, Any]:
    first = (context.first_name or "").strip()
    return {
        "first_name": first,
        "last_name": (context.last_name or "").strip(),
        "name": first or fallback_name(language),
        "username": context.username or "",
        "language": language,
        "organisation": campaign.organisation,
        "campaign": {"name": campaign.name, "title": campaign.title},
        "donate_link": context.donate_link,
        "last": _last(context, language),
        "today": context.today,
        "gift": _gift(context, language),
    }


def telegram_length(text: str) -> int:
    """Count a rendered HTML message as Telegram does: visible text in UTF-16 code units."""
    return utf16_length(html.unescape(re.sub(r"<[^>]*>", "", text)))


def _render(
    campaign: CampaignTexts, key: str, language: str, source: str, context: MessageContext
) -> str:
    try:
        with render_budget():
            template = _compile(source)
            # What Template.render does, less merging Jinja's globals into a new dict on
            # every render: they are merged into the variables (which win, as there).
            variables = {**_GLOBALS, **_variables(campaign, language, context)}
            text = _ENV.concat(template.root_render_func(template.new_context(variables, True)))
    except RenderTooCostly as exc:
        raise TemplateRenderError(key, language, str(exc)) from None
    except SecurityError as exc:
        raise TemplateRenderError(key, language, f"unsafe access blocked: {exc}") from None
    except TemplateSyntaxError as exc:
        reason = f"template syntax error on its line {exc.lineno}: {exc.message}"
        raise TemplateRenderError(key, language, reason) from None
    except Exception as exc:  # any failure inside a staff template is that template's problem
        raise TemplateRenderError(key, language, str(exc)) from None
    length = telegram_length(text)
    if length > MESSAGE_MAX_UTF16:
        raise TemplateTooLong(key, language, length)
    return text


def render_message(campaign: CampaignTexts, message_key: str, context: MessageContext) -> str:
    """Render a campaign message for one supporter in their language (or the default)."""
    if message_key not in campaign.messages:
        known = ", ".join(sorted(campaign.messages))
        reason = f"campaign {campaign.name!r} has no such message ({known})"
        raise TemplateRenderError(message_key, context.language or "?", reason)
    language = pick_language(campaign, message_key, context.language)
    source = campaign.messages[message_key][language]
    return _render(campaign, message_key, language, source, context)


class _TelegramHTML(HTMLParser):
    """Collect what Telegram's HTML parse mode would refuse in a rendered message."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            allowed = ", ".join(sorted(ALLOWED_TAGS))
            self.problems.append(f"uses <{tag}>, which Telegram does not allow ({allowed})")
        elif tag == "a" and not dict(attrs).get("href"):
            self.problems.append("has an <a> without href")
        elif tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self.problems.append('allows <span> only as <span class="tg-spoiler">')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            expected = f"</{self.open[-1]}>" if self.open else "no closing tag"
            self.problems.append(f"closes </{tag}> where {expected} was expected")
            return
        self.open.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.problems.append(f"uses &{name};, which Telegram does not know; write it out")


def telegram_html_problems(text: str) -> list[str]:
    """List what makes a rendered message invalid for Telegram's HTML parse mode."""
    problems = []
    if re.search(r"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z]+;)", text):
        problems.append("has a bare '&'; write &amp;")
    if re.search(r"<(?![A-Za-z/])", text):
        problems.append("has a bare '<'; write &lt;")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    problems += parser.problems
    problems += [f"never closes <{tag}>" for tag in parser.open]
    return problems


def _samples(
    start: dt.datetime | None, details: Mapping[str, str | None], language: str
) -> list[tuple[str, MessageContext]]:
    today = start.date() if start else dt.date(2026, 1, 1)
    link = "https://bot.example.org/l/" + "x" * 22
    history = [
        (kind, "Sample detail" if not detail or "*" in detail else detail,
         today - dt.timedelta(days=40))
        for kind, detail in details.items()
    ]  # fmt: skip
    full = MessageContext(
        today=today, first_name="Alexandra", last_name="Jansen", username="alexandra_j",
        language=language, donate_link=link, interactions=history,
        gift_amount_minor=2500, gift_currency="EUR",
    )  # fmt: skip
    empty = MessageContext(today=today, language=language, donate_link=link)
    return [("a supporter with history", full), ("a supporter without history", empty)]


def _problem_in(
    campaign: CampaignTexts,
    key: str,
    language: str,
    source: str,
    samples: list[tuple[str, MessageContext]],
) -> str | None:
    try:
        unknown = meta.find_undeclared_variables(_ENV.parse(source)) - KNOWN_VARIABLES
    except TemplateSyntaxError as exc:
        return f"template syntax error on its line {exc.lineno}: {exc.message}"
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, sorted(KNOWN_VARIABLES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown variable {name!r}{hint} (known: {', '.join(sorted(KNOWN_VARIABLES))})"
    for label, sample in samples:
        try:
            text = _render(campaign, key, language, source, sample)
        except TemplateTooLong as exc:
            limit = MESSAGE_MAX_UTF16
            return f"renders to {exc.length} characters for {label}; Telegram allows {limit}"
        except TemplateProblem as exc:
            return f"fails for {label}: {exc.reason}"
        html_problems = telegram_html_problems(text)
        if html_problems:
            return f"is not valid Telegram HTML: {'; '.join(html_problems)}"
    return None


def template_problems(
    campaign: CampaignTexts,
    *,
    start: dt.datetime | None,
    details: Mapping[str, str | None],
) -> list[tuple[Loc, str]]:
    """Render every message in every language against sample supporters; list what fails.

    The samples are dated at the campaign's start and have each interaction kind its audience
    rules mention (kind -> detail asked for, None or a * pattern for any), so `last` is tested.
    """
    problems: list[tuple[Loc, str]] = []
    with campaign_budget() as budget:
        for key, templates in campaign.messages.items():
            for language, source in templates.items():
                samples = _samples(start, details, language)
                problem = _problem_in(campaign, key, language, source, samples)
                if problem:
                    problems.append((("messages", key, language), problem))
                if budget.steps_left < 0:  # every later message would fail the same way
                    return problems
    return problems
