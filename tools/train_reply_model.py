"""Fit the reply classifier's learned half on the labelled corpus and write it for the bot.

Usage: .venv/bin/python tools/train_reply_model.py [--check]

Reads tests/data/replies.tsv, fits scikit-learn's TfidfVectorizer (characters and words, as
bot/domain/reply_model.py reads them) and a logistic regression on the rows whose split is
`dev` or `train` (never `test` or a held-out batch), and writes bot/domain/data/reply_model.npz.
The fit is deterministic: --check fits again and exits 1 when the shipped file differs, so a
corpus change without a retrained model is caught (tests/test_reply_model.py runs it).
scikit-learn is a development dependency; the bot itself needs only numpy to read the file.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.reply_model import (  # noqa: E402
    CHAR_SIZES,
    MODEL_PATH,
    TOKEN_PATTERN,
    WORD_SIZES,
    prepared,
)

CORPUS = ROOT / "tests" / "data" / "replies.tsv"
TRAINING_SPLITS = ("dev", "train")
STRENGTH = 10.0  # scikit-learn's C: the inverse of the L2 penalty


def training_rows(path: Path = CORPUS) -> list[dict[str, str]]:
    """Return the corpus rows the model may learn from."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row for row in rows if row["split"] in TRAINING_SPLITS]


def vectorizers() -> list[TfidfVectorizer]:
    """Return unfitted vectorizers for the character and the word block."""
    return [
        TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_SIZES, sublinear_tf=True),
        TfidfVectorizer(
            analyzer="word", ngram_range=WORD_SIZES, sublinear_tf=True, token_pattern=TOKEN_PATTERN
        ),
    ]


def fit(rows: list[dict[str, str]]) -> tuple[list[TfidfVectorizer], LogisticRegression]:
    """Fit the vectorizers and the regression on rows."""
    texts = [prepared(row["text"], row["language"]) for row in rows]
    blocks = vectorizers()
    features = hstack([block.fit_transform(texts) for block in blocks]).tocsr()
    model = LogisticRegression(C=STRENGTH, max_iter=5000)
    model.fit(features, [row["label"] for row in rows])
    return blocks, model


def packed(blocks: list[TfidfVectorizer], model: LogisticRegression) -> bytes:
    """Return the fitted numbers as the compressed npz file the bot reads."""
    chars, words = (block.get_feature_names_out() for block in blocks)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        classes=np.asarray(model.classes_, dtype=str),
        char_terms=np.asarray(chars, dtype=str),
        word_terms=np.asarray(words, dtype=str),
        idf=np.concatenate([block.idf_ for block in blocks]).astype(np.float32),
        coef=model.coef_.astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
    )
    return buffer.getvalue()


def same_numbers(a: Path | io.BytesIO, b: Path | io.BytesIO) -> bool:
    """Tell whether two model files hold the same terms and numbers.

    Numbers may differ in their last bits between machines' maths libraries, not more.
    """
    with np.load(a, allow_pickle=False) as left, np.load(b, allow_pickle=False) as right:
        if sorted(left.files) != sorted(right.files):
            return False
        for name in left.files:
            x, y = left[name], right[name]
            if x.shape != y.shape:
                return False
            if x.dtype.kind == "f":
                if not np.allclose(x, y, rtol=1e-3, atol=1e-4):
                    return False
            elif not np.array_equal(x, y):
                return False
        return True


def main() -> int:
    """Fit, then write the model or check the shipped one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the shipped model differs")
    args = parser.parse_args()
    rows = training_rows()
    data = packed(*fit(rows))
    if args.check:
        if MODEL_PATH.exists() and same_numbers(MODEL_PATH, io.BytesIO(data)):
            print(f"{MODEL_PATH.relative_to(ROOT)} matches the corpus ({len(rows)} rows)")
            return 0
        print(f"{MODEL_PATH.relative_to(ROOT)} is stale: run tools/train_reply_model.py")
        return 1
    MODEL_PATH.parent.mkdir(exist_ok=True)
    MODEL_PATH.write_bytes(data)
    print(f"wrote {MODEL_PATH.relative_to(ROOT)} from {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
