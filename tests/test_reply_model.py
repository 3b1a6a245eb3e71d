"""The reply classifier's learned half: read as scikit-learn fits it, from the corpus."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.sparse import hstack

from bot.domain.reply_model import MODEL_PATH, ReplyModel, char_ngrams, prepared, word_ngrams

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "replies.tsv"


def _trainer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "train_reply_model", ROOT / "tools" / "train_reply_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fitted() -> tuple[ModuleType, list, object]:
    trainer = _trainer()
    blocks, model = trainer.fit(trainer.training_rows())
    return trainer, blocks, model


def test_the_bot_reads_every_corpus_message_as_scikit_learn_does(fitted: tuple) -> None:
    _, blocks, model = fitted
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    texts = [prepared(row["text"], row["language"]) for row in rows]
    theirs = model.predict_proba(hstack([block.transform(texts) for block in blocks]).tocsr())
    shipped = ReplyModel.load()
    assert list(shipped.classes) == list(model.classes_)
    ours = np.array(
        [list(shipped.probabilities(row["text"], row["language"]).values()) for row in rows]
    )
    assert np.abs(ours - theirs).max() < 1e-5


def test_the_features_are_scikit_learns() -> None:
    trainer = _trainer()
    chars, words = (block.build_analyzer() for block in trainer.vectorizers())
    for text in ["en Thanks!  See you 👍", "nl ik   heb 25,- overgemaakt :)", "en a", "en "]:
        assert char_ngrams(text.lower()) == chars(text)
        assert word_ngrams(text.lower()) == words(text)


def test_the_shipped_model_is_the_one_the_corpus_gives(fitted: tuple) -> None:
    trainer, blocks, model = fitted
    assert trainer.same_numbers(MODEL_PATH, io.BytesIO(trainer.packed(blocks, model)))


def test_a_changed_corpus_makes_the_shipped_model_stale(fitted: tuple) -> None:
    trainer, _, _ = fitted
    rows = trainer.training_rows()
    rows[0] = {**rows[0], "label": "opt_out" if rows[0]["label"] != "opt_out" else "other"}
    data = trainer.packed(*trainer.fit(rows))
    assert not trainer.same_numbers(MODEL_PATH, io.BytesIO(data))


def test_only_dev_and_train_rows_teach_the_model(fitted: tuple) -> None:
    trainer, _, _ = fitted
    splits = {row["split"] for row in trainer.training_rows()}
    assert splits == {"dev", "train"}
