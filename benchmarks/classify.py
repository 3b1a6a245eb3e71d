"""Benchmark: classify the labelled corpus of replies; precision, recall, macro F1 and speed.

Usage: .venv/bin/python benchmarks/classify.py [--repeat N] [--mistakes]

Runs bot/domain/classify.classify_reply (the rules, then the learned model) over
tests/data/replies.tsv (labelling rules in tests/data/LABELLING.md) with each row's language,
and prints for the dev and train splits (both taught the model), the original test split, the
held-out batch (written by an author who never saw the classifier, and committed before it
ran on it) and all rows: precision and recall per class, the macro F1 (target at least 0.9
on held-out text), and how the opt-outs are acted on: at once when the rules find them,
offered as a Stop button when only the model does. Then the time to load the lexicons and
the model (the first call) and the mean time per message over N passes of the whole corpus
(default 20; target well under 5 ms). --mistakes lists the misclassified dev rows, the ones
that may guide tuning; held-out rows are never listed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.classify import CLASSES, OPT_OUT, Reading, classify_reply, read_reply

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "replies.tsv"
Row = dict[str, str]
# Splits reported one by one: `train` (new rows the model learnt from, never read while tuning
# the rules), then the original test and the held-out batch.
SPLITS = ("dev", "train", "test", "holdout12", "holdout13")


def load(path: Path) -> list[Row]:
    """Read the corpus rows (text, language, label, split)."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def scores(pairs: list[tuple[str, str]]) -> tuple[dict[str, tuple[float, float, int]], float]:
    """Return precision, recall and support per class, and the macro F1, of (gold, guess)."""
    per_class: dict[str, tuple[float, float, int]] = {}
    f1s = []
    for label in CLASSES:
        hits = sum(1 for gold, guess in pairs if gold == guess == label)
        guessed = sum(1 for _, guess in pairs if guess == label)
        support = sum(1 for gold, _ in pairs if gold == label)
        precision = hits / guessed if guessed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = (precision, recall, support)
        f1s.append(f1)
    return per_class, sum(f1s) / len(f1s)


def report(name: str, rows: list[Row], guesses: list[str]) -> None:
    """Print one split's figures."""
    pairs = [(row["label"], guess) for row, guess in zip(rows, guesses, strict=True)]
    per_class, macro = scores(pairs)
    print(f"\n{name}: {len(rows)} messages, macro F1 {macro:.3f}")
    print(f"  {'class':<10}{'precision':>10}{'recall':>8}{'n':>5}")
    for label, (precision, recall, support) in per_class.items():
        print(f"  {label:<10}{precision:>10.3f}{recall:>8.3f}{support:>5}")


def opt_outs(rows: list[Row], readings: list[Reading]) -> None:
    """Print how the split's opt-outs are acted on: at once (the rules) or offered (the model)."""
    real = sum(1 for row in rows if row["label"] == OPT_OUT)
    sure = [row for row, reading in zip(rows, readings, strict=True) if reading.sure_opt_out]
    offered = [row for row, reading in zip(rows, readings, strict=True) if reading.maybe_opt_out]
    sure_right = sum(1 for row in sure if row["label"] == OPT_OUT)
    offered_right = sum(1 for row in offered if row["label"] == OPT_OUT)
    print(
        f"  opt-outs ({real}): {len(sure)} acted on at once ({sure_right} real), "
        f"{len(offered)} offered the Stop button ({offered_right} real)"
    )


def main() -> None:
    """Classify the corpus and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=20, help="timed passes over the corpus")
    parser.add_argument("--mistakes", action="store_true", help="list misclassified dev rows")
    args = parser.parse_args()
    rows = load(CORPUS)

    started = time.perf_counter()
    classify_reply("hello", "en")
    classify_reply("hallo", "nl")
    load_ms = (time.perf_counter() - started) * 1000

    readings = [read_reply(row["text"], row["language"]) for row in rows]
    guesses = [reading.label for reading in readings]
    for split in SPLITS:
        picked = [i for i, row in enumerate(rows) if row["split"] == split]
        if picked:
            report(split, [rows[i] for i in picked], [guesses[i] for i in picked])
            opt_outs([rows[i] for i in picked], [readings[i] for i in picked])
    report("all", rows, guesses)

    started = time.perf_counter()
    for _ in range(args.repeat):
        for row in rows:
            classify_reply(row["text"], row["language"])
    per_message_ms = (time.perf_counter() - started) * 1000 / (args.repeat * len(rows))
    print(f"\nfirst call (loads lexicons and model): {load_ms:.1f} ms")
    print(f"mean time per message: {per_message_ms:.3f} ms over {args.repeat} x {len(rows)}")

    if args.mistakes:
        print("\ndev mistakes (gold -> guess):")
        for row, guess in zip(rows, guesses, strict=True):
            if row["split"] == "dev" and guess != row["label"]:
                print(f"  {row['label']:>8} -> {guess:<8} [{row['language']}] {row['text']}")


if __name__ == "__main__":
    main()
