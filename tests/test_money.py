"""Money: decimals per currency, amounts written per language, amounts read as people type."""

from __future__ import annotations

import pytest

from bot.domain.money import format_amount, minor_unit_exponent, parse_amount


@pytest.mark.parametrize(
    ("currency", "decimals"),
    [("EUR", 2), ("usd", 2), ("CHF", 2), ("JPY", 0), ("krw", 0), ("KWD", 3), (" bhd ", 3)],
)
def test_minor_unit_exponent(currency: str, decimals: int) -> None:
    assert minor_unit_exponent(currency) == decimals


@pytest.mark.parametrize(
    ("amount_minor", "currency", "language", "expected"),
    [
        (2500, "EUR", "en", "€25.00"),
        (2500, "eur", "nl", "25,00 €"),
        (2505, "EUR", "de", "25,05 €"),
        (1000, "USD", "en", "$10.00"),
        (999, "GBP", "en-GB", "£9.99"),
        (5, "EUR", "en", "€0.05"),
        (123456789, "EUR", "en", "€1,234,567.89"),
        (123456789, "EUR", "nl-BE", "1.234.567,89 €"),
        (123456, "EUR", "fr", "1\u202f234,56 €"),
        (120050, "CHF", "en", "CHF 1,200.50"),
        (120050, "CHF", "nl", "1.200,50 CHF"),
        (500, "JPY", "en", "JPY 500"),
        (1500000, "KRW", "en", "KRW 1,500,000"),
        (1234, "KWD", "en", "KWD 1.234"),
        (2500, "EUR", "xx", "€25.00"),
        (-2500, "EUR", "en", "-€25.00"),
        (-2500, "EUR", "nl", "-25,00 €"),
    ],
)
def test_format_amount(amount_minor: int, currency: str, language: str, expected: str) -> None:
    assert format_amount(amount_minor, currency, language) == expected


def test_format_amount_defaults_to_english() -> None:
    assert format_amount(2500, "EUR") == "€25.00"


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("25", "EUR", 2500),
        ("25.50", "EUR", 2550),
        ("25,50", "EUR", 2550),
        ("25.5", "EUR", 2550),
        (" 7 ", "EUR", 700),
        ("0.01", "usd", 1),
        ("0", "EUR", 0),
        ("1000", "JPY", 1000),
        ("1.5", "KWD", 1500),
        ("1,234", "KWD", 1234),
    ],
)
def test_parse_amount(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("25.505", "EUR", "'25.505' has 3 decimals; EUR amounts have at most 2 decimals"),
        ("1,000", "EUR", "for thousands, leave out the separator"),
        ("2.5", "JPY", "'2.5' has 1 decimal; JPY amounts have no decimals"),
        ("1.2345", "KWD", "KWD amounts have at most 3 decimals"),
        ("abc", "EUR", "'abc' is not an amount; write it like 25 or 25.50"),
        ("", "EUR", "is not an amount"),
        ("-5", "EUR", "is not an amount"),
        ("25.", "EUR", "is not an amount"),
        ("€25", "EUR", "is not an amount"),
        ("1.000,50", "EUR", "is not an amount"),
        ("٢٥", "EUR", "is not an amount"),
    ],
)
def test_parse_amount_rejects_with_a_clear_message(text: str, currency: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        parse_amount(text, currency)


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "CHF"])
@pytest.mark.parametrize("amount_minor", [0, 1, 99, 100, 2550, 123456])
def test_parse_reads_back_what_english_formatting_writes(amount_minor: int, currency: str) -> None:
    written = format_amount(amount_minor, currency).lstrip("€").removeprefix(f"{currency} ")
    assert parse_amount(written.replace(",", ""), currency) == amount_minor
