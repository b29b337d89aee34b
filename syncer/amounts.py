"""Strict parsing of money amounts: a number, or a clear refusal (never a silent zero)."""

from __future__ import annotations

import math
import re

# Accepts 1200, 1200.50, 1,200.50, €1,200, 1 200 (no), -5 (no): thousands commas must be well placed,
# an optional currency symbol or ISO code may lead or trail.
_AMOUNT = re.compile(
    r"^\s*(?:[€$£]|[A-Z]{3}\s?)?\s*(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?:[€$£]|\s?[A-Z]{3})?\s*$"
)


class AmountError(ValueError):
    """The text is not an amount we can read without guessing."""


def parse_amount(value: object) -> float | None:
    """Parse a field value into an amount. None/empty -> None; unreadable -> AmountError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise AmountError(f"{value!r} is not an amount")
    if isinstance(value, int | float):
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise AmountError(f"{value!r} is not an amount")
        return float(value)
    if isinstance(value, str):
        if not value.strip():
            return None
        m = _AMOUNT.match(value)
        if not m:
            raise AmountError(f"{value!r} is not an amount (expected e.g. 1200, 1,200.50 or €1,200)")
        return float(m.group("num").replace(",", ""))
    raise AmountError(f"{value!r} is not an amount")
