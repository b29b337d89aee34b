"""The budget ledger (SPEC §8): encumbrance accounting per campaign, activity, G/L account and budget period."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from reference.capacity import worklog_totals
from reference.figures import TaskFigures
from syncer.domain.budget import BudgetLine
from syncer.domain.ledger import (
    COMMITTED,
    INVOICED,
    LABOUR,
    OPEN,
    PLANNED,
    Book,
    Key,
    LedgerResult,
    _first,
    _post,
    _post_budget,
    ledger,
    task_key,
)
from syncer.domain.periods import Granularity, LocalCalendar, YearMonth
from syncer.model import Task
from syncer.tables import to_cents


def postings(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    lines: Iterable[BudgetLine],
    cal: LocalCalendar,
    rates: Mapping[str, float],
    default_rate: float,
    labour: Sequence[Mapping[YearMonth, list[float]]] | None = None,
) -> tuple[Book, list[str]]:
    """Every amount in integer cents per (campaign, activity, G/L account) and calendar month: the ledger's atoms.

    Each task amount, each account's labour in a month, and each month's share of a budget line is rounded to the
    cent once, here; every row and total above is an exact integer sum of these atoms. `labour`: per task (same
    order) each worklog's hours × rate per month, from `capacity.worklog_totals`; computed here when not given."""
    tasks = list(tasks)
    if labour is None:
        labour = worklog_totals(tasks, cal, rates, default_rate).labour
    book: Book = {}
    warnings = _post_budget(book, lines, cal)  # budget lines are posted as before: the core kept that code
    post = _post

    def month_of(d: date) -> YearMonth:
        return (d.year, d.month)

    def day(when: datetime | None) -> date | None:
        return None if when is None else cal.labels(when).day

    accounts: dict[tuple[str | None, str | None, str | None], Key] = {}
    labour_sum: dict[tuple[Key, YearMonth], list[float]] = {}  # unrounded: labour is rounded once per account-month
    for t, by_month in zip(tasks, labour, strict=True):
        raw = (t.campaign, t.activity, t.gl_account)
        key = accounts.get(raw)
        if key is None:
            key = accounts[raw] = task_key(t)
        acct = book.setdefault(key, {})
        if t.planned_cost is not None:
            post(acct, month_of(_first(t.due_date, day(t.created_at))), PLANNED, to_cents(t.planned_cost))
        invoiced = 0
        seen = t.amount_first_seen
        if t.invoiced_amount is not None:
            invoiced = to_cents(t.invoiced_amount)
            completed = figures[(t.source, t.key)].completed_at
            when = _first(t.invoice_date, day(seen.get("invoiced_amount")), day(completed), day(t.created_at))
            post(acct, month_of(when), INVOICED, invoiced)
        if t.committed_amount is not None:
            committed = to_cents(t.committed_amount)
            ym = month_of(_first(t.po_date, day(seen.get("committed_amount")), day(t.created_at)))
            post(acct, ym, COMMITTED, committed)
            post(acct, ym, OPEN, max(committed - invoiced, 0))
        for ym, costs in by_month.items():
            labour_sum.setdefault((key, ym), []).extend(costs)
    for (key, ym), costs in labour_sum.items():
        post(book[key], ym, LABOUR, to_cents(math.fsum(costs)))  # the exact sum, rounded once
    return book, warnings


def ledger_table(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    lines: Iterable[BudgetLine],
    cal: LocalCalendar,
    granularity: Granularity,
    rates: Mapping[str, float],
    default_rate: float,
    labour_in_budget: bool = True,
    labour: Sequence[Mapping[YearMonth, list[float]]] | None = None,
) -> LedgerResult:
    """The whole SPEC §8 ledger from tasks and budget lines (pure)."""
    book, warnings = postings(tasks, figures, lines, cal, rates, default_rate, labour)
    result = ledger(book, cal, granularity, labour_in_budget)
    return LedgerResult(result.table, result.campaign_totals, result.grand_total, warnings)
