"""The warehouse's rows, pure: syncer's tabs and the canonical frames as typed, keyed and hashed polars frames, and
the rows to load given what the destination holds.

Every table carries two columns of its own beside the data:
- `_syncer_key`: the row's identity, its tab's key columns (`KEY_COLUMNS`; the whole row where a tab has none)
  joined, plus the row's number among rows of the same key (so a repeated key, e.g. a `Total`, is still one row);
  for the canonical frames, (source, key) and the row's number within its task. Merges match rows on it.
- `_syncer_hash`: a hash of the row's values. A row whose key and hash the destination already holds is not
  loaded again, so an unchanged run loads nothing. The hash is polars' row hash with fixed seeds: stable from run
  to run, though a polars upgrade may change it (the next run then reloads each table once: same rows, new hashes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

import polars as pl

from syncer.domain.frames import Frames
from syncer.sinks import TabChange
from syncer.tables import (
    CLOSED_PERIODS,
    DASHBOARD,
    KEY_COLUMNS,
    MONEY_COLUMNS,
    RATIO_COLUMNS,
    SYNC_LOG,
    Cell,
    Table,
)

KEY, HASH, DELETED = "_syncer_key", "_syncer_hash", "_syncer_deleted"
ROW = "_syncer_row"  # an appended row's place: the order rows were appended in
SEP = "\x1f"  # joins key parts; never part of a source name, task key, campaign or period
SEED = 15  # polars hashes rows with fixed keys from a seed
# Appended, never rewritten (SPEC §6): rows are added, never changed or removed.
APPENDED = frozenset({SYNC_LOG, CLOSED_PERIODS})
# Not loaded: the Dashboard is a page layout (headline pairs, small chart tables) for people, not a table; every
# figure on it is a query over the tables that are loaded.
SKIPPED = frozenset({DASHBOARD})
# The canonical frames, by warehouse table; each keyed by (source, key) and the row's number within its task.
RAW_TABLES = {"raw_tasks": "tasks", "raw_stage_changes": "changes", "raw_worklogs": "worklogs", "raw_flags": "flags"}
MONEY = pl.Decimal(18, 2)  # amounts are written rounded to cents (SPEC §8)
UTC_TIME = pl.Datetime("us", "UTC")


class Kind(StrEnum):
    TEXT = "text"
    BOOL = "bool"
    BIGINT = "bigint"
    DOUBLE = "double"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"


DTYPES: dict[Kind, pl.DataType] = {
    Kind.TEXT: pl.String, Kind.BOOL: pl.Boolean, Kind.BIGINT: pl.Int64, Kind.DOUBLE: pl.Float64,
    Kind.DECIMAL: MONEY, Kind.DATE: pl.Date, Kind.TIMESTAMP: UTC_TIME,
}
# Hours, days and ratios are doubles even when a run's values happen to be whole (a tab writes 16.0 as 16).
DOUBLE_COLUMNS = frozenset({
    "Estimate h", "Logged h", "Capacity h", "Cycle days", "Review days", "Blocked days", "Cycle p50", "Cycle p85",
    "Review p50", "Estimate ratio", "Duration s", "Days", "Review rounds", *RATIO_COLUMNS,
})
# Any other column's type is read off its values (ISO dates, ISO timestamps, booleans, integers, text); these
# are the types of columns that may be empty in a run, so a new table gets the right type from the start.
EMPTY_KINDS = {
    "Due": Kind.DATE, "Due next": Kind.DATE, "Last due": Kind.DATE, "Forecast p50": Kind.DATE,
    "Forecast p85": Kind.DATE, "Created": Kind.TIMESTAMP, "Started": Kind.TIMESTAMP, "Completed": Kind.TIMESTAMP,
    "Since": Kind.TIMESTAMP, "Run at": Kind.TIMESTAMP, "At": Kind.TIMESTAMP, "Reworked": Kind.BOOL,
    "Late": Kind.BOOL, "Intake OK": Kind.BOOL, "Overloaded": Kind.BOOL,
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


def column_name(header: str) -> str:
    """A header as a snake_case column name: `G/L account` -> `gl_account`, `Used %` -> `used_pct`."""
    text = header.replace("%", " pct").replace("/", "").lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def table_name(title: str) -> str:
    """A tab's title as a table name: `Budget rollup` -> `budget_rollup`."""
    return column_name(title)


def column_kind(header: str, values: Sequence[Cell]) -> Kind:
    """The warehouse type of a tab's column, from its header where that decides it, else from its values."""
    if header in MONEY_COLUMNS:
        return Kind.DECIMAL
    if header in DOUBLE_COLUMNS:
        return Kind.DOUBLE
    seen = {type(v) for v in values if v is not None}
    if not seen:
        return EMPTY_KINDS.get(header, Kind.TEXT)
    if seen == {bool}:
        return Kind.BOOL
    if seen == {int}:
        return Kind.BIGINT
    if seen <= {int, float}:
        return Kind.DOUBLE
    if seen == {str}:
        texts = [v for v in values if v is not None]
        for kind, pattern in ((Kind.DATE, _DATE), (Kind.TIMESTAMP, _TIMESTAMP)):
            if pattern.match(texts[0]) and all(pattern.match(t) for t in texts):
                return kind
    return Kind.TEXT


def _series(name: str, kind: Kind, values: list[Cell]) -> pl.Series:
    if kind is Kind.TEXT:
        return pl.Series(name, [v if v is None or isinstance(v, str) else str(v) for v in values], pl.String)
    if kind is Kind.DATE:
        return pl.Series(name, values, pl.String).str.to_date("%Y-%m-%d")
    if kind is Kind.TIMESTAMP:
        return pl.Series(name, values, pl.String).str.to_datetime(TIMESTAMP_FORMAT, time_zone="UTC")
    if kind is Kind.DECIMAL:
        return pl.Series(name, values, pl.Float64, strict=False).cast(MONEY)
    return pl.Series(name, values, DTYPES[kind], strict=False)


@dataclass(frozen=True, slots=True)
class Shape:
    """One warehouse table: its name, its tab's title (or frame), and whether rows are merged or appended."""

    name: str
    title: str
    appended: bool = False


def tab_frame(title: str, table: Table) -> pl.DataFrame:
    """A tab's rows as a typed frame with `_syncer_key` and `_syncer_hash` (row 0 of `table` is the header)."""
    header, rows = [str(h) for h in table[0]], table[1:]
    names = [column_name(h) for h in header]
    if len(set(names)) != len(names):
        raise ValueError(f"tab {title!r}: two headers give the same column name ({names})")
    width = len(header)
    columns = [[row[i] if i < len(row) else None for row in rows] for i in range(width)]
    frame = pl.DataFrame([
        _series(name, column_kind(h, values), values) for name, h, values in zip(names, header, columns,
                                                                                        strict=True)
    ])
    if title in APPENDED:
        keys: list[str] = []  # identity is the content: the same row twice is two rows
    else:
        keys = [names[i] for i in KEY_COLUMNS.get(title, range(width))]
    return keyed(frame, keys)


def keyed(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The frame with `_syncer_hash` (its values) and `_syncer_key` (`keys`, else the hash, and the row's number
    among rows of the same key) in front."""
    hashes = frame.hash_rows(seed=SEED).reinterpret(signed=True).alias(HASH)
    frame = frame.with_columns(hashes)
    parts = [pl.col(k).cast(pl.String).fill_null("") for k in keys] or [pl.col(HASH).cast(pl.String)]
    base = pl.concat_str(parts, separator=SEP)
    number = pl.int_range(pl.len()).over(base).cast(pl.String)
    key = pl.concat_str([base, number], separator=SEP).alias(KEY)
    return frame.select(key, pl.col(HASH), pl.exclude(KEY, HASH))


def raw_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A canonical frame ready to load: list columns (labels, depends_on) as JSON text, keyed by task and row."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if lists:
        frame = frame.with_columns(
            pl.Series(name, [None if v is None else json.dumps(v, ensure_ascii=False) for v in frame[name].to_list()],
                      pl.String)
            for name in lists
        )
    return keyed(frame, ["source", "key"])


def warehouse_frames(tables: Mapping[str, Table], frames: Frames | None) -> dict[Shape, pl.DataFrame]:
    """Every table to load: the tabs given (less those SKIPPED), then the canonical frames when given."""
    out = {
        Shape(table_name(title), title, title in APPENDED): tab_frame(title, rows)
        for title, rows in tables.items() if title not in SKIPPED
    }
    if frames is not None:
        for name, field_name in RAW_TABLES.items():
            out[Shape(name, name)] = raw_frame(getattr(frames, field_name))
    return out


def rows_to_load(new: pl.DataFrame, old: pl.DataFrame | None, appended: bool,
                 start: int | None = None) -> tuple[TabChange, pl.DataFrame]:
    """What changes and the rows that make it: new and changed rows, then one `_syncer_deleted` marker per row
    that is gone. `old` holds the destination's `_syncer_key` and `_syncer_hash` (None: no table yet).

    An appended table only ever gains rows, numbered in `_syncer_row` after the `start` (default: len(old)) there.
    """
    old = pl.DataFrame(schema={KEY: pl.String, HASH: pl.Int64}) if old is None else old
    both = new.select(KEY, HASH).join(old.select(KEY, pl.col(HASH).alias("_old")), on=KEY, how="full",
                                      coalesce=True)
    is_new, is_gone = pl.col("_old").is_null(), pl.col(HASH).is_null()
    changed = both.filter(~is_new & ~is_gone & (pl.col(HASH) != pl.col("_old")))[KEY]
    added = both.filter(is_new)[KEY]
    gone = pl.Series(KEY, [], pl.String) if appended else both.filter(is_gone)[KEY]
    load = new.filter(pl.col(KEY).is_in(pl.concat([added, changed]).implode()))
    if appended:
        first = old.height if start is None else start
        load = load.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + first).alias(ROW))
    if gone.len():
        markers = pl.DataFrame({KEY: gone, DELETED: pl.Series([True] * gone.len(), dtype=pl.Boolean)})
        load = pl.concat([load, markers], how="diagonal")
    return TabChange(added=added.len(), changed=changed.len(), removed=gone.len()), load


def to_cell(value: object, tz: tzinfo) -> Cell:
    """A value read from the warehouse as the tab shows it: dates ISO, times ISO in `tz`, decimals as numbers."""
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value  # type: ignore[return-value]
