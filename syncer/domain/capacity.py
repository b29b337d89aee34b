"""Capacity (SPEC §7) per ISO week by team (= source) and category; per person only when configured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from syncer.config import CapacityConfig
from syncer.domain.flow import ALL, category_of
from syncer.domain.periods import HOUR, LocalCalendar, YearMonth
from syncer.model import Task
from syncer.tables import CAPACITY, HEADERS, Row, Table, num

MS_PER_HOUR = 3_600_000
LoggedByWeek = dict[tuple[str, str, str, str], int]


@dataclass(slots=True)
class WorklogTotals:
    """One pass over every worklog: time per week for Capacity, labour cost per month for the ledger."""

    # Σ worklog time in integer ms (exact, so sums do not depend on the order of worklogs)
    # per (ISO week of the worklog's local start, team = source, category, person).
    logged: LoggedByWeek
    # Per task, in the order given: Σ hours × rate per calendar month of the worklog's local start.
    labour: list[dict[YearMonth, float]]


def worklog_totals(
    tasks: Iterable[Task], cal: LocalCalendar, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> WorklogTotals:
    """Roll every worklog up once: its local day is looked up once and feeds both Capacity and Labour."""
    rates = rates or {}
    cache, slow = cal.hour_cache, cal.labels
    logged: LoggedByWeek = {}
    labour: list[dict[YearMonth, float]] = []
    empty: dict[YearMonth, float] = {}
    for t in tasks:
        if not t.worklogs:
            labour.append(empty)
            continue
        team, cat = t.source, category_of(t)
        by_month: dict[YearMonth, float] = {}
        for author, when, hours in t.worklogs:  # Worklog is a named tuple: unpacking is the cheap read
            d = cache.get(when.timestamp() // HOUR) or slow(when)
            key = (d.week, team, cat, author)
            logged[key] = logged.get(key, 0) + round(hours * MS_PER_HOUR)
            ym = d.year_month
            by_month[ym] = by_month.get(ym, 0.0) + hours * rates.get(author, default_rate)
        labour.append(by_month)
    return WorklogTotals(logged, labour)


@dataclass(slots=True)
class _Cell:
    logged: int = 0  # in milliseconds: exact, rounded only when written
    people: set[str] = field(default_factory=set)


def capacity_row(week: str, team: str, person: str, cat: str, cell: _Cell, cfg: CapacityConfig) -> Row:
    """One Capacity row: Capacity h = Σ over the people who logged of their weekly hours (else the default)."""
    logged = cell.logged / MS_PER_HOUR
    capacity = sum(cfg.people.get(p, cfg.hours_per_week) for p in sorted(cell.people))
    utilization = logged / capacity if capacity else None
    overloaded = None if utilization is None else utilization > 1
    return [week, team, person, cat, num(logged), num(capacity), num(utilization, 4), overloaded]


def _sort_key(row: Row) -> tuple:
    return tuple((0, "") if v == ALL else (1, str(v)) for v in row[:4])


def capacity_table(
    tasks: Iterable[Task], cfg: CapacityConfig, cal: LocalCalendar, logged: LoggedByWeek | None = None
) -> Table:
    """The Capacity tab. Per (week, team, category) a row with Person `All`, plus a (week, team, All, All) row that
    counts each person once (the figure to read for team utilization). With `per_person: true`, also one row per
    (week, team, person, category) and per (week, team, person, All). `logged`: from `worklog_totals`, if at hand."""
    if logged is None:
        logged = worklog_totals(tasks, cal).logged
    cells: dict[tuple[str, str, str, str], _Cell] = {}

    def add(key: tuple[str, str, str, str], person: str, ms: int) -> None:
        c = cells.get(key)
        if c is None:
            c = cells[key] = _Cell()
        c.logged += ms
        c.people.add(person)

    for (week, team, cat, person), ms in logged.items():
        # Exact milliseconds throughout: Utilization and Overloaded (SPEC §7) come from unrounded hours.
        add((week, team, ALL, cat), person, ms)
        add((week, team, ALL, ALL), person, ms)
        if cfg.per_person:
            add((week, team, person, cat), person, ms)
            add((week, team, person, ALL), person, ms)
    rows = [capacity_row(*key, cell, cfg) for key, cell in cells.items()]
    rows.sort(key=_sort_key)
    return [list(HEADERS[CAPACITY]), *rows]


def teams_as_one(logged: LoggedByWeek) -> LoggedByWeek:
    """The same worklog time with every team as one, team `All` (the Weekly review's `All` row): fed to
    `capacity_table`, it gives that row's Logged h and Utilization, each person counted once."""
    out: LoggedByWeek = {}
    for (week, _, cat, person), ms in logged.items():
        key = (week, ALL, cat, person)
        out[key] = out.get(key, 0) + ms
    return out
