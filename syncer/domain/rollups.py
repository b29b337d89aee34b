"""The domain roll-ups in one call: Intake, Flow metrics, Capacity and Budget rollup tabs plus the run summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer.config import Config
from syncer.domain.budget import BudgetLine
from syncer.domain.capacity import LoggedByWeek, capacity_table, teams_as_one, worklog_totals
from syncer.domain.figures import TaskFigures, rate_table, task_figures
from syncer.domain.flow import flow_table, intake_complete, p50
from syncer.domain.frames import Frames, frames_from_tasks
from syncer.domain.intake import BudgetIndex, Violation, check_tasks, intake_table
from syncer.domain.ledger import ledger_table, remaining
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


def build_domain(
    tasks: list[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    cfg: Config,
    as_of: datetime,
    budget_lines: list[BudgetLine],
    rates: Mapping[str, float] | None = None,
) -> DomainResult:
    """Check intake rules and roll up flow metrics, capacity and the budget ledger (pure, at reference time `as_of`).

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
            figs[(t.source, t.key)] = task_figures(t, as_of, tz, rates, cfg.rates.default)
    budget = None
    if cfg.budget is not None:
        if budget_lines:
            budget = BudgetIndex.of(budget_lines)
        else:
            warnings.append("the budget has no lines: Budgeted is 0 everywhere, and campaigns and G/L accounts "
                            "are not checked against it")
    violations = check_tasks(tasks, figs, cfg.intake, budget, cal, cfg.labour_in_budget)
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
        FLOW_METRICS: flow_table(tasks, figs, intake_ok, cal, as_of),
        CAPACITY: capacity_table(tasks, cfg.capacity, cal, worklogs.logged),
        INTAKE: intake_table(violations, tz),
    }
    tables[WEEKLY_REVIEW] = _weekly_review(frames, as_of, cfg, cal, tables[CAPACITY], worklogs.logged)
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
    return DomainResult(tables, intake_ok, violations, summary, frames, warnings)


def _weekly_review(frames: Frames, as_of: datetime, cfg: Config, cal: LocalCalendar, capacity: Table,
                   logged: LoggedByWeek) -> Table:
    """The Weekly review tab; its Logged h and Utilization come from the Capacity computation (the `All` team's
    by the same computation over every team at once)."""
    every_team = capacity_table([], cfg.capacity, cal, teams_as_one(logged))
    return weekly_table(frames, as_of, cfg, capacity + every_team[1:])
