"""Reference: the row-by-row `build_domain` the columnar core replaced (same tabs, same summary)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reference.capacity import capacity_table, worklog_totals
from reference.figures import TaskFigures, rate_table, task_figures
from reference.flow import flow_table
from reference.ledger import ledger_table
from syncer.config import Config
from syncer.domain.budget import BudgetLine
from syncer.domain.flow import intake_complete, p50
from syncer.domain.frames import frames_from_tasks
from syncer.domain.intake import BudgetIndex, check_tasks, intake_table
from syncer.domain.ledger import remaining
from syncer.domain.periods import LocalCalendar
from syncer.domain.rollups import DomainResult
from syncer.domain.stored import violations_frame
from syncer.model import Task
from syncer.tables import BUDGET_ROLLUP, CAPACITY, FLOW_METRICS, INTAKE, money, num


def build_domain(
    tasks: list[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    cfg: Config,
    now: datetime,
    budget_lines: list[BudgetLine],
    rates: Mapping[str, float] | None = None,
) -> DomainResult:
    """Check intake rules and roll up flow metrics, capacity and the budget ledger (pure; `now` is the sync time).

    `figures` holds SPEC §5 per task (missing entries are computed here). `budget_lines` come from
    `budget.read_budget_csv` or `budget.budget_from_rows`; their warnings are the caller's to report.
    """
    tz = cfg.tz
    cal = LocalCalendar(tz, cfg.fiscal_year_start_month)
    warnings: list[str] = []
    figs = figures
    if rates is None:  # each worklog author's rate (the pipeline passes the table it already built)
        rates = rate_table(tasks, cfg.rates.people, cfg.rates.default)
    missing = [t for t in tasks if (t.source, t.key) not in figures]
    if missing:
        figs = dict(figures)
        for t in missing:
            figs[(t.source, t.key)] = task_figures(t, now, tz, rates, cfg.rates.default)

    budget = None
    if cfg.budget is not None:
        if budget_lines:
            budget = BudgetIndex.of(budget_lines)
        else:
            warnings.append("the budget has no lines: Budgeted is 0 everywhere, and campaigns and G/L accounts "
                            "are not checked against it")
    violations = check_tasks(tasks, {k: f.labour_cost for k, f in figs.items()}, cfg.intake, budget, cal,
                             cfg.labour_in_budget)
    intake_ok = {(t.source, t.key): True for t in tasks}
    for v in violations:
        intake_ok[(v.source, v.key)] = False

    # One pass over every worklog feeds both Capacity and the ledger's Labour.
    worklogs = worklog_totals(tasks, cal, rates, cfg.rates.default)
    led = ledger_table(tasks, figs, budget_lines, cal, cfg.budget_period, rates, cfg.rates.default,
                       cfg.labour_in_budget, worklogs.labour)
    warnings.extend(led.warnings)
    frames = frames_from_tasks(tasks, figs, intake_ok)  # what the columnar tabs below read
    tables = {
        BUDGET_ROLLUP: led.table,
        FLOW_METRICS: flow_table(tasks, figs, intake_ok, cal, now),
        CAPACITY: capacity_table(tasks, cfg.capacity, cal, worklogs.logged),
        INTAKE: intake_table(violations, tz),
    }
    cycles = [f.cycle_days for key, f in figs.items() if f.cycle_days is not None and key in intake_ok]
    summary: dict[str, Any] = {
        "budget_remaining": {c: money(remaining(v, cfg.labour_in_budget) / 100)
                             for c, v in sorted(led.campaign_totals.items())},
        "budget_remaining_total": money(remaining(led.grand_total, cfg.labour_in_budget) / 100),
        "intake_violations": len(violations),
        "tasks_with_violations": sum(not ok for ok in intake_ok.values()),
        "intake_complete": num(intake_complete(tasks, intake_ok), 4),
        "median_cycle_days": num(p50(cycles)),
    }
    return DomainResult(tables, intake_ok, violations_frame(violations), summary, frames, warnings)
