"""The learned half of the reply classifier: a logistic regression over character and word n-grams.

tools/train_reply_model.py fits it with scikit-learn on the labelled corpus
(tests/data/replies.tsv, the `dev` and `train` splits) and writes its numbers to
bot/domain/data/reply_model.npz. Reading a message here needs only that file and numpy: the
same features scikit-learn's TfidfVectorizer makes (lower-cased "<language> <text>"; character
n-grams of 1 to 5 inside word boundaries, and words and word pairs; sublinear term frequency
times idf, each block scaled to unit length), then a softmax over the classes' linear scores.
tests/test_reply_model.py checks that both give the same probabilities on the whole corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("data") / "reply_model.npz"
CHAR_SIZES = (1, 5)  # character n-grams inside word boundaries, shortest and longest
WORD_SIZES = (1, 2)  # words and word pairs
TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"  # a word, or one mark or emoji
_TOKEN = re.compile(TOKEN_PATTERN)
WORDS_KEPT = 100_000  # words whose character n-grams are kept; all are dropped past this


def prepared(text: str, language: str) -> str:
    """Return the text the model reads: the language code first, all lower case."""
    return f"{language} {text}".lower()


def char_ngrams(text: str) -> list[str]:
    """Return the character n-grams of each word, padded with one space on either side."""
    low, high = CHAR_SIZES
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for size in range(low, min(high, length) + 1):
            grams.extend(padded[i : i + size] for i in range(length - size + 1))
    return grams


def word_ngrams(text: str) -> list[str]:
    """Return the words (and single marks) and each pair of neighbouring ones."""
    tokens = _TOKEN.findall(text)
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


@dataclass(frozen=True)
class ReplyModel:
    """A fitted model: the vocabularies, idf weights, coefficients and intercepts."""

    classes: tuple[str, ...]
    char_index: dict[str, int]
    word_index: dict[str, int]
    idf: np.ndarray  # one weight per feature: characters first, then words
    coef: np.ndarray  # features x classes
    intercept: np.ndarray  # one per class
    words_seen: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ReplyModel:
        """Read a model that tools/train_reply_model.py wrote."""
        with np.load(path, allow_pickle=False) as data:
            char_terms = [str(term) for term in data["char_terms"]]
            word_terms = [str(term) for term in data["word_terms"]]
            offset = len(char_terms)
            return cls(
                classes=tuple(str(name) for name in data["classes"]),
                char_index={term: i for i, term in enumerate(char_terms)},
                word_index={term: offset + i for i, term in enumerate(word_terms)},
                idf=data["idf"].astype(np.float64),
                coef=np.ascontiguousarray(data["coef"].T, dtype=np.float64),
                intercept=data["intercept"].astype(np.float64),
            )

    def _word_features(self, word: str) -> np.ndarray:
        """Return the known character n-grams of one word, found once per word and kept."""
        found = self.words_seen.get(word)
        if found is None:
            if len(self.words_seen) >= WORDS_KEPT:
                self.words_seen.clear()
            index = self.char_index
            known = [f for g in char_ngrams(word) if (f := index.get(g)) is not None]
            found = self.words_seen[word] = np.array(known, dtype=np.intp)
        return found

    def _weighted(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return a block's distinct features and their unit-length tf-idf weights."""
        distinct, counts = np.unique(features, return_counts=True)
        weights = (1.0 + np.log(counts)) * self.idf[distinct]
        norm = float(np.sqrt(weights @ weights))
        return distinct, weights / norm if norm else weights

    def probabilities(self, text: str, language: str) -> dict[str, float]:
        """Return each class's probability for a message in a language."""
        read = prepared(text, language)
        known = self.word_index
        found = [f for gram in word_ngrams(read) if (f := known.get(gram)) is not None]
        blocks = [
            np.concatenate([self._word_features(word) for word in read.split()]),
            np.array(found, dtype=np.intp),
        ]
        scores = self.intercept.copy()
        for features in blocks:
            if len(features):
                distinct, weights = self._weighted(features)
                scores += weights @ self.coef[distinct]
        exp = np.exp(scores - scores.max())
        return dict(zip(self.classes, (exp / exp.sum()).tolist(), strict=True))


@cache
def reply_model() -> ReplyModel:
    """Return the shipped model, read once."""
    return ReplyModel.load()
