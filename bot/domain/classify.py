"""Classify a supporter's reply and recognise opt-out messages, by plain keyword rules.

The rules are deliberately simple and documented so staff can predict them:

1. Opt-out: the whole message, lower-cased with punctuation, emoji and politeness words
   ("please", "thanks", "alsjeblieft", ...) removed, is one of the opt-out words or phrases
   of English, Dutch or the supporter's language ("stop", "unsubscribe", "afmelden",
   "stuur geen berichten meer", ...). A longer message that merely contains "stop"
   ("don't stop the exhibition!") is not an opt-out.
2. Question: the message contains "?" or starts with a wh-word ("how", "wat", ...).
3. Negative: it contains a refusal phrase ("no", "not now", "geen interesse", ...).
   Checked before positive, because "not interested" contains "interested".
4. Positive: it contains an agreeing phrase ("yes", "happy to", "gedoneerd", "👍", ...).
5. Otherwise: other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSITIVE = "positive"
NEGATIVE = "negative"
QUESTION = "question"
OPT_OUT = "opt_out"
OTHER = "other"
CLASSES = (POSITIVE, NEGATIVE, QUESTION, OPT_OUT, OTHER)


@dataclass(frozen=True)
class LanguageRules:
    """The words and phrases one language uses for each class."""

    opt_out: frozenset[str]
    politeness: frozenset[str]
    question_words: frozenset[str]
    negative: tuple[str, ...]
    positive: tuple[str, ...]


RULES: dict[str, LanguageRules] = {
    "en": LanguageRules(
        opt_out=frozenset(
            {
                "stop",
                "stop all",
                "unsubscribe",
                "opt out",
                "optout",
                "remove me",
                "leave me alone",
                "stop messaging me",
                "stop messages",
                "stop sending messages",
                "stop sending me messages",
                "stop texting me",
                "no more messages",
                "do not message me",
                "dont message me",
                "don't message me",
                "do not contact me",
                "dont contact me",
                "don't contact me",
            }
        ),
        politeness=frozenset({"please", "pls", "plz", "thanks", "thank you", "now"}),
        question_words=frozenset({"how", "what", "when", "where", "why", "who", "which"}),
        negative=(
            "no",
            "nope",
            "not now",
            "not interested",
            "no thanks",
            "no thank you",
            "can't",
            "cannot",
            "can not",
            "won't",
            "not this time",
            "maybe later",
            "not today",
        ),
        positive=(
            "yes",
            "yeah",
            "yep",
            "sure",
            "of course",
            "happy to",
            "gladly",
            "i'll give",
            "i will give",
            "i'll donate",
            "i will donate",
            "donated",
            "just gave",
            "done",
            "great",
            "love",
            "count me in",
            "thank you",
            "thanks",
            "👍",
            "❤️",
            "❤",
        ),
    ),
    "nl": LanguageRules(
        opt_out=frozenset(
            {
                "stop",
                "stopp",
                "stoppen",
                "afmelden",
                "uitschrijven",
                "meld me af",
                "schrijf me uit",
                "geen berichten meer",
                "stuur geen berichten meer",
                "stuur me geen berichten meer",
                "stuur mij geen berichten meer",
                "ik wil geen berichten meer",
                "laat me met rust",
            }
        ),
        politeness=frozenset({"aub", "a.u.b", "alsjeblieft", "alstublieft", "graag", "bedankt"}),
        question_words=frozenset({"hoe", "wat", "wanneer", "waar", "waarom", "wie", "welke"}),
        negative=(
            "nee",
            "neen",
            "niet nu",
            "geen interesse",
            "nee dank je",
            "nee bedankt",
            "helaas",
            "kan niet",
            "liever niet",
            "een andere keer",
            "misschien later",
        ),
        positive=(
            "ja",
            "jazeker",
            "zeker",
            "natuurlijk",
            "graag",
            "doe ik",
            "gedaan",
            "gedoneerd",
            "gegeven",
            "mooi",
            "geweldig",
            "dank je",
            "bedankt",
            "👍",
            "❤️",
            "❤",
        ),
    ),
}
DEFAULT_LANGUAGE = "en"

# Apostrophes are kept ("don't"); everything else that is not a letter, digit or one of the
# emoji the rules name becomes a space.
_KEEP_EMOJI = "👍❤"
_STRIP = re.compile(rf"[^\w'’{_KEEP_EMOJI}]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower-case a message, drop punctuation and squeeze whitespace."""
    cleaned = _STRIP.sub(" ", text.lower().replace("’", "'"))
    return " ".join(cleaned.split())


def _languages(language: str) -> list[LanguageRules]:
    """Return the supporter's rules first, then English and Dutch as a fallback."""
    codes = [language.split("-")[0].lower(), DEFAULT_LANGUAGE, "nl"]
    seen: list[str] = []
    for code in codes:
        if code in RULES and code not in seen:
            seen.append(code)
    return [RULES[code] for code in seen]


def _contains_phrase(words: str, phrase: str) -> bool:
    """Tell whether a phrase occurs in the message on word boundaries."""
    return f" {phrase} " in f" {words} "


def _matches(words: str, text: str, phrase: str) -> bool:
    """Match word phrases on word boundaries and emoji anywhere in the raw text."""
    if any(ch.isalnum() for ch in phrase):
        return _contains_phrase(words, phrase)
    return phrase in text


def _strip_politeness(words: str, politeness: frozenset[str]) -> str:
    """Remove politeness words at either end ("please stop", "stop thanks")."""
    changed = True
    while changed and words:
        changed = False
        for word in politeness:
            if words.startswith(word + " "):
                words, changed = words[len(word) + 1 :], True
            elif words.endswith(" " + word):
                words, changed = words[: -len(word) - 1], True
    return words


def is_opt_out(text: str, language: str = DEFAULT_LANGUAGE) -> bool:
    """Tell whether a message, taken as a whole, asks to stop all messages."""
    words = normalise(text)
    if not words:
        return False
    rules = _languages(language)
    politeness = frozenset().union(*(r.politeness for r in rules))
    core = _strip_politeness(words, politeness)
    return any(core in r.opt_out or words in r.opt_out for r in rules)


def classify_reply(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return positive, negative, question, opt_out or other for a supporter's message."""
    if is_opt_out(text, language):
        return OPT_OUT
    words = normalise(text)
    rules = _languages(language)
    first = words.split(" ", 1)[0] if words else ""
    if "?" in text or any(first in r.question_words for r in rules):
        return QUESTION
    if any(_contains_phrase(words, p) for r in rules for p in r.negative):
        return NEGATIVE
    if any(_matches(words, text, p) for r in rules for p in r.positive):
        return POSITIVE
    return OTHER
