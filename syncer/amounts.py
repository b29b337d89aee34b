"""Strict parsing of money amounts: a number, or a clear refusal (never a silent zero)."""

from __future__ import annotations

import math
import re
from functools import cache

# Symbols of the common currencies; any other currency is written by its ISO code (e.g. `SEK 1,200`).
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "Fr.", "PLN": "zł"}
_NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"


# More than a trillion in any currency is a typo or a hostile value, never a budget line: it is refused (and it would
# overflow the exact cent arithmetic of the ledger, or lose its cents in a float).
MAX_AMOUNT = 1e12


class AmountError(ValueError):
    """The text is not an amount we can read without guessing."""


@cache
def _pattern(currency: str | None) -> re.Pattern[str]:
    """1200, 1200.50, 1,200.50, €1,200, 1,200 EUR: thousands commas well placed, ASCII digits only, and only the
    configured currency's symbol or code (None: any symbol or code)."""
    if currency is None:
        marks = r"[€$£¥₹]|[A-Z]{3}"
    else:
        marks = "|".join(re.escape(m) for m in (SYMBOLS.get(currency.upper()), currency.upper()) if m)
    return re.compile(rf"^\s*(?:(?:{marks})\s?)?{_NUMBER}\s*(?:{marks})?\s*$", re.ASCII)


def parse_amount(value: object, currency: str | None = None) -> float | None:
    """Parse a field value into an amount. None/empty -> None; unreadable or another currency -> AmountError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise AmountError(f"{value!r} is not an amount")
    if isinstance(value, (int, float)):
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise AmountError(f"{value!r} is not an amount")
        return _plausible(float(value))
    if isinstance(value, str):
        if not value.strip():
            return None
        m = _pattern(currency).match(value)
        if not m:
            hint = f"{SYMBOLS.get(currency.upper(), currency.upper())}1,200" if currency else "€1,200"
            raise AmountError(f"{value!r} is not an amount (expected e.g. 1200, 1,200.50 or {hint})")
        return _plausible(float(m.group("num").replace(",", "")))
    raise AmountError(f"{value!r} is not an amount")


def _plausible(amount: float) -> float:
    if not amount <= MAX_AMOUNT:  # also catches a text of 400 digits, which reads as infinity
        raise AmountError(f"{amount:g} is beyond any plausible amount (more than {MAX_AMOUNT:,.0f})")
    return amount
