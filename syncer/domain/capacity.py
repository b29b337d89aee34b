"""Capacity (SPEC §7) per ISO week by team (= source) and category; per person only when configured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from syncer.config import CapacityConfig
from syncer.domain.cells import local_day_expr, week_label_expr
from syncer.domain.figures import tz_name
from syncer.domain.flow import ALL, UNCATEGORISED
from syncer.domain.frames import model_frames
from syncer.domain.periods import LocalCalendar, YearMonth
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


def worklog_days(tasks: pl.DataFrame, worklogs: pl.DataFrame, tz: str, people: Mapping[str, float],
                 default_rate: float) -> pl.DataFrame:
    """Per (task, local day of the worklog's start, person): logged ms, Σ hours × rate (`cost`), each worklog's
    hours × rate (`costs`, a list, for the ledger's exact sum), their count `n` and Σ|hours × rate| (`mag`, how far
    a float sum can be off), with the task's team (= source) and category. Milliseconds are exact integers, so
    sums do not depend on the order of worklogs."""
    rate = pl.col("author").replace_strict(dict(people), default=default_rate, return_dtype=pl.Float64)
    cat = pl.col("category")
    ids = tasks.select("source", "key", cat=pl.when(cat.is_null() | (cat == "")).then(pl.lit(UNCATEGORISED))
                       .otherwise(cat))
    cost = pl.col("hours") * rate  # each worklog's
    return worklogs.join(ids, on=["source", "key"], how="left", maintain_order="left").group_by(
        "source", "key", "cat", day=local_day_expr("started_at", tz), person="author", maintain_order=True).agg(
        ms=(pl.col("hours") * MS_PER_HOUR).round(0, mode="half_to_even").cast(pl.Int64).sum(),
        cost=cost.sum(), costs=cost, n=pl.len(), mag=cost.abs().sum())


def logged_by_week(days: pl.DataFrame) -> LoggedByWeek:
    """Σ worklog ms per (ISO week, team, category, person), from `worklog_days`."""
    weeks = days.group_by("source", "cat", "person", week=week_label_expr(pl.col("day"))).agg(pl.col("ms").sum())
    return {(w, team, cat, person): ms for team, cat, person, w, ms in weeks.rows()}


def worklog_totals(
    tasks: Iterable[Task], cal: LocalCalendar, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> WorklogTotals:
    """Capacity's weekly time and each task's labour by month, of Python tasks (through the frames)."""
    tasks = list(tasks)
    fr = model_frames(tasks)
    days = worklog_days(fr.tasks, fr.worklogs, tz_name(cal.tz), rates or {}, default_rate)
    months = days.group_by("source", "key", y=pl.col("day").dt.year(), m=pl.col("day").dt.month(),
                           maintain_order=True).agg(pl.col("cost").sum())
    labour: dict[tuple[str, str], dict[YearMonth, float]] = {}
    for source, key, y, m, cost in months.rows():
        labour.setdefault((source, key), {})[(y, m)] = cost
    return WorklogTotals(logged_by_week(days), [labour.get((t.source, t.key), {}) for t in tasks])


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
    """The Capacity tab of Python tasks (`logged`: from `worklog_totals`, if at hand): see `capacity_rows`."""
    if logged is None:
        logged = worklog_totals(tasks, cal).logged
    return capacity_rows(logged, cfg)


def capacity_rows(logged: LoggedByWeek, cfg: CapacityConfig) -> Table:
    """The Capacity tab. Per (week, team, category) a row with Person `All`, plus a (week, team, All, All) row that
    counts each person once (the figure to read for team utilization). With `per_person: true`, also one row per
    (week, team, person, category) and per (week, team, person, All)."""
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
