"""The budget ledger (SPEC §8): encumbrance accounting per campaign, activity, G/L account and budget period."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from syncer.domain.budget import BudgetLine
from syncer.domain.capacity import worklog_days
from syncer.domain.cells import cents, local_day_expr
from syncer.domain.figures import TaskFigures, tz_name
from syncer.domain.frames import frames_from_tasks
from syncer.domain.periods import Granularity, LocalCalendar, YearMonth, period_months, spread_evenly
from syncer.model import Task
from syncer.tables import BUDGET_ROLLUP, HEADERS, Row, Table, money, num, to_cents

UNALLOCATED = "Unallocated"
TOTAL = "Total"
# Positions in a row's integer-cent vector.
BUDGETED, PLANNED, COMMITTED, INVOICED, LABOUR, OPEN = range(6)
Key = tuple[str, str | None, str | None]  # (campaign, activity, G/L account)
Book = dict[Key, dict[YearMonth, list[int]]]  # integer cents per key and calendar month


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def task_key(task: Task) -> Key:
    """Where a task's amounts are booked; no campaign -> `Unallocated`."""
    return (_text(task.campaign) or UNALLOCATED, _text(task.activity), _text(task.gl_account))


@dataclass(frozen=True, slots=True)
class LedgerResult:
    """The Budget rollup tab plus the campaign totals (in cents) for the run summary."""

    table: Table
    campaign_totals: dict[str, list[int]]
    grand_total: list[int]
    warnings: list[str]


def _first(*dates: date | None) -> date:
    return next(d for d in dates if d is not None)


def _post_budget(book: Book, lines: Iterable[BudgetLine], cal: LocalCalendar) -> list[str]:
    """Each month's share of each budget line, in cents; a line whose period cannot be read is a warning."""
    warnings: list[str] = []
    for ln in lines:
        try:
            months = period_months(ln.period, cal.fy_start)
        except ValueError as e:
            warnings.append(f"budget row {ln.row}: {e}; line ignored")
            continue
        acct = book.setdefault((ln.campaign.strip(), _text(ln.activity), _text(ln.gl_account)), {})
        for ym, part in zip(months, spread_evenly(to_cents(ln.amount), len(months)), strict=True):
            _post(acct, ym, BUDGETED, part)
    return warnings


def _post(months: dict[YearMonth, list[int]], ym: YearMonth, col: int, cents: int) -> None:
    cell = months.get(ym)
    if cell is None:
        cell = months[ym] = [0, 0, 0, 0, 0, 0]
    cell[col] += cents


def _stripped(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text != "").then(text)


def _month_of(*days: pl.Expr) -> list[pl.Expr]:
    day = pl.coalesce(*days)
    return [day.dt.year().cast(pl.Int32).alias("y"), day.dt.month().cast(pl.Int32).alias("m")]


def task_postings(tasks: pl.DataFrame, days: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every task amount and each account-month's labour in integer cents, rounded once: (campaign, activity,
    G/L account, y, m, column, cents). `tasks` carries `completed_at`; `days` is `capacity.worklog_days`."""
    acct = [pl.coalesce(_stripped("campaign"), pl.lit(UNALLOCATED)).alias("campaign"), _stripped("activity")
            .alias("activity"), _stripped("gl_account").alias("gl_account")]
    created = local_day_expr("created_at", tz)
    t = tasks.select("source", "key", *acct, "planned_cost", "committed_amount", "invoiced_amount",
                     planned_m=pl.struct(_month_of(pl.col("due_date"), created)),
                     invoiced_m=pl.struct(_month_of(pl.col("invoice_date"), local_day_expr("invoiced_seen_at", tz),
                                                    local_day_expr("completed_at", tz), created)),
                     committed_m=pl.struct(_month_of(pl.col("po_date"), local_day_expr("committed_seen_at", tz),
                                                     created)))
    t = t.with_columns(planned=cents(t["planned_cost"]), invoiced=cents(t["invoiced_amount"]),
                       committed=cents(t["committed_amount"]))
    t = t.with_columns(open=pl.max_horizontal(pl.col("committed") - pl.col("invoiced").fill_null(0), pl.lit(0)))
    keys = ["campaign", "activity", "gl_account"]
    parts = [t.filter(pl.col(amount).is_not_null()).select(*keys, pl.col(month).struct.unnest(), col=pl.lit(col),
                                                             cents=pl.col(amount))
             for amount, month, col in (("planned", "planned_m", PLANNED), ("invoiced", "invoiced_m", INVOICED),
                                        ("committed", "committed_m", COMMITTED), ("open", "committed_m", OPEN))]
    acct = days.join(t.select("source", "key", *keys), on=["source", "key"], how="left").with_columns(
        y=pl.col("day").dt.year().cast(pl.Int32), m=pl.col("day").dt.month().cast(pl.Int32))
    labour = _labour_cents(acct, [*keys, "y", "m"])
    parts.append(labour.select(*keys, "y", "m", col=pl.lit(LABOUR), cents="cents"))
    schema = {"col": pl.Int32, "cents": pl.Int64}
    return pl.concat([p.cast(schema) for p in parts]).group_by(*keys, "y", "m", "col").agg(pl.col("cents").sum())


def _labour_cents(acct: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Labour per account-month in cents: the exact sum of its worklogs' hours × rate, rounded once, whatever the
    order of the worklogs. The float sum is exact enough unless it lies within its own error bound (n·2⁻⁵²·Σ|x|,
    doubled) of a half cent; only those groups are summed again, by math.fsum (correctly rounded)."""
    labour = acct.group_by(group, maintain_order=True).agg(pl.col("cost").sum(), pl.col("n").sum(),
                                                           pl.col("mag").sum())
    scaled = labour["cost"] * 100.0
    slack = labour["n"].cast(pl.Float64) * 2.0 ** -51 * labour["mag"] * 100.0 + 1e-6
    near = (((scaled - scaled.floor() - 0.5).abs() < slack) | (scaled.abs() > 1e9)).fill_null(False)
    fast = cents(labour["cost"])
    if not near.any():
        return labour.with_columns(cents=fast)
    again = labour.filter(near).select(group).join(acct, on=group, how="left", nulls_equal=True).group_by(
        group, maintain_order=True).agg(pl.col("costs").list.drop_nulls().list.explode(keep_nulls=False,
                                                                                       empty_as_null=False))
    exact = again.select(*group, exact=pl.Series([to_cents(math.fsum(c)) for c in again["costs"].to_list()],
                                                  dtype=pl.Int64))
    return labour.with_columns(cents=fast).join(exact, on=group, how="left", nulls_equal=True).with_columns(
        cents=pl.coalesce("exact", "cents")).drop("exact")


def postings(
    tasks: pl.DataFrame, days: pl.DataFrame, lines: Iterable[BudgetLine], cal: LocalCalendar
) -> tuple[Book, list[str]]:
    """Every amount in integer cents per (campaign, activity, G/L account) and calendar month: the ledger's atoms.

    Each task amount, each account's labour in a month, and each month's share of a budget line is rounded to the
    cent once, here; every row and total above is an exact integer sum of these atoms."""
    book: Book = {}
    warnings = _post_budget(book, lines, cal)
    for campaign, activity, gl, y, m, col, amount in task_postings(tasks, days, tz_name(cal.tz)).rows():
        _post(book.setdefault((campaign, activity, gl), {}), (y, m), col, amount)
    return book, warnings


def remaining(v: list[int], labour_in_budget: bool) -> int:
    """Remaining = Budgeted − Invoiced − Open commitments − (Labour if labour counts against the budget)."""
    return v[BUDGETED] - v[INVOICED] - v[OPEN] - (v[LABOUR] if labour_in_budget else 0)


def flag(v: list[int], labour_in_budget: bool) -> str:
    """`over` when Remaining < 0; else `at risk` when Planned > Budgeted; else `ok`."""
    if remaining(v, labour_in_budget) < 0:
        return "over"
    return "at risk" if v[PLANNED] > v[BUDGETED] else "ok"


def ledger_row(labels: list[str | None], v: list[int], labour_in_budget: bool) -> Row:
    """A written row: amounts are exact cents (so money() only changes their type), Used % a 4-place ratio."""
    rem = remaining(v, labour_in_budget)
    used = (v[BUDGETED] - rem) / v[BUDGETED] if v[BUDGETED] else None
    return [
        *labels, money(v[BUDGETED] / 100), money(v[PLANNED] / 100), money(v[COMMITTED] / 100),
        money(v[INVOICED] / 100), money(v[LABOUR] / 100), money(v[OPEN] / 100), money(rem / 100),
        num(used, 4), flag(v, labour_in_budget), None,  # Adjusts: set only on the adjustment rows of a close
    ]


def _add(into: list[int], v: list[int]) -> None:
    into[:] = map(operator.add, into, v)


def ledger(book: Book, cal: LocalCalendar, granularity: Granularity, labour_in_budget: bool = True) -> LedgerResult:
    """Roll the monthly atoms up to `granularity` and write the Budget rollup tab: detail rows sorted by
    (campaign, activity, G/L account, period), each campaign's `Total` row after its rows, the grand `Total` last.
    Rows with no amount at all are left out; totals are integer sums of the rows, so they match to the cent."""
    rows: dict[tuple[Key, str], list[int]] = {}
    labels: dict[YearMonth, str] = {}
    for key, months in book.items():
        for ym, v in months.items():
            period = labels.get(ym)
            if period is None:
                period = labels[ym] = cal.budget_period(ym, granularity)
            cell = rows.get((key, period))
            if cell is None:
                cell = rows[(key, period)] = [0, 0, 0, 0, 0, 0]
            _add(cell, v)
    ordered = sorted(((k, p, v) for (k, p), v in rows.items() if any(v)),
                     key=lambda r: (r[0][0], r[0][1] or "", r[0][2] or "", r[1]))
    table: Table = [list(HEADERS[BUDGET_ROLLUP])]
    campaigns: dict[str, list[int]] = {}
    grand = [0, 0, 0, 0, 0, 0]
    for i, (key, period, v) in enumerate(ordered):
        table.append(ledger_row([key[0], key[1], key[2], period], v, labour_in_budget))
        total = campaigns.setdefault(key[0], [0, 0, 0, 0, 0, 0])
        _add(total, v)
        _add(grand, v)
        if i + 1 == len(ordered) or ordered[i + 1][0][0] != key[0]:
            table.append(ledger_row([key[0], TOTAL, None, None], total, labour_in_budget))
    table.append(ledger_row([TOTAL, None, None, None], grand, labour_in_budget))
    return LedgerResult(table, campaigns, grand, [])


def ledger_table(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    lines: Iterable[BudgetLine],
    cal: LocalCalendar,
    granularity: Granularity,
    rates: Mapping[str, float],
    default_rate: float,
    labour_in_budget: bool = True,
) -> LedgerResult:
    """The whole SPEC §8 ledger from Python tasks, their figures and budget lines (through the frames)."""
    fr = frames_from_tasks(tasks, figures, {})
    days = worklog_days(fr.tasks, fr.worklogs, tz_name(cal.tz), rates, default_rate)
    return ledger_frames(fr.tasks, days, lines, cal, granularity, labour_in_budget)


def ledger_frames(tasks: pl.DataFrame, days: pl.DataFrame, lines: Iterable[BudgetLine], cal: LocalCalendar,
                  granularity: Granularity, labour_in_budget: bool = True) -> LedgerResult:
    """The whole SPEC §8 ledger from the frames (`days`: `capacity.worklog_days`) and budget lines (pure)."""
    book, warnings = postings(tasks, days, lines, cal)
    result = ledger(book, cal, granularity, labour_in_budget)
    return LedgerResult(result.table, result.campaign_totals, result.grand_total, warnings)
