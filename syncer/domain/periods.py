"""Calendar and fiscal periods in the configured timezone: ISO weeks, months, fiscal quarters and years."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

Granularity = Literal["month", "quarter", "fiscal_year"]
YearMonth = tuple[int, int]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^FY(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^FY(\d{4})$")
_UNKNOWN = object()
HOUR = 3600  # seconds: local days are cached per UTC hour


def iso_week(d: date) -> str:
    """ISO week label, e.g. `2026-W07` (the ISO year, which differs from the calendar year around New Year)."""
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def month(d: date) -> str:
    """Month label, e.g. `2026-02`."""
    return f"{d.year}-{d.month:02d}"


def fiscal_year(year: int, mon: int, start_month: int) -> int:
    """The fiscal year a calendar month belongs to, named by the calendar year it ends in."""
    return year + 1 if start_month != 1 and mon >= start_month else year


def fiscal_quarter(year: int, mon: int, start_month: int) -> tuple[int, int]:
    """(fiscal year, quarter 1-4) of a calendar month."""
    return fiscal_year(year, mon, start_month), (mon - start_month) % 12 // 3 + 1


def period_label(year: int, mon: int, granularity: Granularity, start_month: int) -> str:
    """The label of the budget period holding a month: `2026-05`, `FY2027-Q1` or `FY2027`."""
    if granularity == "month":
        return f"{year}-{mon:02d}"
    if granularity == "quarter":
        fy, q = fiscal_quarter(year, mon, start_month)
        return f"FY{fy}-Q{q}"
    return f"FY{fiscal_year(year, mon, start_month)}"


def fiscal_year_months(fy: int, start_month: int) -> list[YearMonth]:
    """The twelve calendar months of fiscal year `fy`, in order."""
    first_year = fy if start_month == 1 else fy - 1
    return [(first_year + (start_month - 1 + i) // 12, (start_month - 1 + i) % 12 + 1) for i in range(12)]


def period_kind(text: str) -> Granularity | None:
    """Which kind of period a budget `Period` cell names (None when it is not one we read)."""
    m = _MONTH.match(text)
    if m:
        return "month" if 1 <= int(m.group(2)) <= 12 else None
    if _QUARTER.match(text):
        return "quarter"
    return "fiscal_year" if _YEAR.match(text) else None


def period_months(text: str, start_month: int) -> list[YearMonth]:
    """The calendar months a budget period covers: one for `2026-05`, three for `FY2027-Q1`, twelve for `FY2027`."""
    kind = period_kind(text)
    if kind == "month":
        y, mo = text.split("-")
        return [(int(y), int(mo))]
    if kind == "quarter":
        m = _QUARTER.match(text)
        assert m
        q = int(m.group(2))
        return fiscal_year_months(int(m.group(1)), start_month)[3 * (q - 1): 3 * q]
    if kind == "fiscal_year":
        return fiscal_year_months(int(text[2:]), start_month)
    raise ValueError(f"{text!r} is not a month (2026-05), a quarter (FY2027-Q1) or a fiscal year (FY2027)")


def spread_evenly(cents: int, n: int) -> list[int]:
    """Split an amount in cents over `n` months: cumulative rounding, so the parts add up exactly and every
    aligned stretch of months (a quarter of a year line) is within a cent of its proportional share."""
    cum = [(2 * cents * i + n) // (2 * n) for i in range(n + 1)]
    return [cum[i + 1] - cum[i] for i in range(n)]


@dataclass(frozen=True, slots=True)
class DayLabels:
    """The labels of one local calendar day."""

    day: date
    week: str
    month: str
    year_month: YearMonth


class LocalCalendar:
    """Fast conversion of aware datetimes to local dates and period labels, with caches (pure: no I/O).

    `labels()` costs one `timestamp()` and one dict look-up: the local day is cached per UTC hour, and an hour in
    which the local date changes part-way (zones with half-hour offsets, DST edge cases) is converted exactly.
    Hot loops may read the cache inline: `cal.hour_cache.get(dt.timestamp() // HOUR) or cal.labels(dt)`.
    """

    def __init__(self, tz: tzinfo, fiscal_year_start_month: int = 1):
        self.tz = tz
        self.fy_start = fiscal_year_start_month
        self.hour_cache: dict[float, DayLabels | None] = {}
        self._by_date: dict[date, DayLabels] = {}

    def _hour(self, bucket: float) -> DayLabels | None:
        start = datetime.fromtimestamp(bucket * HOUR, self.tz).date()
        end = datetime.fromtimestamp(bucket * HOUR + HOUR - 1e-3, self.tz).date()
        got = self.hour_cache[bucket] = self.date_labels(start) if start == end else None
        return got

    def labels(self, when: datetime) -> DayLabels:
        """The local day (and its week and month labels) of an aware datetime."""
        bucket = when.timestamp() // HOUR
        got = self.hour_cache.get(bucket, _UNKNOWN)
        if got is _UNKNOWN:
            got = self._hour(bucket)
        if got is None:  # the local date changes inside this hour: convert exactly
            return self.date_labels(when.astimezone(self.tz).date())
        return got  # type: ignore[return-value]

    def labels_of(self, whens: Iterable[datetime]) -> list[DayLabels]:
        """`labels()` of many datetimes (the hot path for worklogs: the cache is read inline)."""
        cache, slow = self.hour_cache, self.labels
        return [cache.get(w.timestamp() // HOUR) or slow(w) for w in whens]

    def day(self, when: datetime) -> date:
        """The local calendar date of an aware datetime."""
        return self.labels(when).day

    def date_labels(self, d: date) -> DayLabels:
        """Week and month labels of a calendar date (cached)."""
        got = self._by_date.get(d)
        if got is None:
            got = self._by_date[d] = DayLabels(d, iso_week(d), month(d), (d.year, d.month))
        return got

    def midnight(self, d: date) -> float:
        """The POSIX time of local midnight starting day `d`."""
        return datetime(d.year, d.month, d.day, tzinfo=self.tz).timestamp()

    def budget_period(self, ym: YearMonth, granularity: Granularity) -> str:
        """The budget period label holding calendar month `ym`."""
        return period_label(ym[0], ym[1], granularity, self.fy_start)


def week_starts(first: date, last: date) -> list[date]:
    """Mondays of every ISO week from the one holding `first` to the one holding `last`."""
    monday = first - timedelta(days=first.weekday())
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def month_starts(first: date, last: date) -> list[date]:
    """First days of every month from the one holding `first` to the one holding `last`."""
    y, m = first.year, first.month
    out = []
    while (y, m) <= (last.year, last.month):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def next_month(d: date) -> date:
    """The first day of the month after the one holding `d`."""
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)



def next_period(label: str, granularity: Granularity, start_month: int) -> str:
    """The budget period right after `label`: `2026-12` -> `2027-01`, `FY2027-Q4` -> `FY2028-Q1`, `FY2027` ->
    `FY2028`."""
    y, m = period_months(label, start_month)[-1]
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return period_label(y, m, granularity, start_month)


def period_end(label: str, start_month: int) -> date:
    """The first day after budget period `label` (a period has ended once that local day has begun)."""
    y, m = period_months(label, start_month)[-1]
    return next_month(date(y, m, 1))
