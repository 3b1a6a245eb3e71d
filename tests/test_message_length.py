"""Telegram's message length: counted in UTF-16 code units, long texts cut at whole lines."""

from __future__ import annotations

import pytest

from bot.domain.message_length import MESSAGE_MAX_UTF16, fit_lines, utf16_length


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
