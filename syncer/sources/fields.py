"""Helpers shared by the source mappings: timestamps, dates, amounts and building histories."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from syncer.amounts import AmountError, parse_amount
from syncer.config import AMOUNT_FIELDS
from syncer.model import Problem, Worklog

DATE_FIELDS = ("po_date", "invoice_date", "due_date")
_READ = frozenset({Worklog, Problem})  # the types of a worklog read already (mapped, or the problem that skips it)
TEXT_FIELDS = ("campaign", "activity", "gl_account", "category", "brief", "owner", "requester")


class MappingError(ValueError):
    """A raw record lacks something every record must have (its last good version stays, and it is reported);
    `field` names the canonical field at fault, when one is."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def worklogs_read(raw: Iterable[Any], read: Callable[[Any], Worklog | Problem], problems: list[Problem]
                  ) -> list[Worklog]:
    """A task's worklogs, each read by `read` now or read already as its page was gathered (a Worklog, or the
    Problem that skips it: that goes to `problems`, and the task stays)."""
    worklogs = []
    for item in raw:
        done = item if type(item) in _READ else read(item)
        if type(done) is Problem:
            problems.append(done)
        else:
            worklogs.append(done)
    return worklogs


def parse_ts(value: Any) -> datetime:
    """An API timestamp (ISO string with offset or `Z`, or epoch milliseconds) -> aware datetime."""
    if isinstance(value, str) and value:  # the common case first: this runs once per worklog
        dt = datetime.fromisoformat(value)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):  # beyond the years a datetime holds (OSError: the C library's)
            raise MappingError(f"{value!r} is not a timestamp (out of range)") from None
    raise MappingError(f"{value!r} is not a timestamp")


def parse_day(value: Any, tz: tzinfo | None = None) -> date | None:
    """`YYYY-MM-DD` -> date; a timestamp -> its local date in `tz`; empty -> None; else ValueError."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        if len(value) > 10 and tz is not None:
            return parse_ts(value).astimezone(tz).date()
        return date.fromisoformat(value[:10])
    raise ValueError(f"{value!r} is not a date")


def apply_fields(
    values: dict[str, Any], problems: list[Problem], tz: tzinfo | None = None, currency: str | None = None
) -> dict[str, Any]:
    """Turn raw canonical values into typed ones; bad amounts and dates become problems, never zeros."""
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if name in AMOUNT_FIELDS or name == "estimate_hours":
            try:
                out[name] = parse_amount(raw, currency if name in AMOUNT_FIELDS else None)
            except AmountError as e:
                rule = "amount_unparseable" if name in AMOUNT_FIELDS else "estimate_unparseable"
                problems.append(Problem(rule, name, f"cannot read {name.replace('_', ' ')}: {e}"))
                out[name] = None
        elif name in DATE_FIELDS:
            try:
                out[name] = parse_day(raw, tz)
            except ValueError:
                problems.append(Problem("date_unparseable", name, f"cannot read {name.replace('_', ' ')}: {raw!r}"))
                out[name] = None
        else:
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)  # a number field used as a code (G/L account 6100), not "6100.0"
            text = None if raw is None else str(raw).strip()
            out[name] = text or None
    return out


MAX_HOURS = 100_000.0  # one worklog of more than ~11 years is a corrupt value, and would overflow the labour cost


def hours(seconds: Any) -> float:
    """Seconds -> hours; anything that is not a plausible non-negative number is a MappingError."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_HOURS * 3600:
        raise MappingError(f"{seconds!r} is not a duration in seconds")
    return seconds / 3600.0


@lru_cache(maxsize=4096)
def local_midnight(day: date, tz: Any) -> datetime:
    """The start of a calendar day in `tz` (for sources that log time by date only).

    Returned with that moment's fixed UTC offset: the same instant, but a million of them convert to timestamps
    several times faster than zone-aware ones, and entries share days, so each day is computed once."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start.astimezone(timezone(start.utcoffset() or timedelta(0)))
