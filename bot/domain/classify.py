"""Classify a supporter's reply or community comment: positive, negative, question, opt-out, other.

The labelling rules the classifier follows are written down in tests/data/LABELLING.md, and
benchmarks/classify.py measures it on the labelled corpus beside them. In order:

1. Opt-out: a clause, without politeness words and emoji, is a stop word ("stop",
   "unsubscribe", "afmelden"), or the message puts a stop or removal verb together with our
   messages, a list or the sender ("stop texting me", "haal mijn nummer van de lijst"); see
   bot/domain/reply_opt_outs.py. Checked in every language we know, whatever the supporter's,
   since a missed opt-out is the costly mistake.
2. Question: a "?", an indirect question ("I'd like to know if", "ik vroeg me af"), or a
   question word or an inverted verb at the start ("how", "can I", "kan ik", "accepteren
   jullie") unless it opens an exclamation ("What a show!", "Wat leuk").
3. Negative, when it refuses the ask ("not this time", "deze keer niet", "I can't").
4. Otherwise the sentiment decides: the language's lexicon (bot/domain/sentiment.py: VADER for
   English, the pattern lexicon for Dutch, both with negation), the emoji, the language's own
   idioms and gift words ("count me in", "overgemaakt"), and a sum of money ("25 euro") as a
   gift. Positive from +0.05, negative from -0.05, other in between.

5. The learned model (bot/domain/reply_model.py, a logistic regression over character and
   word n-grams fitted on the labelled corpus) gives each class a probability; the rules'
   class gets RULES_WEIGHT on top, and the highest wins (but never positive over the rules'
   negative). An opt-out the rules find stands
   and is acted on at once; one only the model reads (it misses fewer, but a word like
   "stop" can mislead it) is a Reading.maybe_opt_out: the bot asks before it stops.

Each language is one LanguageRules object in bot/domain/reply_languages.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.i18n import DEFAULT_LANGUAGE, primary_language
from bot.domain.reply_languages import RULES, LanguageRules
from bot.domain.reply_model import reply_model
from bot.domain.reply_opt_outs import asks_to_stop, split_clauses
from bot.domain.sentiment import emoji_polarity, split_emoji

POSITIVE = "positive"
NEGATIVE = "negative"
QUESTION = "question"
OPT_OUT = "opt_out"
OTHER = "other"
CLASSES = (POSITIVE, NEGATIVE, QUESTION, OPT_OUT, OTHER)

THRESHOLD = 0.05  # VADER's own cut between neutral and polar
# Step 5: the weight the rules' class gets on top of the model's probabilities. Chosen once,
# by training the model on the batches before each of batches 9 to 11 and blending it with the
# rules as they were frozen before that batch (see tests/data/LABELLING.md).
RULES_WEIGHT = 0.4
_EMOJI_WEIGHT = 0.6  # one clear emoji ("Done 👍") is enough to tip a neutral text
_MONEY_WEIGHT = 0.5  # "Sent 25 euros" names a gift even without a feeling word
_MONEY = re.compile(r"€ ?\d|\d+(?:[.,]\d+)? ?(?:€|eur|euro|euros)\b")
_EXCLAIMED = 0.3  # "How lovely", "Wat leuk": a clearly polar word after a question word
_STRIP = re.compile(r"[^\w']+")
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
_CLAUSES = re.compile(r"([^,.;:!?…]+)([,.;:!?…]*)")
# Dictated messages spell their punctuation out: "hello comma can I come question mark".
_SPOKEN = re.compile(
    r" ?\b(question mark|vraagteken|comma|komma|full stop|exclamation mark|uitroepteken)\b",
    re.IGNORECASE,
)
_SPOKEN_MARKS = {
    "question mark": "?",
    "vraagteken": "?",
    "comma": ",",
    "komma": ",",
    "full stop": ".",
}


def _written(text: str) -> str:
    """Return a message with spoken punctuation written as marks."""
    return _SPOKEN.sub(lambda m: _SPOKEN_MARKS.get(m.group(1).lower(), "!"), text)


def _words_and_emoji(text: str) -> tuple[str, list[str]]:
    """Return a message's words, normalised, and its emoji."""
    words, emoji = split_emoji(text.lower().replace("’", "'"))
    words = _STRETCHED.sub(r"\1", words)  # "stoooop", "pleeease": no word has a letter thrice
    return " ".join(_STRIP.sub(" ", words).replace("_", " ").split()), emoji


def normalise(text: str) -> str:
    """Lower-case a message, drop punctuation and emoji, and squeeze whitespace."""
    return _words_and_emoji(text)[0]


def _rules(language: str) -> list[LanguageRules]:
    """Return the supporter's language's rules first, then every other language's."""
    code = primary_language(language)
    first = [RULES[code]] if code in RULES else [RULES[DEFAULT_LANGUAGE]]
    return first + [rules for rules in RULES.values() if rules is not first[0]]


def is_opt_out(text: str, language: str = DEFAULT_LANGUAGE) -> bool:
    """Tell whether a message asks to stop all messages."""
    clauses = [c for c in (normalise(raw) for raw in split_clauses(_written(text))) if c]
    return bool(clauses) and asks_to_stop(clauses, [rules.opt_outs for rules in _rules(language)])


def _opens_question(words: str, rules: LanguageRules, *, later: bool, foreign: bool) -> bool:
    """Tell whether a clause opens like a question: a question word or an inverted verb.

    Later in a message, and in a language other than the supporter's, an inverted verb needs
    its subject right after it: a Dutch "Is geregeld" is no English "Is ...?".
    """
    tokens = words.split()
    if len(tokens) > 2 and tokens[0] in rules.openers:
        tokens = tokens[1:]  # "hey does the discount still work"
    # "Bij wie kan ik terecht": a question; later in a message, "voor wie morgen komt" is
    # a relative clause.
    if len(tokens) > 2 and tokens[0] in rules.prepositions:
        if later and tokens[1] in rules.question_words:
            return False
        tokens = tokens[1:]
    if len(tokens) < 2:
        return False
    first, second = tokens[0], tokens[1]
    if first in rules.question_words:
        exclaimed = abs(rules.sentiment.score(second)) >= _EXCLAIMED  # "How lovely", "Wat leuk"
        return second not in rules.exclamations and not exclaimed
    if first in rules.dropped_subject_verbs and (
        second == rules.expletive or second not in rules.subjects
    ):
        return False  # "Zit er", "Zit op mn werk": "ik" dropped, a statement
    # "Weet ik niet", "Weet ik nog niet": the object dropped, not a question.
    after = [token for token in tokens[2:4] if token != "nog"]
    if second == rules.first_person and after and after[0] in rules.dropped_object_cues:
        return False
    # A clause that ends in a negation or "wel" states ("kan deze maand nie", "zien we dan wel").
    if tokens[-1] in rules.dropped_object_cues:
        return False
    # Two words ("doe ik", "will do") are a short answer more often than a question; a verb
    # before "jullie" or "u" asks us, even a warm one ("geven jullie ook rondleidingen").
    if len(tokens) > 2 and second in rules.subject_pronouns and first.endswith(rules.verb_endings):
        return rules.sentiment.score(first) == 0 or second in rules.addressees
    if first not in rules.question_verbs:
        return False
    # A statement may drop its subject ("Will talk it over", "Thanks, is fine"): after a modal,
    # and anywhere later in a message, the subject must be there to make it a question.
    if later or foreign or first in rules.modal_verbs:
        plural = bool(rules.plural_ending) and second.endswith(rules.plural_ending)
        return second in rules.subjects or (plural and not second.endswith("ss"))
    return second not in rules.not_subjects and rules.sentiment.score(second) == 0


def _is_question(text: str, words: str, rules: LanguageRules, *, foreign: bool) -> bool:
    """Tell whether a message asks something, in one language's terms."""
    if "?" in text:
        return True
    if any(pattern.search(words) for pattern in rules.indirect_questions):
        return True
    # Each clause may open a question ("Great news, when does it open"), except an
    # exclamation ("How lovely!").
    return any(
        _opens_question(normalise(clause), rules, later=i > 0, foreign=foreign)
        for i, (clause, end) in enumerate(_CLAUSES.findall(text))
        if end != "!"
    )


def _words_polarity(words: str, rules: LanguageRules) -> tuple[float, bool]:
    """Return the polarity of a message's words by one language's idioms and lexicon, and
    whether one of its idioms read them (a neutral one, such as "ok noted", too)."""
    score, read = 0.0, False
    for pattern, value in rules.idioms:
        if pattern.search(words):
            score += value
            words = pattern.sub(" ", words)
            read = True
    return score + rules.sentiment.score(words), read


def polarity(text: str, language: str = DEFAULT_LANGUAGE) -> float:
    """Return a message's sentiment from about -1 to 1: lexicon, idioms, emoji and money."""
    text = _written(text)
    words, emoji = _words_and_emoji(text)
    score = 0.0
    # Many Dutch supporters run Telegram in English: when the supporter's language finds no
    # feeling in the words, another language may, if the message has more of that language's
    # common words than of the supporter's own (else "last" in "We came last Sunday" would be
    # the Dutch "last", a burden, and "die" in "Mijn vader was schipper op die boot" the English
    # verb), or is a word or two ("Geweldig!").
    tokens = set(words.split())
    every = _rules(language)
    own = len(tokens & every[0].markers)
    for i, rules in enumerate(every):
        if i and len(tokens) > 2 and len(tokens & rules.markers) <= own:
            continue
        score, read = _words_polarity(words, rules)
        if score or read:
            break
    if emoji:
        feeling = sum(emoji_polarity(char) for char in emoji)
        score += _EMOJI_WEIGHT * max(-1.0, min(1.0, feeling))
    if _MONEY.search(text.lower()) or any(r.gift.search(words) for r in _rules(language)):
        score += _MONEY_WEIGHT
    return score


def asks_or_refuses(text: str, language: str = DEFAULT_LANGUAGE) -> tuple[bool, bool]:
    """Tell whether a message asks something, and if not, whether it refuses the ask.

    The opt-out check is left out: read_by_rules() takes it first.
    """
    text = _written(text)
    words = normalise(text)
    every = _rules(language)
    if any(_is_question(text, words, rules, foreign=i > 0) for i, rules in enumerate(every)):
        return True, False
    return False, any(pattern.search(words) for rules in every for pattern in rules.refusals)


def read_by_rules(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return the rules' class for a message (steps 1 to 4 above), before the model's say.

    Each step reads spoken punctuation as marks itself.
    """
    if is_opt_out(text, language):
        return OPT_OUT
    question, refused = asks_or_refuses(text, language)
    if question:
        return QUESTION
    if refused:
        return NEGATIVE
    return by_polarity(polarity(text, language))


def by_polarity(score: float) -> str:
    """Return the class a sentiment score gives on its own (step 4 above)."""
    if score >= THRESHOLD:
        return POSITIVE
    if score <= -THRESHOLD:
        return NEGATIVE
    return OTHER


@dataclass(frozen=True)
class Reading:
    """A message's class, the rules' class it was blended from, and the class acted on."""

    label: str
    by_rules: str
    handled_as: str  # the label, or for an opt-out only the model reads, the next likeliest

    @property
    def sure_opt_out(self) -> bool:
        """An opt-out the rules found themselves: acted on at once."""
        return self.by_rules == OPT_OUT

    @property
    def maybe_opt_out(self) -> bool:
        """An opt-out only the model reads: the supporter is asked before anything stops."""
        return self.label == OPT_OUT and not self.sure_opt_out


def read_reply(text: str, language: str = DEFAULT_LANGUAGE) -> Reading:
    """Read a supporter's message: the rules, then the model (steps 1 to 5 above)."""
    return blended(text, language, read_by_rules(text, language))


def blended(text: str, language: str, by_rules: str) -> Reading:
    """Read a message the rules read as by_rules: the model has its say (step 5 above)."""
    if by_rules == OPT_OUT:
        return Reading(OPT_OUT, OPT_OUT, OPT_OUT)
    code = primary_language(language)
    chances = reply_model().probabilities(text, code if code in RULES else DEFAULT_LANGUAGE)
    chances[by_rules] += RULES_WEIGHT
    if by_rules == NEGATIVE:
        # The model reads "not bad at all" (positive) into "bad" itself: it never turns the
        # rules' refusal or dislike into a positive. Measured as the blend's weight was.
        del chances[POSITIVE]
    label = max(chances, key=chances.__getitem__)
    if label != OPT_OUT:
        return Reading(label, by_rules, label)
    del chances[OPT_OUT]
    return Reading(label, by_rules, max(chances, key=chances.__getitem__))


def classify_reply(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return positive, negative, question, opt_out or other for a supporter's message."""
    return read_reply(text, language).label
