"""Period close (SPEC §11): frozen Budget rollup rows, and the adjustment rows that keep later changes visible.

Pure functions of rows: the live Budget rollup (whatever computes it) and the Closed periods tab's records in,
the Budget rollup as finance sees it out. Amounts are handled in integer cents, so every Total is an exact sum.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from syncer.domain.periods import Granularity, next_period, period_end, period_kind
from syncer.errors import RefusedError
from syncer.tables import BUDGET_ROLLUP, CLOSED_PERIODS, HEADERS, Cell, Row, Table, money, num, to_cents

TOTAL = "Total"
CLOSE, REOPEN = "close", "reopen"
AMOUNT_COLUMNS = ("Budgeted", "Planned", "Committed", "Invoiced", "Labour", "Open commitments", "Remaining")
B, P, _C, _I, _L, _O, R = range(7)
Account = tuple[str, str | None, str | None]  # (campaign, activity, G/L account)
Amounts = tuple[int, ...]  # integer cents, in AMOUNT_COLUMNS order
ZERO: Amounts = (0,) * len(AMOUNT_COLUMNS)
_ADJUSTS = re.compile(r"^adjusts (\S+)$")  # the Reason of a frozen adjustment row


@dataclass(frozen=True, slots=True)
class FrozenRow:
    """One Budget rollup row of a closed period as it was frozen; `adjusts` is set on a frozen adjustment row."""

    account: Account
    amounts: Amounts
    adjusts: str | None = None


@dataclass(frozen=True, slots=True)
class CloseRecord:
    """One `close` or `reopen` of a period, as the Closed periods tab records it (`at` is ISO text)."""

    period: str
    action: Literal["close", "reopen"]
    at: str
    by: str
    reason: str | None = None
    rows: tuple[FrozenRow, ...] = ()


def _add(a: Amounts, b: Amounts) -> Amounts:
    return tuple(map(operator.add, a, b))


def _sub(a: Amounts, b: Amounts) -> Amounts:
    return tuple(map(operator.sub, a, b))


def closed_now(records: Iterable[CloseRecord]) -> dict[str, CloseRecord]:
    """The periods closed now: each period's latest record, when it is a close."""
    latest: dict[str, CloseRecord] = {}
    for rec in records:
        latest[rec.period] = rec
    return {p: rec for p, rec in latest.items() if rec.action == CLOSE}


# ---- the Budget rollup with closes ----------------------------------------------------------------------------

def _labels(row: Sequence[Cell]) -> tuple[Account, str | None, str | None]:
    adjusts = row[13] if len(row) > 13 else None
    return (str(row[0]), _text(row[1]), _text(row[2])), _text(row[3]), _text(adjusts)


def _text(v: Cell) -> str | None:
    return None if v is None or v == "" else str(v)


def row_amounts(row: Sequence[Cell]) -> Amounts:
    """A Budget rollup row's amounts (Budgeted .. Remaining) in integer cents."""
    return tuple(to_cents(float(v or 0)) for v in row[4:11])


def amount_cells(amounts: Amounts, adjustment: bool = False) -> Row:
    """Budgeted .. Remaining, Used % and Flag (SPEC §8) of a row's amounts; an adjustment row, being a difference,
    has no Used % or Flag of its own."""
    cells: Row = [c / 100 for c in amounts]  # whole cents: the float is already what money() would give
    if adjustment:
        return [*cells, None, None]
    used = (amounts[B] - amounts[R]) / amounts[B] if amounts[B] else None
    flag = "over" if amounts[R] < 0 else "at risk" if amounts[P] > amounts[B] else "ok"
    return [*cells, num(used, 4), flag]


def live_rows(table: Table) -> dict[tuple[Account, str], Row]:
    """The detail rows of a live Budget rollup (Totals left out) by (account, period)."""
    out: dict[tuple[Account, str], Row] = {}
    for row in table[1:]:
        account, period, _ = _labels(row)
        if period is not None:
            out[(account, period)] = row
    return out


@dataclass(frozen=True, slots=True)
class Periods:
    """Period arithmetic for one `budget_period` granularity and fiscal-year start."""

    granularity: Granularity
    fy_start: int

    def following(self, period: str) -> str:
        return next_period(period, self.granularity, self.fy_start)

    def first_open_after(self, period: str, closed: Mapping[str, object]) -> str:
        nxt = self.following(period)
        while nxt in closed:
            nxt = self.following(nxt)
        return nxt


ShownKey = tuple[Account, str, str | None]  # (account, period, the period it adjusts)
Shown = dict[ShownKey, Amounts | Row]  # amounts in cents, or a live row written as it is


def shown_rows(live: Mapping[tuple[Account, str], Row], closed: Mapping[str, CloseRecord], periods: Periods) -> Shown:
    """The rows finance sees: open periods live (their rows as given), closed periods as frozen, and per (account,
    period) whose live amounts differ from what the rollup shows for it, one adjustment row in the first open
    period after it (after the latest closed period holding an earlier adjustment of it, if later)."""
    shown: Shown = {}
    reported: dict[tuple[Account, str], Amounts] = {}  # what the closed periods show for each (account, period)
    holder: dict[tuple[Account, str], str] = {}
    targets: dict[str, str] = {}  # the first open period after a period
    for (account, period), row in live.items():
        if period not in closed:
            shown[(account, period, None)] = row
    for period, rec in closed.items():
        for r in rec.rows:
            shown[(r.account, period, r.adjusts)] = r.amounts
            origin = (r.account, r.adjusts or period)
            reported[origin] = _add(reported.get(origin, ZERO), r.amounts)
            if r.adjusts:
                holder[origin] = max(holder.get(origin, period), period)
    # An open period shows itself live: only what closed periods report, or a closed period's live rows, can differ.
    for key in reported.keys() | {k for k in live if k[1] in closed}:
        account, period = key
        now = row_amounts(live[key]) if key in live and period in closed else ZERO  # open: shown live already
        delta = _sub(now, reported.get(key, ZERO))
        if any(delta):
            after = max(period, holder.get(key, period))
            target = targets.get(after) or targets.setdefault(after, periods.first_open_after(after, closed))
            at = (account, target, period)
            shown[at] = _add(shown.get(at, ZERO), delta)  # type: ignore[arg-type]
    return {k: v for k, v in shown.items() if isinstance(v, list) or any(v)}


def _sort_key(k: ShownKey) -> tuple[str, str, str, str, str]:
    (campaign, activity, gl), period, adjusts = k
    return campaign, activity or "", gl or "", period, adjusts or ""


def rollup_table(shown: Shown, totals: Mapping[str, Row] | None = None) -> Table:
    """The Budget rollup tab from its rows: sorted detail rows, each campaign's `Total` after them, the grand
    `Total` last. `totals`: Total rows to write as given (the live ledger's, which the shown rows sum to)."""
    table: Table = [list(HEADERS[BUDGET_ROLLUP])]
    keys = sorted(shown, key=_sort_key)
    totals = totals or {}
    campaign_sum, grand = ZERO, ZERO
    for i, key in enumerate(keys):
        (campaign, activity, gl), period, adjusts = key
        v = shown[key]
        if isinstance(v, list):  # a live row, as given
            table.append(v)
        else:
            table.append([campaign, activity, gl, period, *amount_cells(v, adjusts is not None), adjusts])
        if campaign not in totals:  # sums needed only where there is no live Total row to write
            campaign_sum = _add(campaign_sum, row_amounts(v) if isinstance(v, list) else v)
        if i + 1 == len(keys) or keys[i + 1][0][0] != campaign:
            table.append(totals.get(campaign) or [campaign, TOTAL, None, None, *amount_cells(campaign_sum), None])
            grand, campaign_sum = _add(grand, campaign_sum), ZERO
    table.append(totals.get(TOTAL) or [TOTAL, None, None, None, *amount_cells(grand), None])
    return table


def total_rows(table: Table) -> dict[str, Row]:
    """The Total rows of a Budget rollup by campaign (`Total` for the grand total)."""
    out = {}
    for row in table[1:]:
        if row[3] is None:
            out[str(row[0]) if row[1] == TOTAL else TOTAL] = row
    return out


def rollup_with_closes(live: Table, records: Iterable[CloseRecord], periods: Periods) -> Table:
    """The Budget rollup as finance sees it, from the live one and the Closed periods records (SPEC §11)."""
    closed = closed_now(records)
    if not closed:
        return live
    rows = live_rows(live)
    shown = shown_rows(rows, closed, periods)
    return rollup_table(shown, total_rows(live))


# ---- the Closed periods tab -----------------------------------------------------------------------------------

def record_rows(rec: CloseRecord) -> Table:
    """The Closed periods rows of one record: a close has one per frozen row (a frozen adjustment row's Reason says
    which period it adjusts), a reopen one row with its reason."""
    if rec.action == REOPEN:
        return [[rec.period, REOPEN, rec.at, rec.by, rec.reason, *[None] * 10]]
    return [[rec.period, CLOSE, rec.at, rec.by, f"adjusts {r.adjusts}" if r.adjusts else rec.reason, *r.account,
             *[money(c / 100) for c in r.amounts]] for r in rec.rows]


def closed_table(records: Iterable[CloseRecord]) -> Table:
    """The whole Closed periods tab, header first, records in the order they happened."""
    return [list(HEADERS[CLOSED_PERIODS]), *(row for rec in records for row in record_rows(rec))]


def _frozen_row(row: Sequence[Cell]) -> FrozenRow:
    if not _text(row[5]):
        raise ValueError("Campaign is empty")
    amounts = []
    for name, v in zip(AMOUNT_COLUMNS, row[8:15], strict=True):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{name} is not a number")
        amounts.append(to_cents(float(v)))
    m = _ADJUSTS.match(_text(row[4]) or "")
    return FrozenRow((str(row[5]), _text(row[6]), _text(row[7])), tuple(amounts), m.group(1) if m else None)


def read_records(table: Table | None, granularity: Granularity) -> tuple[list[CloseRecord], list[str]]:
    """The records of a Closed periods tab as read back (header first), in order; consecutive close rows of one
    (period, time) are one close. A row syncer cannot read is left out with a warning naming it."""
    records: list[CloseRecord] = []
    warnings: list[str] = []
    other_kind: dict[str, int] = {}  # periods of another budget_period (the config changed): row count
    for n, raw in enumerate((table or [])[1:], start=2):
        row = [*raw, *[None] * (15 - len(raw))]
        period, action, at, by = _text(row[0]), _text(row[1]), _text(row[2]), _text(row[3]) or ""
        if period is not None and period_kind(period) not in (granularity, None):
            other_kind[period] = other_kind.get(period, 0) + 1
            continue
        try:
            if period is None or period_kind(period) != granularity:
                raise ValueError(f"Period {period!r} is not a budget period")
            if action not in (CLOSE, REOPEN) or at is None:
                raise ValueError("Action must be close or reopen, with its time in At")
            if action == REOPEN:
                records.append(CloseRecord(period, REOPEN, at, by, _text(row[4])))
                continue
            frozen = _frozen_row(row)
        except ValueError as e:
            warnings.append(f"{CLOSED_PERIODS} tab row {n}: {e}; row ignored")
            continue
        last = records[-1] if records else None
        if last and (last.period, last.action, last.at, last.by) == (period, CLOSE, at, by):
            records[-1] = CloseRecord(period, CLOSE, at, by, last.reason, (*last.rows, frozen))
        else:
            reason = None if frozen.adjusts else _text(row[4])
            records.append(CloseRecord(period, CLOSE, at, by, reason, (frozen,)))
    warnings += [f"{CLOSED_PERIODS} tab: {p} is not a {granularity.replace('_', ' ')} (budget_period: "
                 f"{granularity}), so its {n} row{'s' * (n != 1)} are not applied" for p, n in other_kind.items()]
    return records, warnings


# ---- close and reopen -----------------------------------------------------------------------------------------

def frozen_rows(shown: Table, period: str) -> tuple[FrozenRow, ...]:
    """The rows of `period` in the Budget rollup as shown now (adjustment rows landing in it included)."""
    out = []
    for row in shown[1:]:
        account, p, adjusts = _labels(row)
        if p == period:
            out.append(FrozenRow(account, row_amounts(row), adjusts))
    return tuple(out)


def check_close(period: str, records: Iterable[CloseRecord], shown: Table, today: date,
                periods: Periods) -> str | None:
    """Why `period` cannot be closed now (None: it can): not a period of this config, not ended by `today`
    (local), already closed, or no rows."""
    wrong = _wrong_kind(period, periods)
    if wrong:
        return wrong
    end = period_end(period, periods.fy_start)
    if end > today:
        return f"{period} has not ended yet (its last day is {date.fromordinal(end.toordinal() - 1).isoformat()})"
    closed = closed_now(records).get(period)
    if closed is not None:
        return f"{period} is already closed (by {closed.by or 'someone'} at {closed.at}); reopen it first"
    if not frozen_rows(shown, period):
        return f"{period} has no Budget rollup rows, so there is nothing to close"
    return None


def check_reopen(period: str, records: Iterable[CloseRecord], periods: Periods) -> str | None:
    """Why `period` cannot be reopened (None: it can): it is not a closed period."""
    wrong = _wrong_kind(period, periods)
    if wrong:
        return wrong
    return None if period in closed_now(records) else f"{period} is not closed"


_EXAMPLES = {"month": "a month like 2026-10", "quarter": "a fiscal quarter like FY2027-Q2",
             "fiscal_year": "a fiscal year like FY2027"}


def _wrong_kind(period: str, periods: Periods) -> str | None:
    if period_kind(period) == periods.granularity:
        return None
    return (f"{period!r} is not a budget period here: with budget_period: {periods.granularity} give "
            f"{_EXAMPLES[periods.granularity]}")


@dataclass(frozen=True, slots=True)
class PeriodAction:
    """What `syncer close` or `syncer reopen` asks for."""

    action: Literal["close", "reopen"]
    period: str
    by: str
    reason: str | None = None


def record_for(action: PeriodAction, records: Sequence[CloseRecord], shown: Table, today: date, periods: Periods,
               at: str) -> CloseRecord:
    """The record a close or reopen appends, given the rollup as shown now and the local date `today`; raises
    RefusedError (exit 2) saying why when it must not be done."""
    if action.action == CLOSE:
        problem = check_close(action.period, records, shown, today, periods)
    elif not (action.reason or "").strip():
        problem = "give the reason with --reason (it is kept in the Closed periods tab)"
    else:
        problem = check_reopen(action.period, records, periods)
    if problem:
        raise RefusedError(f"cannot {action.action} {action.period}", problem)
    if action.action == REOPEN:
        return CloseRecord(action.period, REOPEN, at, action.by, (action.reason or "").strip())
    return CloseRecord(action.period, CLOSE, at, action.by, None, frozen_rows(shown, action.period))
