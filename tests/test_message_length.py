"""Telegram's message length: counted in UTF-16 code units, long texts cut at whole lines."""

from __future__ import annotations

import itertools

import pytest

from bot.domain.message_length import MESSAGE_MAX_UTF16, fit_lines, split_lines, utf16_length
from bot.domain.templating import telegram_html_problems


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("€ë—", 3), ("👋", 2), ("a👋b", 4), ("🇳🇱", 4)],
)
def test_length_counts_utf16_code_units(text: str, units: int) -> None:
    assert utf16_length(text) == units


def test_lines_that_fit_are_joined_unchanged() -> None:
    assert fit_lines(["<b>a</b>", "b", ""], "…more") == "<b>a</b>\nb\n"


@pytest.mark.parametrize("line", ["x" * 100, "👋" * 50, "<b>ë</b>" * 12])
def test_long_texts_keep_whole_lines_and_end_with_the_note(line: str) -> None:
    lines = [f"{n}:{line}" for n in range(200)]
    fitted = fit_lines(lines, "…more")
    kept = fitted.split("\n")
    assert kept[-1] == "…more"
    assert kept[:-1] == lines[: len(kept) - 1]  # whole lines, in order
    assert utf16_length(fitted) <= MESSAGE_MAX_UTF16
    # Not cut early: one more line would not have fitted beside the note.
    assert utf16_length("\n".join([*lines[: len(kept)], "…more"])) > MESSAGE_MAX_UTF16


def test_split_keeps_every_line_whole_and_in_order() -> None:
    lines = [f"<code>{n}: {'é' * (n % 90)} &amp; more</code>" for n in range(400)]
    parts = split_lines(lines)
    assert len(parts) > 1
    assert all(utf16_length(part) <= MESSAGE_MAX_UTF16 for part in parts)
    assert [line for part in parts for line in part.split("\n")] == lines
    # Each part but the last is full: the next line would not have fitted.
    for part, following in itertools.pairwise(parts):
        first_next = following.split("\n")[0]
        assert utf16_length(part) + 1 + utf16_length(first_next) > MESSAGE_MAX_UTF16


@pytest.mark.parametrize(
    "line",
    [
        "<code>" + "a&amp;b " * 1000 + "</code>",
        "<b>x</b><i>" + "👋" * 3000 + "</i>",
        '<a href="https://example.org/' + "p" * 5000 + '">link</a>',
        "&lt;" * 2000,
    ],
)
def test_a_line_longer_than_a_message_is_cut_between_tags_and_entities(line: str) -> None:
    (part,) = split_lines([line])
    assert utf16_length(part) <= MESSAGE_MAX_UTF16
    assert part.endswith(("…", "…</code>", "…</i>"))
    assert telegram_html_problems(part) == []


def test_blank_lines_alone_are_no_message() -> None:
    assert split_lines(["", " "]) == []
    assert split_lines(["a", "", "b"]) == ["a\n\nb"]
