"""The domain roll-ups in one call: Intake, Flow metrics, Capacity and Budget rollup tabs plus the run summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from syncer.config import Config
from syncer.domain.budget import BudgetLine
from syncer.domain.capacity import capacity_rows, logged_by_week, teams_as_one, worklog_days
from syncer.domain.figures import figures_frame, tz_name
from syncer.domain.flow import flow_frame_table, p50, ratio
from syncer.domain.frames import TASKS_SCHEMA, Frames, model_frames
from syncer.domain.intake import BudgetIndex, Violation, check_tasks, intake_table
from syncer.domain.ledger import LedgerResult, ledger_frames, remaining
from syncer.domain.periods import LocalCalendar
from syncer.domain.weekly import weekly_table
from syncer.model import Task
from syncer.tables import BUDGET_ROLLUP, CAPACITY, FLOW_METRICS, INTAKE, WEEKLY_REVIEW, Table, money, num


@dataclass(slots=True)
class DomainResult:
    """Everything the pipeline writes or reports from the domain roll-ups."""

    tables: dict[str, Table]
    intake_ok: dict[tuple[str, str], bool]
    violations: list[Violation]
    summary: dict[str, Any]
    frames: Frames
    warnings: list[str] = field(default_factory=list)


def build_domain(tasks: list[Task], cfg: Config, as_of: datetime, budget_lines: list[BudgetLine]) -> DomainResult:
    """Per-task figures, intake rules, flow metrics, capacity and the budget ledger of `tasks` (pure; `as_of` is
    the figures' reference time). `budget_lines` come from `budget.read_budget_csv` or `budget.budget_from_rows`;
    their warnings are the caller's to report. The frames are computed in columns, once, and every tab reads them.
    """
    tz = cfg.tz
    zone = tz_name(tz)
    cal = LocalCalendar(tz, cfg.fiscal_year_start_month)
    warnings: list[str] = []
    model = model_frames(tasks)
    figured = figures_frame(model.tasks, model.changes, model.worklogs, as_of, zone, cfg.rates.people,
                            cfg.rates.default)
    budget = None
    if cfg.budget is not None:
        if budget_lines:
            budget = BudgetIndex.of(budget_lines)
        else:
            warnings.append("the budget has no lines: Budgeted is 0 everywhere, and campaigns and G/L accounts "
                            "are not checked against it")
    unallocated = figured.filter(pl.col("campaign").str.strip_chars().fill_null("") == "")
    labour = dict(zip(zip(unallocated["source"], unallocated["key"], strict=True), unallocated["labour_cost"],
                      strict=True))
    violations = check_tasks(tasks, labour, cfg.intake, budget, cal, cfg.labour_in_budget)
    intake_ok = {(t.source, t.key): True for t in tasks}
    for v in violations:
        intake_ok[(v.source, v.key)] = False
    full = figured.with_columns(intake_ok=pl.Series([intake_ok[(t.source, t.key)] for t in tasks], dtype=pl.Boolean))
    frames = Frames(full.select(*TASKS_SCHEMA, *[c for c in full.columns if c not in TASKS_SCHEMA]),
                    model.changes, model.worklogs, model.flags)
    # One pass over every worklog feeds both Capacity and the ledger's Labour.
    days = worklog_days(frames.tasks, frames.worklogs, zone, cfg.rates.people, cfg.rates.default)
    logged = logged_by_week(days)
    led = ledger_frames(frames.tasks, days, budget_lines, cal, cfg.budget_period, cfg.labour_in_budget)
    warnings.extend(led.warnings)
    tables = {
        BUDGET_ROLLUP: led.table,
        FLOW_METRICS: flow_frame_table(frames.tasks, frames.changes, cal, as_of),
        CAPACITY: capacity_rows(logged, cfg.capacity),
        INTAKE: intake_table(violations, tz),
    }
    every_team = capacity_rows(teams_as_one(logged), cfg.capacity)
    tables[WEEKLY_REVIEW] = weekly_table(frames, as_of, cfg, tables[CAPACITY] + every_team[1:])
    return DomainResult(tables, intake_ok, violations, _summary(frames.tasks, led, violations, cfg), frames,
                        warnings)


def _summary(tasks: pl.DataFrame, led: LedgerResult, violations: list[Violation], cfg: Config) -> dict[str, Any]:
    ok = tasks["intake_ok"]
    return {
        "budget_remaining": {c: money(remaining(v, cfg.labour_in_budget) / 100)
                             for c, v in sorted(led.campaign_totals.items())},
        "budget_remaining_total": money(remaining(led.grand_total, cfg.labour_in_budget) / 100),
        "intake_violations": len(violations),
        "tasks_with_violations": int((~ok).sum()),
        "intake_complete": num(ratio(int(ok.sum()), ok.len()), 4),
        "median_cycle_days": num(p50(tasks["cycle_days"].drop_nulls().to_list())),
    }
