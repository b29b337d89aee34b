"""Finance's budget lines, from a CSV file or the rows of the workbook's `Budget` tab; bad rows are warnings."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from syncer.amounts import MAX_AMOUNT, AmountError, parse_amount
from syncer.config import BudgetConfig
from syncer.domain.periods import period_kind
from syncer.errors import ConfigError
from syncer.tables import Cell, Table

COLUMNS = ("Campaign", "Activity", "G/L account", "Period", "Amount")
_KEYS = ("campaign", "activity", "glaccount", "period", "amount")  # the header names, normalised
_REQUIRED = ("campaign", "period", "amount")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-\d{2}$")
SERIAL_EPOCH = date(1899, 12, 30)  # day 0 of a spreadsheet date serial (Google Sheets; Excel from March 1900)
_SERIAL_YEARS = range(1970, 2200)  # a serial outside these is a stray number (e.g. 2026 typed for a year), no date


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget line: an amount for (campaign, activity, G/L account) over a month, quarter or fiscal year.

    `period` is normalised (`2026-05`, `FY2027-Q1`, `FY2027`); `row` is the 1-based row number in the file or tab.
    """

    campaign: str
    activity: str | None
    gl_account: str | None
    period: str
    amount: float
    row: int = 0


def _norm(header: Cell) -> str:
    return re.sub(r"[^a-z0-9]", "", str(header or "").lower())


def _text(cell: Cell) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip()
    return text or None


def _period(cell: Cell) -> str | None:
    """A normalised period label, or None. A date (a sheet may turn `2026-05` into 2026-05-01) means its month, and
    so does a date serial number (days since 1899-12-30), as Google Sheets reads a date cell."""
    if isinstance(cell, int | float) and not isinstance(cell, bool) and math.isfinite(cell):
        try:
            day = SERIAL_EPOCH + timedelta(days=math.floor(cell))
        except OverflowError:
            return None
        return f"{day.year}-{day.month:02d}" if day.year in _SERIAL_YEARS else None
    if isinstance(cell, datetime | date):
        return f"{cell.year}-{cell.month:02d}"
    text = (_text(cell) or "").upper()
    m = _ISO_DATE.match(text)
    if m:
        text = f"{m.group(1)}-{m.group(2)}"
    return text if period_kind(text) else None


def _amount(cell: Cell) -> float:
    """A budget amount; a leading minus is allowed (a budget cut), anything unreadable raises AmountError."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if math.isnan(cell) or math.isinf(cell) or abs(cell) > MAX_AMOUNT:
            raise AmountError(f"{cell!r} is not an amount")
        return float(cell)
    text = (_text(cell) or "")
    negative = text.startswith("-")
    value = parse_amount(text[1:] if negative else text)
    if value is None:
        raise AmountError("the amount is empty")
    return -value if negative else value


def find_header(rows: Table, origin: str) -> tuple[int, str | None]:
    """(index of the header row, None), or (-1, what is wrong) when no row is a header with the needed columns."""
    header_at = next((i for i, r in enumerate(rows) if any(_text(c) for c in r)), None)
    if header_at is None:
        return -1, f"{origin}: no rows, so there is no budget (expected columns {', '.join(COLUMNS)})"
    # Finance may keep a title or notes above the header: the header is the first row naming the needed columns.
    header_at = next((i for i, r in enumerate(rows[:20])
                      if all(k in {_norm(c) for c in r} for k in _REQUIRED)), header_at)
    cols = {_norm(h) for h in rows[header_at]}
    missing = [name for name, key in zip(COLUMNS, _KEYS, strict=True) if key in _REQUIRED and key not in cols]
    if missing:
        return -1, (f"{origin} row {header_at + 1}: the header has no {', '.join(missing)} column "
                    f"(expected {', '.join(COLUMNS)}); budget ignored")
    return header_at, None


def budget_from_rows(rows: Table, origin: str = "Budget tab") -> tuple[list[BudgetLine], list[str]]:
    """Budget lines from rows under a header row (Campaign, Activity, G/L account, Period, Amount; any order, case and
    spacing; rows above it are ignored). A bad row is skipped with a warning naming its row number; never fatal."""
    warnings: list[str] = []
    lines: list[BudgetLine] = []
    header_at, problem = find_header(rows, origin)
    if problem:
        return [], [problem]
    cols = {_norm(h): i for i, h in reversed(list(enumerate(rows[header_at])))}

    def cell(row: list[Cell], key: str) -> Cell:
        i = cols.get(key)
        return row[i] if i is not None and i < len(row) else None

    for i, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(_text(c) for c in row):
            continue
        where = f"{origin} row {i}"
        campaign = _text(cell(row, "campaign"))
        if campaign is None:
            warnings.append(f"{where}: Campaign is empty; row skipped")
            continue
        raw_period = cell(row, "period")
        period = _period(raw_period)
        if period is None:
            warnings.append(f"{where}: Period {_text(raw_period) or '(empty)'!r} is not a month (2026-05), a quarter "
                            "(FY2027-Q1) or a fiscal year (FY2027); row skipped")
            continue
        try:
            amount = _amount(cell(row, "amount"))
        except AmountError as e:
            warnings.append(f"{where}: Amount {_text(cell(row, 'amount')) or '(empty)'!r} is not readable ({e}); "
                            "row skipped")
            continue
        lines.append(BudgetLine(campaign, _text(cell(row, "activity")), _text(cell(row, "glaccount")),
                                period, amount, i))
    return lines, warnings


def _csv_rows(p: Path) -> Table:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"budget.file: cannot read {p} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"budget.file: {p} is not UTF-8 text (save it as CSV UTF-8)") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    try:
        return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as e:
        raise ConfigError(f"budget.file: {p} is not a readable CSV file ({e})") from None


def read_budget_csv(path: str | Path) -> tuple[list[BudgetLine], list[str]]:
    """Read the budget CSV (UTF-8, Excel's BOM accepted, `,` `;` or tab separated). A file that cannot be read is a
    config error; a malformed row is a warning and is skipped."""
    p = Path(path)
    return budget_from_rows(_csv_rows(p), origin=p.name)


def check_budget_file(path: Path) -> list[str]:
    """What `validate` (and `run`, first) reports about `budget.file`: missing, a folder, not UTF-8 CSV, no header."""
    if not path.exists():
        return [f"budget.file: {path} does not exist"]
    if not path.is_file():
        return [f"budget.file: {path} is a folder, not a CSV file"]
    try:
        rows = _csv_rows(path)
    except ConfigError as e:
        return e.problems
    _, problem = find_header(rows, path.name)
    return [f"budget.file: {problem.removesuffix('; budget ignored')}"] if problem else []


def load_budget(
    budget: BudgetConfig | None, read_tab: Callable[[str], Table | None]
) -> tuple[list[BudgetLine], list[str]]:
    """Budget lines from `budget.file` (CSV) or the sink's `budget.tab` via `read_tab` (finance's; never written).

    A missing file or tab is a ConfigError naming the key; a malformed row is a warning, and the row is skipped.
    """
    if budget is None:
        return [], []
    if budget.file is not None:
        if not budget.file.is_file():
            raise ConfigError(f"budget.file: {budget.file} does not exist")
        return read_budget_csv(budget.file)
    rows = read_tab(budget.tab)
    if rows is None:
        raise ConfigError(f"budget.tab: the sink has no tab named {budget.tab!r}")
    return budget_from_rows(rows)
