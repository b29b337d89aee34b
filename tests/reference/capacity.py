"""Capacity (SPEC §7) per ISO week by team (= source) and category; per person only when configured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from syncer.config import CapacityConfig
from syncer.domain.capacity import MS_PER_HOUR, LoggedByWeek, WorklogTotals, capacity_rows
from syncer.domain.flow import category_of
from syncer.domain.periods import HOUR, LocalCalendar, YearMonth
from syncer.model import Task
from syncer.tables import Table


def worklog_totals(
    tasks: Iterable[Task], cal: LocalCalendar, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> WorklogTotals:
    """Roll every worklog up once: its local day is looked up once and feeds both Capacity and Labour."""
    rates = rates or {}
    cache, slow = cal.hour_cache, cal.labels
    logged: LoggedByWeek = {}
    labour: list[dict[YearMonth, list[float]]] = []
    empty: dict[YearMonth, list[float]] = {}
    for t in tasks:
        if not t.worklogs:
            labour.append(empty)
            continue
        team, cat = t.source, category_of(t)
        by_month: dict[YearMonth, list[float]] = {}
        for author, when, hours in t.worklogs:  # Worklog is a named tuple: unpacking is the cheap read
            d = cache.get(when.timestamp() // HOUR) or slow(when)
            key = (d.week, team, cat, author)
            logged[key] = logged.get(key, 0) + round(hours * MS_PER_HOUR)
            ym = d.year_month
            by_month.setdefault(ym, []).append(hours * rates.get(author, default_rate))  # summed by fsum
        labour.append(by_month)
    return WorklogTotals(logged, labour)


def capacity_table(
    tasks: Iterable[Task], cfg: CapacityConfig, cal: LocalCalendar, logged: LoggedByWeek | None = None
) -> Table:
    """The Capacity tab (its cells are formatted by the same `capacity_rows` as the core's)."""
    return capacity_rows(logged if logged is not None else worklog_totals(tasks, cal).logged, cfg)
