"""Capacity (SPEC §7) per ISO week by team (= source) and category; per person only when configured."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from syncer.adapters import Row, Table
from syncer.config import CapacityConfig
from syncer.flow import ALL, category_of
from syncer.model import Task
from syncer.periods import LocalCalendar
from syncer.tables import CAPACITY, HEADERS, num

MS_PER_HOUR = 3_600_000


@dataclass(slots=True)
class _Cell:
    logged_ms: int = 0  # integer milliseconds: sums are exact and do not depend on the order of worklogs
    people: set[str] = field(default_factory=set)


def logged_by_week(tasks: Iterable[Task], cal: LocalCalendar) -> dict[tuple[str, str, str, str], int]:
    """Σ worklog time in ms per (ISO week of the worklog's local start, team = source, category, person)."""
    out: dict[tuple[str, str, str, str], int] = {}
    for t in tasks:
        if not t.worklogs:
            continue
        team, cat = t.source, category_of(t)
        for w in t.worklogs:
            key = (cal.labels(w.started_at).week, team, cat, w.author)
            out[key] = out.get(key, 0) + round(w.hours * MS_PER_HOUR)
    return out


def capacity_row(week: str, team: str, person: str, cat: str, cell: _Cell, cfg: CapacityConfig) -> Row:
    """One Capacity row: Capacity h = Σ over the people who logged of their weekly hours (else the default)."""
    logged = cell.logged_ms / MS_PER_HOUR
    capacity = sum(cfg.people.get(p, cfg.hours_per_week) for p in sorted(cell.people))
    utilization = logged / capacity if capacity else None
    overloaded = None if utilization is None else utilization > 1
    return [week, team, person, cat, num(logged), num(capacity), num(utilization, 4), overloaded]


def _sort_key(row: Row) -> tuple:
    return tuple((0, "") if v == ALL else (1, str(v)) for v in row[:4])


def capacity_table(tasks: Iterable[Task], cfg: CapacityConfig, cal: LocalCalendar) -> Table:
    """The Capacity tab. Per (week, team, category) a row with Person `All`, plus a (week, team, All, All) row that
    counts each person once (the figure to read for team utilization). With `per_person: true`, also one row per
    (week, team, person, category) and per (week, team, person, All)."""
    cells: dict[tuple[str, str, str, str], _Cell] = {}

    def add(key: tuple[str, str, str, str], person: str, ms: int) -> None:
        c = cells.get(key)
        if c is None:
            c = cells[key] = _Cell()
        c.logged_ms += ms
        c.people.add(person)

    for (week, team, cat, person), ms in logged_by_week(tasks, cal).items():
        add((week, team, ALL, cat), person, ms)
        add((week, team, ALL, ALL), person, ms)
        if cfg.per_person:
            add((week, team, person, cat), person, ms)
            add((week, team, person, ALL), person, ms)
    rows = [capacity_row(*key, cell, cfg) for key, cell in cells.items()]
    rows.sort(key=_sort_key)
    return [list(HEADERS[CAPACITY]), *rows]
