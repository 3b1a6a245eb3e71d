"""Saved answers: the file's checks with file:line, keyword suggestions, language and rendering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.domain.answers import load_answers, parse_answers, render_answer, suggest
from bot.domain.campaign import load_campaigns

GOOD = """\
opening-hours:
  keywords: [open, hours, geopend, opening times]
  en: "Hello {{ name }}! We are open from 10:00."
  nl: "Hallo {{ name }}! We zijn open vanaf 10:00."
receipt:
  keywords: [receipt, kwitantie, open]
  en: "{{ organisation }} sends a receipt."
"""


def test_the_shipped_example_loads_in_english_and_dutch() -> None:
    shipped = load_answers(Path(__file__).resolve().parents[1] / "campaigns" / "answers.yaml")
    assert shipped.errors == []
    assert shipped.answers
    for answer in shipped.answers.values():
        assert {"en", "nl"} <= set(answer.texts)


def test_the_campaign_loader_leaves_the_answers_file_alone(tmp_path: Path) -> None:
    (tmp_path / "answers.yaml").write_text(GOOD, encoding="utf-8")
    loaded = load_campaigns(tmp_path)
    assert loaded.errors == [] and loaded.campaigns == {}


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("a:\n  keywords: [x]\n  en: hi\n  colour: red\n", 4, "a.colour", "unknown key 'colour'"),
        ("a:\n  keywords: []\n  en: hi\n", 2, "a.keywords", "non-empty list"),
        ("a:\n  en: hi\n", 1, "a.keywords", "non-empty list"),
        ("a:\n  keywords: [x]\n", 1, "a", "at least one language"),
        ("a:\n  keywords: [x]\n  en: '{{ nmae }}'\n", 3, "a.en", "unknown variable 'nmae'"),
        ("a:\n  keywords: [x]\n  en: '{{ name.__class__ }}'\n", 3, "a.en", "unsafe"),
        ("a:\n  keywords: [x]\n  en: '<b>hi'\n", 3, "a.en", "never closes <b>"),
        ("Bad Key:\n  keywords: [x]\n  en: hi\n", 1, "Bad Key", "lowercase letters"),
        ("a:\n  keywords: [x]\n  en: [1]\n", 3, "a.en", "must be the answer's text"),
        ("a: [oops\n", 2, "", "YAML syntax error"),
        ("- a\n", 1, "", "must map answer keys"),
    ],
)
def test_a_broken_answer_names_its_line_and_field(
    text: str, line: int, field: str, message: str
) -> None:
    result = parse_answers(text, "answers.yaml")
    assert result.answers == {}
    (error,) = result.errors
    assert (error.file, error.line, error.field) == ("answers.yaml", line, field)
    assert message in error.message
    assert str(error).startswith(f"answers.yaml:{line}: ")


def test_one_broken_answer_does_not_hide_the_others_problems() -> None:
    text = (
        GOOD + "bad:\n  keywords: [x]\n  fr: '{{ x }}'\nworse:\n  keywords: [x]\n  xx-yy-zz: hi\n"
    )
    result = parse_answers(text, "answers.yaml")
    assert [(e.line, e.field) for e in result.errors] == [(10, "bad.fr"), (13, "worse.xx-yy-zz")]
    assert list(result.answers) == ["opening-hours", "receipt"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("When are you open?", ["opening-hours", "receipt"]),
        ("What are your opening times and hours?", ["opening-hours"]),
        ("Zijn jullie geopend?", ["opening-hours"]),
        ("I reopened my account", []),  # whole words only
        ("Can I get a RECEIPT", ["receipt"]),
        ("Nothing to match here", []),
    ],
)
def test_suggestions_match_keywords_best_first(message: str, expected: list[str]) -> None:
    answers = list(parse_answers(GOOD, "answers.yaml").answers.values())
    assert [a.key for a in suggest(answers, message)] == expected


def test_at_most_three_answers_are_suggested() -> None:
    text = "".join(f"k{i}:\n  keywords: [open]\n  en: hi\n" for i in range(5))
    answers = list(parse_answers(text, "f").answers.values())
    assert [a.key for a in suggest(answers, "open")] == ["k0", "k1", "k2"]


@pytest.mark.parametrize(
    ("language", "chosen", "start"),
    [
        ("nl", "nl", "Hallo"),
        ("nl-BE", "nl", "Hallo"),
        ("en", "en", "Hello"),
        ("de", "en", "Hello"),
    ],
)
def test_an_answer_is_rendered_in_the_supporters_language(
    language: str, chosen: str, start: str
) -> None:
    answer = parse_answers(GOOD, "f").answers["opening-hours"]
    used, body = render_answer(
        answer, language=language, first_name="<Ann>", last_name=None, username=None,
        organisation="Museum", today=dt.date(2026, 12, 6),
    )  # fmt: skip
    assert used == chosen
    assert body.startswith(f"{start} &lt;Ann&gt;!")
