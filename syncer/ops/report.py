"""`syncer report`: one week of the Weekly review (SPEC §10) as a short read, from the state file alone.

No source is constructed and no API is asked: the tasks come from the state, the budget from `budget.file` (or the
workbook of an xlsx sink), and the reference time is that of the figures (a replay's snapshot time, else now).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncer.config import Config
from syncer.domain.budget import BudgetLine, load_budget
from syncer.domain.close import Periods, read_records, rollup_with_closes
from syncer.domain.periods import LocalCalendar, iso_week
from syncer.domain.review import Week, moved, rework_in, stuck_at
from syncer.domain.review_notes import SEPARATOR
from syncer.domain.rollups import build_domain
from syncer.errors import SyncerError
from syncer.model import Task
from syncer.ops.report_format import FORMATS, Review
from syncer.pipeline import snapshot_time
from syncer.sinks.xlsx import XlsxSink
from syncer.state import State
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, CLOSED_PERIODS, HEADERS, WEEKLY_REVIEW, Table

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
LATE_SCHEDULES = ("delayed", "at risk")


class ReportError(SyncerError):
    """The report cannot be made as asked (no synced tasks yet, a week that has not begun)."""

    exit_code = 2
    headline = "report"


def reference_time(cfg: Config, now: datetime | None = None) -> datetime:
    """The figures' reference time: a replay-only config's snapshot time, else now."""
    return snapshot_time(cfg) or now or datetime.now(UTC)


def last_complete_week(as_of: datetime, cfg: Config) -> str:
    """The ISO week before the one holding `as_of` (local)."""
    return iso_week(as_of.astimezone(cfg.tz).date() - timedelta(days=7))


def check_week(label: str, as_of: datetime, cfg: Config) -> str:
    """`label` if it names an ISO week that has begun, else a ReportError saying what is expected."""
    m = WEEK.match(label)
    try:
        if m is None:
            raise ValueError(label)
        date.fromisocalendar(int(m[1]), int(m[2]), 1)  # rejects a week the year does not have (2025-W53)
    except ValueError:
        raise ReportError(f"--week {label!r}: expected an ISO week such as 2026-W48") from None
    if label > iso_week(as_of.astimezone(cfg.tz).date()):
        raise ReportError(f"--week {label}: that week has not begun (the figures are as of "
                          f"{as_of.astimezone(cfg.tz):%Y-%m-%d %H:%M})")
    return label


def _budget(cfg: Config) -> tuple[list[BudgetLine], str | None]:
    """The budget lines that can be read without an API request, or why they cannot."""
    if cfg.budget is None:
        return [], "no budget is configured"
    if cfg.budget.file is None and cfg.sink.kind != "xlsx":
        return [], f"the budget is the sink's {cfg.budget.tab!r} tab, which `syncer report` does not read online"
    sink = XlsxSink.from_config(cfg.sink, cfg) if cfg.budget.file is None else None
    lines, _ = load_budget(cfg.budget, sink)
    return lines, None


def _rows(table: Table, pick: Any) -> list[dict[str, Any]]:
    return [dict(zip(table[0], r, strict=True)) for r in table[1:] if pick(dict(zip(table[0], r, strict=True)))]


def _budget_over(table: Table, week: Week, cfg: Config) -> list[dict[str, Any]]:
    """Budget rollup rows flagged `over`: campaign totals, and the rows of the budget period(s) the week falls in;
    most over first."""
    cal = LocalCalendar(cfg.tz, cfg.fiscal_year_start_month)
    periods = {cal.budget_period((d.year, d.month), cfg.budget_period) for d in (week.monday, week.sunday)}
    over = _rows(table, lambda r: r["Flag"] == "over" and (r["Activity"] == "Total" or r["Period"] in periods))
    return sorted(over, key=lambda r: r["Remaining"])


def stored(cfg: Config) -> tuple[list[Task], list[list[Any]]]:
    """The configured sources' tasks in the state file, and its copy of the Closed periods rows (read only:
    nothing is created or locked)."""
    state = State(cfg.state.path, read_only=True)
    try:
        known = {s.name for s in cfg.sources}
        tasks = sorted((t for t in state.tasks() if t.source in known), key=lambda t: (t.source, t.key))
        closed = state.closed_rows()
    finally:
        state.close()
    if not tasks:
        names = ", ".join(sorted(known))
        raise ReportError(f"the state file {cfg.state.path} holds no tasks of the configured sources ({names}) "
                          "yet: run `syncer run` first")
    return tasks, closed


def finance_rollup(live: Table, closed: list[list[Any]], cfg: Config) -> Table:
    """The Budget rollup as the last sync wrote it: closed periods as frozen, later changes as adjustment rows
    (SPEC §11), from the state's copy of the Closed periods tab."""
    if not closed:
        return live
    records, _ = read_records([HEADERS[CLOSED_PERIODS], *closed], cfg.budget_period)
    return rollup_with_closes(live, records, Periods(cfg.budget_period, cfg.fiscal_year_start_month))


def build_review(cfg: Config, week: str | None = None, now: datetime | None = None) -> Review:
    """The review of `week` (default: the last complete ISO week) from the state file, with no API request."""
    as_of = reference_time(cfg, now)
    label = check_week(week, as_of, cfg) if week else last_complete_week(as_of, cfg)
    tasks, closed = stored(cfg)
    return review_of(tasks, cfg, label, as_of, _budget(cfg), closed)


def review_of(tasks: list[Task], cfg: Config, label: str, as_of: datetime,
              budget: tuple[list[BudgetLine], str | None] = ([], "no budget is configured"),
              closed: list[list[Any]] | None = None) -> Review:
    """The review of week `label` over `tasks` (pure); `budget`: its lines, or why there are none; `closed`: the
    Closed periods rows."""
    lines, unread = budget
    domain = build_domain(tasks, cfg, as_of, lines)
    rollup = finance_rollup(domain.tables[BUDGET_ROLLUP], closed or [], cfg)
    the_week = Week.of(label, as_of, LocalCalendar(cfg.tz, cfg.fiscal_year_start_month))
    rows = _rows(domain.tables[WEEKLY_REVIEW], lambda r: r["Week"] == label)
    notes = rows[0]["Notes"].split(SEPARATOR) if rows and rows[0]["Notes"] else []
    campaigns = domain.tables.get(CAMPAIGNS)  # the Campaigns tab, once the domain produces it
    return Review(
        week=the_week, as_of=as_of, cfg=cfg, rows=rows, notes=notes,
        moved=moved(domain.frames, the_week, cfg.timezone),
        stuck=stuck_at(domain.frames, the_week, cfg),
        rework=rework_in(domain.frames, the_week, cfg.timezone),
        campaigns=sorted(_rows(campaigns, lambda r: r["Schedule"] in LATE_SCHEDULES) if campaigns else [],
                         key=lambda r: (LATE_SCHEDULES.index(r["Schedule"]), -r["Overdue"], r["Campaign"])),
        budget_over=[] if unread else _budget_over(rollup, the_week, cfg),
        budget_unread=unread,
    )


def weekly_report(cfg: Config, week: str | None = None, fmt: str = "text", now: datetime | None = None) -> str:
    """The report of one week as text or markdown (the library call behind `syncer report`)."""
    return FORMATS[fmt](build_review(cfg, week, now))


