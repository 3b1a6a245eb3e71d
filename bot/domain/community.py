"""What a community chat's activity means: a message's sentiment, a reaction's, a topic."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain.classify import (
    NEGATIVE,
    OTHER,
    POSITIVE,
    QUESTION,
    asks_or_refuses,
    blended,
    by_polarity,
    is_opt_out,
    polarity,
)
from bot.domain.i18n import DEFAULT_LANGUAGE
from bot.domain.sentiment import REACTION_POLARITY

# The sentiments interactions carry (the audience rules' `sentiment`).
POSITIVE_SENTIMENT = "positive"
NEUTRAL_SENTIMENT = "neutral"
NEGATIVE_SENTIMENT = "negative"
# Telegram writes the heart both as U+2764 alone and with the emoji variation selector.
_VARIATION = re.compile("[\ufe0e\ufe0f]")
TOPIC_MAX = 120
_SENTIMENT_OF = {
    POSITIVE: POSITIVE_SENTIMENT,
    NEGATIVE: NEGATIVE_SENTIMENT,
    OTHER: NEUTRAL_SENTIMENT,
}


def _sign(score: float) -> str:
    return _SENTIMENT_OF[by_polarity(score)]


def read_message(text: str, language: str | None) -> tuple[str, bool]:
    """Return a member's message's sentiment and whether it asks a question.

    The classifier decides: positive, negative and other are the sentiment; a question or a
    group member's "stop" (an opt-out the rules find, in a private chat) keeps its words' own
    polarity. An opt-out only the model reads counts as its next likeliest class.
    """
    lang = language or DEFAULT_LANGUAGE
    # As read_reply() reads it, in fewer steps: the opt-out check (a dear one) is left for
    # last and skipped where its answer cannot change the reading.
    question, refused = asks_or_refuses(text, lang)
    score = polarity(text, lang)
    by_rules = QUESTION if question else NEGATIVE if refused else by_polarity(score)
    label = blended(text, lang, by_rules).handled_as
    own = _sign(score)
    found = (_SENTIMENT_OF[label], False) if label in _SENTIMENT_OF else (own, label == QUESTION)
    if found != (own, False) and is_opt_out(text, lang):
        return own, False
    return found


def read_messages(messages: Iterable[tuple[str, str | None]]) -> list[tuple[str, bool]]:
    """Read each (words, language) message as read_message() does, in order."""
    return [read_message(text, language) for text, language in messages]


def normalise_emoji(emoji: str) -> str:
    """Return a reaction's emoji without variation selectors ("❤️" and "❤" are one)."""
    return _VARIATION.sub("", emoji)


def reaction_sentiment(emoji: str) -> str:
    """Return a reaction's sentiment from the product's reaction table; others are neutral."""
    return _sign(REACTION_POLARITY.get(normalise_emoji(emoji), 0.0))


def thread_topic(root_topic: str | None, own_topic: str | None) -> str:
    """Return a message's topic: its thread's first hashtag, else its own, else empty."""
    return (root_topic or own_topic or "")[:TOPIC_MAX]


# Telegram's limits on a poll (Bot API sendPoll).
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
POLL_OPTIONS = range(2, 13)
POLL_USAGE = "Usage: /poll QUESTION | option | option [| more options, up to 12]"


class PollError(ValueError):
    """A /poll command that Telegram would refuse, with the reason in plain words."""


def parse_poll(arguments: str) -> tuple[str, list[str]]:
    """Split "QUESTION | option | option" into the question and its options."""
    parts = [part.strip() for part in arguments.split("|")]
    question, options = parts[0], [p for p in parts[1:] if p]
    if not question or len(options) not in POLL_OPTIONS:
        raise PollError(POLL_USAGE)
    if len(question) > POLL_QUESTION_MAX:
        raise PollError(f"The question is longer than {POLL_QUESTION_MAX} characters.")
    if any(len(option) > POLL_OPTION_MAX for option in options):
        raise PollError(f"An option is longer than {POLL_OPTION_MAX} characters.")
    return question, options
