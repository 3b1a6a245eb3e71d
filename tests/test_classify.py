"""Reply classification and opt-out words: the documented keyword rules, in English and Dutch."""

from __future__ import annotations

import pytest

from bot.domain.classify import (
    NEGATIVE,
    OPT_OUT,
    OTHER,
    POSITIVE,
    QUESTION,
    classify_reply,
    is_opt_out,
    normalise,
)
from bot.domain.i18n import command_descriptions, pick_language, text


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("stop", "en"),
        ("STOP", "en"),
        ("Stop.", "en"),
        ("stop!!", "en"),
        ("Please stop", "en"),
        ("stop please", "en"),
        ("Unsubscribe", "en"),
        ("Stop messaging me", "en"),
        ("don't contact me", "en"),
        ("Don’t message me, thanks", "en"),
        ("stopp", "nl"),
        ("Afmelden", "nl"),
        ("afmelden aub", "nl"),
        ("Stuur geen berichten meer", "nl"),
        ("stuur me geen berichten meer alsjeblieft", "nl"),
        ("uitschrijven", "nl"),
        # A Dutch word from someone whose Telegram is set to English still counts.
        ("afmelden", "en"),
        ("unsubscribe", "nl-BE"),
    ],
)
def test_opt_out_words_as_the_whole_message(message: str, language: str) -> None:
    assert is_opt_out(message, language)
    assert classify_reply(message, language) == OPT_OUT


@pytest.mark.parametrize(
    "message",
    [
        "Don't stop the exhibition!",
        "stop by the museum sometime",
        "I can't stop thinking about the harbour show",
        "non-stop fun",
        "",
        "   ",
        "🛑",
    ],
)
def test_a_message_merely_containing_stop_is_not_an_opt_out(message: str) -> None:
    assert not is_opt_out(message, "en")
    assert classify_reply(message, "en") != OPT_OUT


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("Yes, happy to help!", "en", POSITIVE),
        ("Done 👍", "en", POSITIVE),
        ("Just gave, good luck", "en", POSITIVE),
        ("Ja, graag!", "nl", POSITIVE),
        ("Gedoneerd!", "nl", POSITIVE),
        ("❤️", "en", POSITIVE),
        ("No thanks", "en", NEGATIVE),
        ("Not now, sorry", "en", NEGATIVE),
        ("Not interested", "en", NEGATIVE),
        ("I'd love to but I can't this month", "en", NEGATIVE),
        ("Nee, geen interesse", "nl", NEGATIVE),
        ("Helaas, niet nu", "nl", NEGATIVE),
        ("Is the museum open on Sunday?", "en", QUESTION),
        ("how do I pay by bank transfer", "en", QUESTION),
        ("Wanneer is de tentoonstelling", "nl", QUESTION),
        ("Yes! Can I pay by bank?", "en", QUESTION),
        ("I visited in May with my niece", "en", OTHER),
        ("yesterday I was there", "en", OTHER),
    ],
)
def test_classify_reply(message: str, language: str, expected: str) -> None:
    assert classify_reply(message, language) == expected


def test_normalise_drops_punctuation_and_emoji_keeps_apostrophes() -> None:
    assert normalise("  Don’t   STOP!! ❤ ") == "don't stop"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("nl", "nl"), ("nl-BE", "nl"), ("EN", "en"), ("de", "en"), (None, "en"), ("", "en")],
)
def test_pick_language_falls_back_to_english(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def test_texts_escape_values_and_exist_in_every_language() -> None:
    greeting = text("greeting", "nl", name="<b>Ann</b> & co")
    assert greeting.startswith("Hallo &lt;b&gt;Ann&lt;/b&gt; &amp; co!")
    assert text("staff_only", "fr") == "Sorry, this command is for the organisation's staff."
    assert [c for c, _ in command_descriptions("nl")] == [
        "start", "stop", "privacy", "forget", "help"
    ]  # fmt: skip
