"""The budget ledger (SPEC §8): encumbrance accounting per campaign, activity, G/L account and budget period."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from syncer.domain.budget import BudgetLine
from syncer.domain.capacity import worklog_totals
from syncer.domain.figures import TaskFigures
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


def postings(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    lines: Iterable[BudgetLine],
    cal: LocalCalendar,
    rates: Mapping[str, float],
    default_rate: float,
    labour: Sequence[Mapping[YearMonth, float]] | None = None,
) -> tuple[Book, list[str]]:
    """Every amount in integer cents per (campaign, activity, G/L account) and calendar month: the ledger's atoms.

    Each task amount, each account's labour in a month, and each month's share of a budget line is rounded to the
    cent once, here; every row and total above is an exact integer sum of these atoms. `labour`: per task (same
    order) Σ hours × rate per month, from `capacity.worklog_totals`; computed here when not given."""
    tasks = list(tasks)
    if labour is None:
        labour = worklog_totals(tasks, cal, rates, default_rate).labour
    book: Book = {}
    warnings = _post_budget(book, lines, cal)
    _post_tasks(book, tasks, figures, labour, cal)
    return book, warnings


def _post(months: dict[YearMonth, list[int]], ym: YearMonth, col: int, cents: int) -> None:
    cell = months.get(ym)
    if cell is None:
        cell = months[ym] = [0, 0, 0, 0, 0, 0]
    cell[col] += cents


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


def _post_tasks(book: Book, tasks: list[Task], figures: Mapping[tuple[str, str], TaskFigures],
                labour: Sequence[Mapping[YearMonth, float]], cal: LocalCalendar) -> None:
    """Each task's planned, invoiced, committed and open amounts in cents, and labour once per account-month."""
    def month_of(d: date) -> YearMonth:
        return (d.year, d.month)

    def day(when: datetime | None) -> date | None:
        return None if when is None else cal.labels(when).day

    accounts: dict[tuple[str | None, str | None, str | None], Key] = {}
    labour_sum: dict[tuple[Key, YearMonth], float] = {}  # unrounded: labour is rounded once per account-month
    for t, by_month in zip(tasks, labour, strict=True):
        raw = (t.campaign, t.activity, t.gl_account)
        key = accounts.get(raw)
        if key is None:
            key = accounts[raw] = task_key(t)
        acct = book.setdefault(key, {})
        if t.planned_cost is not None:
            _post(acct, month_of(_first(t.due_date, day(t.created_at))), PLANNED, to_cents(t.planned_cost))
        invoiced = 0
        seen = t.amount_first_seen
        if t.invoiced_amount is not None:
            invoiced = to_cents(t.invoiced_amount)
            completed = figures[(t.source, t.key)].completed_at
            when = _first(t.invoice_date, day(seen.get("invoiced_amount")), day(completed), day(t.created_at))
            _post(acct, month_of(when), INVOICED, invoiced)
        if t.committed_amount is not None:
            committed = to_cents(t.committed_amount)
            ym = month_of(_first(t.po_date, day(seen.get("committed_amount")), day(t.created_at)))
            _post(acct, ym, COMMITTED, committed)
            _post(acct, ym, OPEN, max(committed - invoiced, 0))
        for ym, cost in by_month.items():
            labour_sum[(key, ym)] = labour_sum.get((key, ym), 0.0) + cost
    for (key, ym), cost in labour_sum.items():
        _post(book[key], ym, LABOUR, to_cents(cost))


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
    labour: Sequence[Mapping[YearMonth, float]] | None = None,
) -> LedgerResult:
    """The whole SPEC §8 ledger from tasks and budget lines (pure)."""
    book, warnings = postings(tasks, figures, lines, cal, rates, default_rate, labour)
    result = ledger(book, cal, granularity, labour_in_budget)
    return LedgerResult(result.table, result.campaign_totals, result.grand_total, warnings)
