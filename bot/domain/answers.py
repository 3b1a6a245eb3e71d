"""Saved answers: load campaigns/answers.yaml, suggest answers for a message, render them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from bot.domain.campaign import ANSWERS_FILE, SpecError
from bot.domain.i18n import DEFAULT_LANGUAGE, language_tag, primary_language
from bot.domain.spec_fields import describe_value
from bot.domain.templating import MessageContext, render_message, template_problems
from bot.domain.yaml_lines import Loc, field_path, line_of, read_yaml

__all__ = ["ANSWERS_FILE", "AnswerSet", "SavedAnswer", "load_answers", "render_answer", "suggest"]
KEYWORDS = "keywords"
# A key rides in a button's callback data (64 bytes in all), so it stays short and plain.
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
# A relayed question shows at most this many suggestions.
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class SavedAnswer:
    """One saved answer: the words that suggest it and its text per language."""

    key: str
    keywords: tuple[str, ...]
    texts: Mapping[str, str]
    line: int | None = None

    def language_for(self, wanted: str | None) -> str:
        """Choose the supporter's language if this answer has it, else English, else the first."""
        tag = language_tag(wanted)
        for candidate in (tag, primary_language(tag), DEFAULT_LANGUAGE):
            if candidate and candidate in self.texts:
                return candidate
        return next(iter(self.texts))


@dataclass
class AnswerSet:
    """The saved answers of one file by key, and every problem found in it."""

    answers: dict[str, SavedAnswer] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


@dataclass(frozen=True)
class _AnswerTexts:
    """The answers seen as the messages of a campaign, so campaign templating renders them."""

    messages: Mapping[str, Mapping[str, str]]
    organisation: str = ""
    name: str = "answers"
    title: str = "Saved answers"
    default_language: str = DEFAULT_LANGUAGE


def _entry_errors(file: str, key: Any, entry: Any, lines: dict[Loc, int]) -> list[SpecError]:
    loc: Loc = (key,)
    where = line_of(lines, loc)
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        message = (
            f"key {key!r} must be 1 to 32 lowercase letters, digits, '-' or '_' "
            "(it travels in a button)"
        )
        return [SpecError(file, where, str(key), message)]
    if not isinstance(entry, dict):
        got = describe_value(entry)
        return [
            SpecError(file, where, key, f"must be a mapping of keywords and texts (got {got})")
        ]
    errors: list[SpecError] = []
    keywords = entry.get(KEYWORDS)
    if not isinstance(keywords, list) or not keywords:
        errors.append(
            SpecError(
                file,
                line_of(lines, (*loc, KEYWORDS)),
                field_path((*loc, KEYWORDS)),
                "must be a non-empty list of words",
            )
        )
    else:
        for i, word in enumerate(keywords):
            if not isinstance(word, str) or not word.strip():
                errors.append(
                    SpecError(
                        file,
                        line_of(lines, (*loc, KEYWORDS, i)),
                        field_path((*loc, KEYWORDS, i)),
                        f"must be a word or phrase (got {describe_value(word)})",
                    )
                )
    texts = {k: v for k, v in entry.items() if k != KEYWORDS}
    if not texts:
        errors.append(
            SpecError(file, where, key, "needs a text in at least one language, like en: ...")
        )
    for language, body in texts.items():
        at = (*loc, language)
        if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
            errors.append(
                SpecError(
                    file,
                    line_of(lines, at),
                    field_path(at),
                    f"unknown key {language!r} (allowed: {KEYWORDS}, or a language code "
                    "like en or nl)",
                )
            )
        elif not isinstance(body, str) or not body.strip():
            errors.append(
                SpecError(
                    file,
                    line_of(lines, at),
                    field_path(at),
                    f"must be the answer's text (got {describe_value(body)})",
                )
            )
    return errors


def parse_answers(text: str, file: str) -> AnswerSet:
    """Validate the text of an answers file; every problem names the file, line and field."""
    result = AnswerSet()
    try:
        data, lines = read_yaml(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        result.errors.append(SpecError(file, line, "", f"YAML syntax error: {problem}"))
        return result
    if data is None:
        return result  # an empty file: no saved answers yet
    if not isinstance(data, dict):
        got = describe_value(data)
        result.errors.append(
            SpecError(file, 1, "", f"must map answer keys to answers (got {got})")
        )
        return result
    for key, entry in data.items():
        errors = _entry_errors(file, key, entry, lines)
        if errors:
            result.errors += errors
            continue
        texts = {k: v for k, v in entry.items() if k != KEYWORDS}
        problems = template_problems(_AnswerTexts({key: texts}), start=None, details={})
        for (_, _, language), message in problems:
            at = (key, language)
            result.errors.append(SpecError(file, line_of(lines, at), field_path(at), message))
        if problems:
            continue
        words = tuple(str(w).strip().lower() for w in entry[KEYWORDS])
        result.answers[key] = SavedAnswer(key, words, texts, line_of(lines, (key,)))
    result.errors.sort(key=lambda e: e.line or 0)
    return result


def load_answers(path: Path) -> AnswerSet:
    """Load the answers file; a missing file means no saved answers, not a problem."""
    if not path.exists():
        return AnswerSet()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return AnswerSet(errors=[SpecError(path, None, "", f"cannot be read: {exc}")])
    return parse_answers(text, str(path))


_WORD = re.compile(r"\w+", re.UNICODE)


def _matches(keyword: str, words: set[str], lowered: str) -> bool:
    # A phrase matches as text; a single word must be a whole word ("open" is not "opened").
    return keyword in lowered if " " in keyword else keyword in words


def suggest(answers: Sequence[SavedAnswer], message: str) -> list[SavedAnswer]:
    """Return up to three answers whose keywords the message contains, best match first."""
    lowered = message.lower()
    words = set(_WORD.findall(lowered))
    scored = []
    for order, answer in enumerate(answers):
        hits = sum(1 for keyword in answer.keywords if _matches(keyword, words, lowered))
        if hits:
            scored.append((-hits, order, answer))
    return [answer for _, _, answer in sorted(scored)[:MAX_SUGGESTIONS]]


def render_answer(
    answer: SavedAnswer,
    *,
    language: str | None,
    first_name: str | None,
    last_name: str | None,
    username: str | None,
    organisation: str,
    today: dt.date,
) -> tuple[str, str]:
    """Render a saved answer for one supporter; return (language used, Telegram HTML)."""
    chosen = answer.language_for(language)
    texts = _AnswerTexts(
        {answer.key: {chosen: answer.texts[chosen]}}, organisation, default_language=chosen
    )
    context = MessageContext(
        today=today,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language=chosen,
    )
    return chosen, render_message(texts, answer.key, context)
