"""Written values from polars columns, rounded exactly as `tables.num` / `tables.money` / `tables.to_cents` round.

polars' own `round` scales and rounds in binary, so it differs from Python's correctly rounded `round(x, n)` on
about one value in a hundred near a written half (2.675 -> 2.68 instead of 2.67). Every value here is rounded in
polars first and then, only where the scaled value lies within a millionth of a half (or is too large to judge),
again by the Python helper: the same cells as the row-by-row code, at columnar speed.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from syncer.tables import to_cents

_NEAR_HALF = 1e-6
_TOO_LARGE = 1e9  # beyond this, one binary step of the scaled value exceeds the tolerance: decide in Python


def div(x: pl.Expr, by: float) -> pl.Expr:
    """x / by, correctly rounded as Python divides: polars multiplies a column by the reciprocal of a literal
    divisor (off by one binary step for about a third of the values), but divides column by column exactly."""
    x = x.cast(pl.Float64)
    return x / (pl.lit(by, dtype=pl.Float64) + x * 0.0)


def _div(values: pl.Series, by: float) -> pl.Series:
    return values.to_frame("v").select(div(pl.col("v"), by)).to_series().alias(values.name)


def _fix_near_halves(values: pl.Series, scaled: pl.Series, fast: pl.Series, exact: Callable[[float], float | int]
                     ) -> pl.Series:
    near = ((scaled - scaled.floor() - 0.5).abs() < _NEAR_HALF) | (scaled.abs() > _TOO_LARGE)
    idx = near.fill_null(False).arg_true()
    if idx.len() == 0:
        return fast
    fixed = [None if v is None else exact(v) for v in values.gather(idx).to_list()]
    return fast.scatter(idx, pl.Series(fixed, dtype=fast.dtype))


def rounded(values: pl.Series, places: int = 2) -> pl.Series:
    """`tables.num` of every value (None stays None)."""
    values = values.cast(pl.Float64) + 0.0  # -0.0 -> 0.0, as num() does
    scale = 10.0 ** places
    scaled = values * scale
    fast = _div(scaled.round(0, mode="half_to_even"), scale)
    return _fix_near_halves(values, scaled, fast, lambda v: round(v, places))


def cents(values: pl.Series) -> pl.Series:
    """`tables.to_cents` of every amount, as Int64 (None stays None)."""
    values = values.cast(pl.Float64)
    scaled = values * 100.0
    fast = scaled.round(0, mode="half_to_even").cast(pl.Int64)
    return _fix_near_halves(values, scaled, fast, to_cents)


def money_values(values: pl.Series) -> pl.Series:
    """`tables.money` of every amount: exact cents, as a written number."""
    return _div(cents(values).cast(pl.Float64), 100.0) + 0.0


def iso_local_expr(col: str, tz: str) -> pl.Expr:
    """`tables.iso_local` as an expression: ISO 8601 in the zone, to the second, with the UTC offset."""
    return pl.col(col).dt.convert_time_zone(tz).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")


def local_day_expr(col: str, tz: str) -> pl.Expr:
    """The local calendar date of a UTC time column."""
    return pl.col(col).dt.convert_time_zone(tz).dt.date()


def week_label_expr(day: pl.Expr) -> pl.Expr:
    """ISO week label of a date column (`2026-W07`, ISO year)."""
    return day.dt.strftime("%G-W%V")


def month_label_expr(day: pl.Expr) -> pl.Expr:
    """Month label of a date column (`2026-02`)."""
    return day.dt.strftime("%Y-%m")


_NUMBERED = r"(?s)^(?:(.*)-)?([0-9]+)$"


def natural_sorted(frame: pl.DataFrame, before: list[pl.Expr], after: list[pl.Expr], key: str = "key"
                   ) -> pl.DataFrame:
    """`frame` sorted (stably) by `before`, then `tables.natural_key` of the `key` column (`MKT-9` before `MKT-10`:
    the text before the last `-`, then the number after it compared as a number of any length, its digits without
    leading zeros, shorter first; for a key without such a number, the key itself), then `after`.

    The key is split once, into a column (a sort recomputes an expression shared by its keys for each one: four
    regex passes instead of one)."""
    k, parts = pl.col(key), pl.col("_natural")
    numbered = parts.struct.field("2").is_not_null()
    digits = parts.struct.field("2").str.strip_chars_start("0")
    natural = [pl.when(numbered).then(parts.struct.field("1").fill_null("")).otherwise(k),
               pl.when(numbered).then(digits.str.len_bytes()).otherwise(0),
               pl.when(numbered).then(digits).otherwise(pl.lit("")),
               pl.when(numbered).then(pl.lit("")).otherwise(k)]
    split = frame.with_columns(_natural=k.str.extract_groups(_NUMBERED))
    return split.sort([*before, *natural, *after], maintain_order=True).drop("_natural")
