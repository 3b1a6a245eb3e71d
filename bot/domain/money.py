"""Money as integer minor units plus a currency code: decimals, formatting and parsing."""

from __future__ import annotations

import re
from functools import cache

import pycountry

from bot.domain.i18n import primary_language

# The largest single gift accepted wherever a gift enters (the webhooks, Stripe, CSV import,
# staff /donation, Telegram payments), in minor units of its currency: 10,000,000,000.00 in a
# two-decimal currency, above any real gift and any amount Stripe takes (at most 12 digits).
# It also keeps sums safe: a supporter's running total in a 64-bit integer needs over 9
# million gifts of this size to overflow.
MAX_GIFT_MINOR = 10**12
# ISO 4217 codes that are units rather than money anyone gives: precious metals, bond-market
# units, special drawing rights, the testing code and "no currency" (no minor unit in ISO).
_NOT_MONEY = frozenset(
    {
        "XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA",
        "XXX",
    }
)  # fmt: skip

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


@cache
def _currencies() -> frozenset[str]:
    # pycountry's copy of the ISO 4217 list (pinned in pyproject), read on first use.
    return frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY


def is_currency(code: str) -> bool:
    """Tell whether a code (any case) is an ISO 4217 currency a gift can be given in."""
    return len(code) == 3 and code.isascii() and code.upper() in _currencies()


def currency_problem(code: str) -> str | None:
    """Say why a code cannot be a gift's currency, or None if it is an ISO 4217 currency."""
    if is_currency(code):
        return None
    return f"must be an ISO 4217 currency code like EUR (got {code[:16]!r})"


def gift_amount_problem(amount_minor: int, currency: str) -> str | None:
    """Say why an amount in minor units cannot be a gift (zero or less, too large), or None."""
    if amount_minor <= 0:
        return f"must be more than zero (got {str(amount_minor)[:24]})"
    if amount_minor > MAX_GIFT_MINOR:
        most = format_amount(MAX_GIFT_MINOR, currency)
        return f"must be at most {most} ({MAX_GIFT_MINOR} minor units) for one gift"
    return None


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
