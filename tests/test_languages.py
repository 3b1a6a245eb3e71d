"""Language codes: one normaliser, so texts, month names, dates and amounts always agree."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.i18n import language_tag, month_name, primary_language, text
from bot.domain.money import format_amount
from bot.domain.spec import Campaign
from bot.domain.templating import MessageContext, render_message

DUTCH = ["nl", "nl_BE", "nl-BE", "NL", "nl_be", " nl-BE "]
ENGLISH = [None, "", "  ", "en", "en_GB", "EN-us", "ja"]


@pytest.mark.parametrize(
    ("code", "tag", "primary"),
    [("nl_BE", "nl-be", "nl"), ("nl-BE", "nl-be", "nl"), ("NL", "nl", "nl"),
     (" pt_BR ", "pt-br", "pt"), (None, None, "en"), ("", None, "en"), ("  ", None, "en")],
)  # fmt: skip
def test_codes_are_normalised_one_way(code: str | None, tag: str | None, primary: str) -> None:
    assert language_tag(code) == tag
    assert primary_language(code) == primary


def _campaign() -> Campaign:
    source = (
        "{{ name }}|{{ today | month_name }}|{{ today | date }}|{% if gift %}{{ gift }}{% endif %}"
    )
    return Campaign.model_validate(
        {
            "name": "languages",
            "title": "Languages",
            "organisation": "Harbour Museum",
            "donate_url": "https://donate.example.org/x",
            "arms": {"specific": {"kind": "specific", "weight": 1, "message": "ask"}},
            "messages": {"ask": {"en": source, "nl": source}},
        }
    )


@pytest.mark.parametrize("code", DUTCH)
def test_a_dutch_code_gets_dutch_texts_month_names_dates_and_amounts(code: str) -> None:
    assert text("opted_out", code) == text("opted_out", "nl")
    assert text("opted_out", code).startswith("Geregeld")
    assert month_name(3, code) == "maart"
    assert format_amount(123450, "EUR", code) == "1.234,50 €"
    context = MessageContext(
        today=date(2026, 3, 9), language=code, gift_amount_minor=2500, gift_currency="EUR"
    )
    assert render_message(_campaign(), "ask", context) == "vriend|maart|9 maart 2026|25,00 €"


@pytest.mark.parametrize("code", ENGLISH)
def test_other_codes_fall_back_to_english_throughout(code: str | None) -> None:
    assert text("opted_out", code).startswith("Done")
    assert month_name(3, code) == "March"
    assert format_amount(123450, "EUR", code or "en") == "€1,234.50"
    context = MessageContext(
        today=date(2026, 3, 9), language=code, gift_amount_minor=2500, gift_currency="EUR"
    )
    assert render_message(_campaign(), "ask", context) == "friend|March|9 March 2026|€25.00"
