"""The Dashboard tab (SPEC §13): headline figures as label/value pairs, then the small tables its charts draw.

Every number is read from a tab this run already wrote (Campaigns, Budget rollup, Flow metrics, Capacity) or, for
the figures over the last four weeks, computed from the frames the same way, so the Dashboard never disagrees
with the tab a reader checks it against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from syncer.charts import CHARTS
from syncer.domain.campaigns import Clock, local_date
from syncer.domain.flow import ALL, p85
from syncer.domain.frames import Frames
from syncer.domain.periods import fiscal_year, fiscal_year_months, iso_week
from syncer.tables import DASHBOARD, HEADERS, Cell, Row, Table, money, num

WEEKS, HEADLINE_WEEKS = 12, 4
TITLES = {c.key: c.title for c in CHARTS}


@dataclass(frozen=True, slots=True)
class DashboardInputs:
    """The tabs of this run the Dashboard reads, by name, and the Budget rollup by month (for the spend line)."""

    tabs: Mapping[str, Table]
    monthly_rollup: Table
    labour_in_budget: bool
    fy_start_month: int


def named_rows(table: Table) -> list[dict[str, Cell]]:
    return [dict(zip(table[0], row, strict=False)) for row in table[1:]]


def complete_weeks(today: date, n: int) -> list[tuple[str, date]]:
    """The last `n` complete ISO weeks before today's, oldest first, as (label, Monday)."""
    monday = today - timedelta(days=today.weekday())
    return [(iso_week(monday - timedelta(days=7 * k)), monday - timedelta(days=7 * k)) for k in range(n, 0, -1)]


def headline(frames: Frames, clock: Clock, inputs: DashboardInputs) -> list[Row]:
    """Budget remaining and Used % of all campaigns, campaigns delayed and at risk, open, blocked and overdue tasks
    (the Campaigns tab's Total row), and throughput, Cycle p85, Intake complete and Utilization over the last four
    complete weeks."""
    campaigns = named_rows(inputs.tabs["Campaigns"])
    total = campaigns[-1] if campaigns else {}
    verdicts = [r.get("Schedule") for r in campaigns[:-1]]
    weeks = complete_weeks(clock.today, HEADLINE_WEEKS)
    first, end = weeks[0][1], weeks[-1][1] + timedelta(days=7)
    t = frames.tasks
    done = t.filter(local_date("completed_at", clock.zone).is_between(first, end, closed="left"))
    created = t.filter(local_date("created_at", clock.zone).is_between(first, end, closed="left"))
    labels = {w for w, _ in weeks}
    cap = [r for r in named_rows(inputs.tabs["Capacity"]) if r["Week"] in labels and r["Person"] == ALL
           and r["Category"] == ALL]
    logged, capacity = sum(r["Logged h"] or 0 for r in cap), sum(r["Capacity h"] or 0 for r in cap)
    span = f"{weeks[0][0]} to {weeks[-1][0]}"
    return [
        ["Budget remaining, all campaigns", total.get("Remaining")],
        ["Budget used, all campaigns", total.get("Used %")],
        ["Campaigns delayed", verdicts.count("delayed")],
        ["Campaigns at risk", verdicts.count("at risk")],
        ["Open tasks", total.get("Open")],
        ["Blocked now", total.get("Blocked")],
        ["Overdue", total.get("Overdue")],
        [f"Throughput, {span}", done.height],
        [f"Cycle p85 (days), {span}", num(p85(done["cycle_days"].drop_nulls().to_list()))],
        [f"Intake complete, {span}", num(created["intake_ok"].mean() if created.height else None, 4)],
        [f"Utilization, {span}", num(logged / capacity if capacity else None, 4)],
    ]


def budget_table(inputs: DashboardInputs) -> Table:
    rows = [r for r in named_rows(inputs.tabs["Campaigns"])[:-1] if r.get("Budgeted") is not None]
    return [["Campaign", "Budgeted", "Spent", "Open commitments"],
            *([r["Campaign"], r["Budgeted"], r["Spent"], r["Open commitments"]] for r in rows)]


def spend_table(clock: Clock, inputs: DashboardInputs) -> Table:
    """Cumulative Budgeted and Spent (Invoiced, plus Labour when it counts) per month of the current fiscal year."""
    fy = fiscal_year(clock.today.year, clock.today.month, inputs.fy_start_month)
    months = [f"{y}-{m:02d}" for y, m in fiscal_year_months(fy, inputs.fy_start_month)]
    budget = dict.fromkeys(months, 0.0)
    spent = dict.fromkeys(months, 0.0)
    for r in named_rows(inputs.monthly_rollup):
        if r.get("Period") in budget:
            budget[r["Period"]] += r["Budgeted"] or 0
            spent[r["Period"]] += (r["Invoiced"] or 0) + ((r["Labour"] or 0) if inputs.labour_in_budget else 0)
    rows, b, s = [], 0.0, 0.0
    for m in months:
        b, s = b + budget[m], s + spent[m]
        rows.append([m, money(b), money(s) if m <= f"{clock.today:%Y-%m}" else None])
    return [["Month", f"Budget FY{fy}", f"Spent FY{fy}"], *rows]


def weekly_tables(clock: Clock, inputs: DashboardInputs) -> tuple[Table, Table, Table]:
    """Throughput and WIP, Cycle p50 and p85 (the Flow metrics `All` rows), and Utilization per team (the
    Capacity rows of every person and category) for each of the last 12 complete weeks."""
    weeks = [w for w, _ in complete_weeks(clock.today, WEEKS)]
    flow = {r["Period"]: r for r in named_rows(inputs.tabs["Flow metrics"])
            if r["Source"] == ALL and r["Category"] == ALL and r["Period"] in weeks}
    cap = [r for r in named_rows(inputs.tabs["Capacity"]) if r["Person"] == ALL and r["Category"] == ALL]
    teams = sorted({str(r["Team"]) for r in cap if r["Week"] in weeks})
    util = {(r["Week"], str(r["Team"])): r["Utilization"] for r in cap}
    empty: dict[str, Cell] = {}
    return (
        [["Week", "Throughput", "WIP"],
         *([w, flow.get(w, empty).get("Throughput") or 0, flow.get(w, empty).get("WIP") or 0] for w in weeks)],
        [["Week", "Cycle p50", "Cycle p85"],
         *([w, flow.get(w, empty).get("Cycle p50"), flow.get(w, empty).get("Cycle p85")] for w in weeks)],
        [["Week", *teams], *([w, *(util.get((w, team)) for team in teams)] for w in weeks)],
    )


def dashboard_table(frames: Frames, clock: Clock, inputs: DashboardInputs) -> Table:
    """The Dashboard tab: the headline pairs, then each chart's table under its title row (the fixed-size ones
    first, the campaigns last, so a new campaign moves no other chart's range)."""
    flow, cycle, util = weekly_tables(clock, inputs)
    parts = [("spend", spend_table(clock, inputs)), ("flow", flow), ("cycle", cycle), ("utilization", util),
             ("budget", budget_table(inputs))]
    rows: Table = [list(HEADERS[DASHBOARD]), *headline(frames, clock, inputs)]
    for key, table in parts:
        rows += [[], [TITLES[key]], *table]
    return rows

