"""Money as integer minor units plus a currency code: decimals, formatting and parsing."""

from __future__ import annotations

import re

from bot.domain.i18n import primary_language

# ISO 4217 currencies whose minor unit is not a hundredth; every other code is taken to have two
# decimals, which holds for the currencies donation providers accept.
_ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "UYI",
        "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
# (thousands separator, decimal mark) of languages that write "1.234,50 €"; every other
# language gets the English "€1,234.50".
_AMOUNT_AFTER = {
    "de": (".", ","),
    "es": (".", ","),
    "fr": ("\u202f", ","),
    "it": (".", ","),
    "nl": (".", ","),
    "pt": (".", ","),
}
_AMOUNT = re.compile(r"([0-9]+)(?:[.,]([0-9]+))?")


def minor_unit_exponent(currency: str) -> int:
    """Return how many decimals the currency's minor unit has (2 for unlisted codes)."""
    code = currency.strip().upper()
    if code in _ZERO_DECIMAL:
        return 0
    return 3 if code in _THREE_DECIMAL else 2


def format_amount(amount_minor: int, currency: str, language: str = "en") -> str:
    """Write minor units as a reader of the language expects: "€25.00" or "25,00 €"."""
    code = currency.strip().upper()
    exponent = minor_unit_exponent(code)
    major, minor = divmod(abs(amount_minor), 10**exponent)
    primary = primary_language(language)
    group, mark = _AMOUNT_AFTER.get(primary, (",", "."))
    number = f"{major:,}".replace(",", group) + (f"{mark}{minor:0{exponent}d}" if exponent else "")
    sign = "-" if amount_minor < 0 else ""
    symbol = _SYMBOLS.get(code)
    if primary in _AMOUNT_AFTER:
        return f"{sign}{number} {symbol or code}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


def parse_amount(text: str, currency: str) -> int:
    """Read an amount as people type it ("25", "25.50", "25,50") as minor units of currency."""
    code = currency.strip().upper()
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an amount; write it like 25 or 25.50")
    whole, fraction = match.group(1), match.group(2) or ""
    exponent = minor_unit_exponent(code)
    if len(fraction) > exponent:
        allowed = f"at most {exponent} decimals" if exponent else "no decimals"
        # "1,000" or "1.000" is most likely a thousand written with a separator.
        hint = "; for thousands, leave out the separator" if len(fraction) == 3 else ""
        decimals = "1 decimal" if len(fraction) == 1 else f"{len(fraction)} decimals"
        raise ValueError(f"{text!r} has {decimals}; {code} amounts have {allowed}{hint}")
    scale: int = 10**exponent
    return int(whole) * scale + int(fraction.ljust(exponent, "0") or "0")
