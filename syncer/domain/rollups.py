"""The domain roll-ups in one call: Intake, Flow metrics, Capacity and Budget rollup tabs plus the run summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import polars as pl

from syncer.config import Config
from syncer.domain.attention import attention_counts, attention_table
from syncer.domain.budget import BudgetLine
from syncer.domain.campaigns import Clock, campaigns_by_schedule, campaigns_table
from syncer.domain.capacity import capacity_rows, logged_by_week, teams_as_one, worklog_days
from syncer.domain.cells import natural_sorted
from syncer.domain.dashboard import DashboardInputs, dashboard_table
from syncer.domain.figures import figures_frame, labour_costs, tz_name, with_flagged_time
from syncer.domain.flow import flow_frame_table, p50, ratio
from syncer.domain.frames import KEY, TASKS_SCHEMA, Frames
from syncer.domain.intake import BudgetIndex, Violation, check_tasks, intake_frame_table
from syncer.domain.ledger import LedgerResult, ledger_frames, remaining
from syncer.domain.periods import LocalCalendar
from syncer.domain.stored import KEYS, VIOLATIONS_SCHEMA, as_frames, frames_of, violations_frame, violations_of
from syncer.domain.tasks_tab import tasks_frame_table
from syncer.domain.weekly import weekly_table
from syncer.model import Problem, Stage, Task
from syncer.tables import (
    ATTENTION,
    BUDGET_ROLLUP,
    CAMPAIGNS,
    CAPACITY,
    DASHBOARD,
    FLOW_METRICS,
    INTAKE,
    WEEKLY_REVIEW,
    Table,
    money,
    num,
)


@dataclass(slots=True)
class DomainResult:
    """Everything the pipeline writes or reports from the domain roll-ups."""

    tables: dict[str, Table]
    intake_ok: dict[tuple[str, str], bool]
    violation_rows: pl.DataFrame  # stored.VIOLATIONS_SCHEMA, in the Intake tab's order
    summary: dict[str, Any]
    frames: Frames
    warnings: list[str] = field(default_factory=list)
    tasks_table: Table = field(default_factory=list)  # the Tasks tab (SPEC §6), header first

    @property
    def violations(self) -> list[Violation]:
        """The violations as objects (write-back decisions, tests); the tabs use `violation_rows`."""
        return violations_of(self.violation_rows)


def build_domain(tasks: list[Task], cfg: Config, as_of: datetime, budget_lines: list[BudgetLine]) -> DomainResult:
    """Per-task figures, intake rules, flow metrics, capacity and the budget ledger of `tasks` (pure; `as_of` is
    the figures' reference time). `budget_lines` come from `budget.read_budget_csv` or `budget.budget_from_rows`;
    their warnings are the caller's to report."""
    tasks = sorted(tasks, key=lambda t: (t.source, t.key))
    return domain_of_frames(fold_tasks(tasks, cfg, budget_index(cfg, budget_lines)), cfg, as_of, budget_lines)


def budget_index(cfg: Config, budget_lines: list[BudgetLine]) -> BudgetIndex | None:
    """What intake checks against: the budget's campaigns and G/L accounts (None: no budget, or no lines)."""
    return BudgetIndex.of(budget_lines) if cfg.budget is not None and budget_lines else None


@dataclass(frozen=True, slots=True)
class Checked:
    """The figured frames with every task's intake verdict (`intake_ok`): what the tabs are computed from."""

    frames: Frames
    violations: pl.DataFrame  # stored.VIOLATIONS_SCHEMA, in the Intake tab's order
    warnings: list[str]
    days: pl.DataFrame  # `worklog_days`: one pass over every worklog feeds Capacity and the ledger's Labour


def fold_tasks(tasks: Sequence[Task], cfg: Config, budget: BudgetIndex | None) -> dict[str, pl.DataFrame]:
    """The stored frames (`stored.SCHEMAS`) of `tasks`, sorted by source and key, with their intake violations:
    all a run keeps of a source's Task objects once it has read them. `budget`: see `budget_index`."""
    frames = frames_of(tasks)
    labour: dict[tuple[str, str], float] = {}
    if cfg.labour_in_budget:  # the labour of a task without a campaign is an amount booked to Unallocated
        unallocated = frames["tasks"].filter(pl.col("campaign").str.strip_chars().fill_null("") == "").select(KEYS)
        costs = labour_costs(frames["worklogs"].join(unallocated, on=KEYS, how="semi"), cfg.rates.people,
                             cfg.rates.default)
        labour = dict(zip(zip(costs["source"], costs["key"], strict=True), costs["labour_cost"], strict=True))
    cal = LocalCalendar(cfg.tz, cfg.fiscal_year_start_month)
    frames["violations"] = violations_frame(check_tasks(tasks, labour, cfg.intake, budget, cal, cfg.labour_in_budget))
    return frames


def domain_of_frames(stored: Mapping[str, pl.DataFrame], cfg: Config, as_of: datetime,
                     budget_lines: list[BudgetLine]) -> DomainResult:
    """`build_domain` of the stored frames (`stored.SCHEMAS`, sorted by source and key): `checked_frames`, then
    `domain_of_checked`. The frames are computed in columns, once, and every tab reads them."""
    return domain_of_checked(checked_frames(stored, cfg, as_of, budget_lines), cfg, as_of, budget_lines)


def checked_frames(stored: Mapping[str, pl.DataFrame], cfg: Config, as_of: datetime,
                   budget_lines: list[BudgetLine]) -> Checked:
    """The SPEC §5 figures of the stored frames and the intake verdicts: each task's violations are those in
    `stored["violations"]`, as `fold_tasks` checked them (for the tasks not read now, valid while
    `stored.check_digest` is unchanged: the caller decides)."""
    model = as_frames(stored)
    warnings = ["the budget has no lines: Budgeted is 0 everywhere, and campaigns and G/L accounts are not "
                "checked against it"] if cfg.budget is not None and not budget_lines else []
    with ThreadPoolExecutor(1) as pool:  # the worklogs per day need no figure: summed beside the figures
        days = pool.submit(worklog_days, model.tasks, model.worklogs, tz_name(cfg.tz), cfg.rates.people,
                           cfg.rates.default)
        frames, violations = _figured(model, stored["violations"], cfg, as_of)
        return Checked(frames, violations, warnings, days.result())


def _figured(model: Frames, checked: pl.DataFrame, cfg: Config, as_of: datetime) -> tuple[Frames, pl.DataFrame]:
    """The frames with the figures and `intake_ok`, and the `checked` violations of their tasks, in the Intake
    tab's order: by source, key (in number order), rule and field."""
    figured = with_flagged_time(figures_frame(model.tasks, model.changes, model.worklogs, as_of, tz_name(cfg.tz),
                                              cfg.rates.people, cfg.rates.default), model.changes, model.flags, as_of)
    violations = in_intake_order(checked.cast(dict(VIOLATIONS_SCHEMA)).select(list(VIOLATIONS_SCHEMA)).join(
        figured.select(KEYS), on=KEYS, how="semi", maintain_order="left"))
    bad = violations.select(KEYS).unique().with_columns(bad=pl.lit(True))
    full = figured.join(bad, on=KEYS, how="left", maintain_order="left").with_columns(
        intake_ok=pl.col("bad").is_null()).drop("bad")
    frames = Frames(full.select(*TASKS_SCHEMA, *[c for c in full.columns if c not in TASKS_SCHEMA]),
                    model.changes, model.worklogs, model.flags)
    return frames, violations


def domain_of_checked(checked: Checked, cfg: Config, as_of: datetime, budget_lines: list[BudgetLine]
                      ) -> DomainResult:
    """Every tab and the run summary of the checked frames."""
    frames, violations = checked.frames, checked.violations
    cal = LocalCalendar(cfg.tz, cfg.fiscal_year_start_month)
    with ThreadPoolExecutor(2) as pool:  # tabs that need only the frames are computed beside the rest
        tasks_tab = pool.submit(tasks_frame_table, frames.tasks, cfg.tz)
        tables, led = _tabs(frames, TabInputs(cfg, as_of, cal, budget_lines, violations, checked.days), pool)
        ok = frames.tasks.select("source", "key", "intake_ok").rows()
        summary = {**_summary(frames.tasks, led, violations, cfg), **visibility_summary(tables)}
        return DomainResult(tables, {(s, k): v for s, k, v in ok}, violations, summary, frames,
                            [*checked.warnings, *led.warnings], tasks_tab.result())


@dataclass(frozen=True, slots=True)
class TabInputs:
    """What the tabs read besides the frames."""

    cfg: Config
    as_of: datetime
    cal: LocalCalendar
    budget_lines: list[BudgetLine]
    violations: pl.DataFrame
    days: pl.DataFrame


def _tabs(frames: Frames, inputs: TabInputs, pool: ThreadPoolExecutor) -> tuple[dict[str, Table], LedgerResult]:
    """Every roll-up tab of the figured frames, and the ledger; the Weekly review runs in `pool` (polars releases
    the GIL while it works, so it runs beside Flow metrics, Intake and the visibility tabs)."""
    cfg, as_of, cal, lines, zone = inputs.cfg, inputs.as_of, inputs.cal, inputs.budget_lines, tz_name(inputs.cfg.tz)
    days = inputs.days
    logged = logged_by_week(days)
    led = ledger_frames(frames.tasks, days, lines, cal, cfg.budget_period, cfg.labour_in_budget)
    tables = {BUDGET_ROLLUP: led.table, CAPACITY: capacity_rows(logged, cfg.capacity)}
    every_team = capacity_rows(teams_as_one(logged), cfg.capacity)
    weekly = pool.submit(weekly_table, frames, as_of, cfg, tables[CAPACITY] + every_team[1:])
    tables[FLOW_METRICS] = flow_frame_table(frames.tasks, frames.changes, cal, as_of)
    tables[INTAKE] = intake_frame_table(inputs.violations, zone)
    clock = Clock.of(as_of, cfg.timezone)
    tables.update(visibility_tabs(frames, clock, led.table, cfg))
    monthly = led.table if cfg.budget_period == "month" else ledger_frames(
        frames.tasks, days, lines, cal, "month", cfg.labour_in_budget).table
    tables[WEEKLY_REVIEW] = weekly.result()
    tables[DASHBOARD] = dashboard_table(frames, clock, DashboardInputs(
        tables, monthly, cfg.labour_in_budget, cfg.fiscal_year_start_month))
    return tables, led


def visibility_tabs(frames: Frames, clock: Clock, rollup: Table, cfg: Config) -> dict[str, Table]:
    """Campaigns (its budget columns read from the Budget rollup `rollup`) and Attention."""
    return {
        CAMPAIGNS: campaigns_table(frames, clock, rollup, cfg.labour_in_budget),
        ATTENTION: attention_table(frames, clock, cfg.attention.due_soon_days, cfg.attention.stale_days),
    }


def visibility_summary(tables: Mapping[str, Table]) -> dict[str, Any]:
    """Campaigns per Schedule verdict and Attention rows per reason, for the run summary."""
    return {"campaigns_by_schedule": campaigns_by_schedule(tables[CAMPAIGNS]),
            "attention": attention_counts(tables[ATTENTION])}


def in_intake_order(violations: pl.DataFrame) -> pl.DataFrame:
    """Violations in the Intake tab's order: by source, key (`MKT-9` before `MKT-10`), rule and field."""
    return natural_sorted(violations, [pl.col("source")], [pl.col("rule"), pl.col("field")])


def _summary(tasks: pl.DataFrame, led: LedgerResult, violations: pl.DataFrame, cfg: Config) -> dict[str, Any]:
    ok = tasks["intake_ok"]
    return {
        "budget_remaining": {c: money(remaining(v, cfg.labour_in_budget) / 100)
                             for c, v in sorted(led.campaign_totals.items())},
        "budget_remaining_total": money(remaining(led.grand_total, cfg.labour_in_budget) / 100),
        "intake_violations": violations.height,
        "tasks_with_violations": int((~ok).sum()),
        "intake_complete": num(ratio(int(ok.sum()), ok.len()), 4),
        "median_cycle_days": num(p50(tasks["cycle_days"].drop_nulls().to_list())),
    }


def with_kept(domain: DomainResult, kept: Mapping[tuple[str, str], Problem], tasks: pl.DataFrame,
              tz: tzinfo) -> None:
    """Add an Intake row for each record this run could not map by a field's fault (its stored version stays), in
    the Intake tab's order: by source, key (`MKT-9` before `MKT-10`), rule and field."""
    if not kept:
        return
    keys = pl.DataFrame(list(kept), schema=KEY, orient="row")
    rows = tasks.join(keys, on=KEYS, how="semi").select(
        "source", "key", "title", "stage", "owner", "url", "created_at").rows()
    added = violations_frame([Violation(s, k, title, Stage(stage), owner, url or "", kept[(s, k)].rule,
                                        kept[(s, k)].field, f"{kept[(s, k)].problem}.", created)
                              for s, k, title, stage, owner, url, created in rows])
    domain.violation_rows = in_intake_order(pl.concat([domain.violation_rows, added]))
    domain.tables[INTAKE] = intake_frame_table(domain.violation_rows, tz_name(tz))
