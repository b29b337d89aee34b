"""The budget ledger (SPEC §8) worked by hand: partial and excess invoices, spread lines, DST labour, FY boundary."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from syncer.domain.budget import BudgetLine
from syncer.domain.figures import task_figures
from syncer.domain.ledger import ledger_table, to_cents
from syncer.domain.periods import LocalCalendar
from syncer.model import Stage, StageChange, Task, Worklog
from syncer.tables import BUDGET_ROLLUP, HEADERS

BERLIN = ZoneInfo("Europe/Berlin")
CAL = LocalCalendar(BERLIN, 4)  # fiscal year from April: FY2027 = 2026-04 .. 2027-03
NOW = datetime(2026, 9, 15, tzinfo=UTC)
ANA, BEN = "ana@acme.com", "ben@acme.com"
RATES = {ANA: 95.0}  # everyone else: the default 80
BUDGET = [
    BudgetLine("Spring", "Media", "6200", "FY2027-Q1", 30000.0),  # 10,000.00 in each of Apr, May, Jun 2026
    BudgetLine("Spring", "Creative", "6100", "FY2027-Q1", 1000.0),  # 333.33 / 333.34 / 333.33
    BudgetLine("Brand", None, "6300", "FY2027", 12000.0),  # 1,000.00 in each month Apr 2026 .. Mar 2027
]


def make(key, created=datetime(2026, 4, 1, 8, tzinfo=UTC), **kw) -> Task:
    kw.setdefault("stage", Stage.IN_PROGRESS)
    return Task(source="web", key=key, title=key, created_at=created, status="Doing",
                created_stage=Stage.IN_PROGRESS, **kw)


def scenario() -> list[Task]:
    return [
        # a PO of 5,000 raised 10 April, invoiced 2,000 on 5 May; planned 6,000, due 31 May
        make("PO-1", campaign="Spring", activity="Media", gl_account="6200", committed_amount=5000.0,
             po_date=date(2026, 4, 10), invoiced_amount=2000.0, invoice_date=date(2026, 5, 5),
             planned_cost=6000.0, due_date=date(2026, 5, 31)),
        # an invoice (1,200) larger than its PO (1,000), both in June
        make("PO-2", campaign="Spring", activity="Media", gl_account="6200", committed_amount=1000.0,
             po_date=date(2026, 6, 1), invoiced_amount=1200.0, invoice_date=date(2026, 6, 20)),
        # labour: ana 2 h at 2026-03-29 22:30 UTC = 30 March 00:30 CEST (DST began 29 March) -> March 2026 = FY2026;
        # ben 3 h at 2026-03-31 22:30 UTC = 1 April 00:30 CEST -> April 2026 = FY2027
        make("LAB-1", created=datetime(2026, 3, 20, tzinfo=UTC), campaign="Spring", activity="Creative",
             gl_account="6100", worklogs=[Worklog(ANA, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), 2.0),
                                          Worklog(BEN, datetime(2026, 3, 31, 22, 30, tzinfo=UTC), 3.0)]),
        # no campaign: booked to Unallocated, dated by creation (no due date)
        make("U-1", created=datetime(2026, 4, 15, 10, tzinfo=UTC), planned_cost=500.0),
    ]


def build(tasks=None, granularity="month", labour_in_budget=True, budget=BUDGET):
    tasks = scenario() if tasks is None else tasks
    figs = {(t.source, t.key): task_figures(t, NOW, BERLIN, RATES, 80.0) for t in tasks}
    return ledger_table(tasks, figs, budget, CAL, granularity, RATES, 80.0, labour_in_budget)


def rows(result):
    assert result.table[0] == HEADERS[BUDGET_ROLLUP]
    assert all(r[13] is None for r in result.table[1:])  # Adjusts: the live ledger has no adjustment row
    return {tuple(r[:4]): r[4:13] for r in result.table[1:]}


#         Budgeted  Planned Committed Invoiced Labour  Open   Remaining  Used %   Flag
def test_monthly_ledger_worked_example():
    got = rows(build())
    # PO partly invoiced: April: committed 5,000, open max(5,000 - 2,000, 0) = 3,000 (dated as the PO);
    # Remaining = 10,000 - 0 - 3,000 = 7,000; Used % = (10,000 - 7,000) / 10,000 = 0.3
    assert got[("Spring", "Media", "6200", "2026-04")] == [10000.0, 0.0, 5000.0, 0.0, 0.0, 3000.0, 7000.0, 0.3, "ok"]
    # May: invoiced 2,000 and planned 6,000 (due 31 May): Remaining = 10,000 - 2,000 = 8,000
    assert got[("Spring", "Media", "6200", "2026-05")] == [10000.0, 6000.0, 0.0, 2000.0, 0.0, 0.0, 8000.0, 0.2, "ok"]
    # invoice above its PO: open max(1,000 - 1,200, 0) = 0; Remaining = 10,000 - 1,200 - 0 = 8,800
    assert got[("Spring", "Media", "6200", "2026-06")] == [10000.0, 0.0, 1000.0, 1200.0, 0.0, 0.0, 8800.0, 0.12, "ok"]
    # labour in March (FY2026): 2 h x 95 = 190 with no budget -> Remaining -190, Used % blank, over
    assert got[("Spring", "Creative", "6100", "2026-03")] == [0.0, 0.0, 0.0, 0.0, 190.0, 0.0, -190.0, None, "over"]
    # April: quarter line share 333.33; labour 3 h x 80 = 240; Remaining 93.33; Used % 240 / 333.33 = 0.72
    assert got[("Spring", "Creative", "6100", "2026-04")] == [333.33, 0.0, 0.0, 0.0, 240.0, 0.0, 93.33, 0.72, "ok"]
    assert got[("Spring", "Creative", "6100", "2026-05")][0] == 333.34
    assert got[("Spring", "Creative", "6100", "2026-06")][0] == 333.33
    # no campaign -> Unallocated; planned 500 > budgeted 0 -> at risk
    assert got[("Unallocated", None, None, "2026-04")] == [0.0, 500.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, "at risk"]
    # year line: 12 months of 1,000.00
    assert [k[3] for k in got if k[0] == "Brand" and k[1] is None] == [f"2026-{m:02d}" for m in range(4, 13)] + [
        "2027-01", "2027-02", "2027-03"]


def test_totals_worked_example():
    result = build()
    got = rows(result)
    # Spring: B 30,000 + 1,000; P 6,000; C 5,000 + 1,000; I 2,000 + 1,200; L 190 + 240; O 3,000
    # Remaining = 31,000 - 3,200 - 3,000 - 430 = 24,370; Used % = 6,630 / 31,000 = 0.2139
    assert got[("Spring", "Total", None, None)] == [31000.0, 6000.0, 6000.0, 3200.0, 430.0, 3000.0, 24370.0, 0.2139,
                                                    "ok"]
    assert got[("Brand", "Total", None, None)] == [12000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12000.0, 0.0, "ok"]
    assert got[("Unallocated", "Total", None, None)] == [0.0, 500.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, "at risk"]
    # grand total: 24,370 + 12,000 + 0 = 36,370; Used % = 6,630 / 43,000 = 0.1542
    assert result.table[-1] == ["Total", None, None, None, 43000.0, 6500.0, 6000.0, 3200.0, 430.0, 3000.0, 36370.0,
                                0.1542, "ok", None]
    # layout: each campaign's rows, then its Total; campaigns in order; the grand Total last
    firsts = [(r[0], r[1]) for r in result.table[1:]]
    assert firsts.index(("Brand", "Total")) == 12 and firsts[13][0] == "Spring"
    assert firsts[-3:] == [("Unallocated", None), ("Unallocated", "Total"), ("Total", None)]


def test_quarter_and_fiscal_year_granularity():
    q = rows(build(granularity="quarter"))
    # labour across the April boundary lands in two fiscal quarters of two fiscal years
    assert q[("Spring", "Creative", "6100", "FY2026-Q4")] == [0.0, 0.0, 0.0, 0.0, 190.0, 0.0, -190.0, None, "over"]
    # the quarter line comes back whole: 333.33 + 333.34 + 333.33 = 1,000; Remaining 1,000 - 240 = 760
    assert q[("Spring", "Creative", "6100", "FY2027-Q1")] == [1000.0, 0.0, 0.0, 0.0, 240.0, 0.0, 760.0, 0.24, "ok"]
    # Remaining = 30,000 - 3,200 - 3,000 = 23,800; Used % = 6,200 / 30,000 = 0.2067
    assert q[("Spring", "Media", "6200", "FY2027-Q1")] == [30000.0, 6000.0, 6000.0, 3200.0, 0.0, 3000.0, 23800.0,
                                                         0.2067, "ok"]
    assert [q[("Brand", None, "6300", f"FY2027-Q{i}")][0] for i in range(1, 5)] == [3000.0] * 4
    y = rows(build(granularity="fiscal_year"))
    assert y[("Spring", "Creative", "6100", "FY2026")][4] == 190.0
    assert y[("Spring", "Creative", "6100", "FY2027")][:7] == [1000.0, 0.0, 0.0, 0.0, 240.0, 0.0, 760.0]
    assert y[("Brand", None, "6300", "FY2027")][0] == 12000.0


def test_labour_outside_the_budget():
    got = rows(build(labour_in_budget=False))
    # Remaining ignores Labour: 0 - 0 - 0 = 0; still shown in the Labour column
    assert got[("Spring", "Creative", "6100", "2026-03")] == [0.0, 0.0, 0.0, 0.0, 190.0, 0.0, 0.0, None, "ok"]


def test_dating_fallbacks():
    done_at = datetime(2026, 8, 31, 22, 30, tzinfo=UTC)  # 1 September 00:30 in Berlin
    history = [StageChange(done_at, Stage.IN_PROGRESS, Stage.DONE, "Doing", "Done")]
    tasks = [
        # invoice without a date: when the amount first appeared (2 July in Berlin)
        make("A", campaign="C", invoiced_amount=10.0,
             amount_first_seen={"invoiced_amount": datetime(2026, 7, 1, 23, 30, tzinfo=UTC)}),
        # ... else when the task was completed (September, local)
        make("B", campaign="C", invoiced_amount=20.0, stage=Stage.DONE, history=history),
        # ... else when it was created (April); PO without a date: first seen, else created
        make("C", campaign="C", invoiced_amount=40.0, committed_amount=100.0,
             amount_first_seen={"committed_amount": datetime(2026, 5, 3, tzinfo=UTC)}),
        make("D", campaign="C", committed_amount=200.0),
        # planned without a due date: created (local day: 2026-04-30 22:30 UTC is 1 May in Berlin)
        make("E", created=datetime(2026, 4, 30, 22, 30, tzinfo=UTC), campaign="C", planned_cost=5.0),
    ]
    got = rows(build(tasks, budget=[]))
    assert got[("C", None, None, "2026-07")][3] == 10.0
    assert got[("C", None, None, "2026-09")][3] == 20.0
    assert got[("C", None, None, "2026-04")][2:6] == [200.0, 40.0, 0.0, 200.0]  # D's PO; C's invoice
    assert got[("C", None, None, "2026-05")][1:6] == [5.0, 100.0, 0.0, 0.0, 60.0]  # E planned; C: 100 - 40 open


def test_rows_without_any_amount_are_left_out():
    tasks = [make("Z", campaign="C", worklogs=[Worklog(BEN, datetime(2026, 4, 2, tzinfo=UTC), 1.0)])]
    figs = {("web", "Z"): task_figures(tasks[0], NOW, BERLIN)}
    result = ledger_table(tasks, figs, [], CAL, "month", {}, 0.0)  # rate 0: labour 0
    assert result.table[1:] == [["Total", None, None, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, "ok", None]]


@pytest.mark.parametrize(("amount", "cents"), [
    (1.005, 101), (2.675, 268), (0.125, 13), (1200.5, 120050), (-1.005, -101), (0.1 + 0.2, 30), (1 / 3, 33),
    (1e13 + 0.005, 1000000000000001),
])
def test_to_cents_rounds_half_away_from_zero_as_written(amount, cents):
    assert to_cents(amount) == cents


def test_labour_is_rounded_once_per_account_and_month_not_per_task():
    # 100 tasks, one 1-minute worklog each at 80/h: 100 x 80/60 = 133.333 -> 133.33 (per task: 1.33 x 100 = 133.00)
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from syncer.domain.figures import task_figures
    from syncer.domain.ledger import ledger_table
    from syncer.domain.periods import LocalCalendar
    from syncer.model import Stage, Task, Worklog

    when = datetime(2026, 5, 4, 9, tzinfo=UTC)
    tasks = [Task(source="web", key=f"T-{i}", title="t", created_at=when, stage=Stage.BACKLOG, status="To Do",
                  created_stage=Stage.BACKLOG, campaign="Spring", worklogs=[Worklog("ana", when, 1 / 60)])
             for i in range(100)]
    figs = {(t.source, t.key): task_figures(t, when, UTC) for t in tasks}
    result = ledger_table(tasks, figs, [], LocalCalendar(ZoneInfo("Europe/Berlin"), 4), "month", {}, 80.0)
    grand = result.table[-1]
    assert grand[0] == "Total" and grand[8] == 133.33


def test_labour_is_the_exact_sum_rounded_once_whatever_the_order_of_the_worklogs():
    # Three 20-minute worklogs at 0.03 and 0.015 an hour and 42 minutes at 92.50: exactly 64.7775 ->
    # 64.78. A float sum in worklog order lands on 64.77 in some orders (0.01 + 0.005 + 0.01 + 64.75 in binary).
    import itertools

    when = datetime(2026, 5, 4, 9, tzinfo=UTC)
    logs = [Worklog("a", when, 1 / 3), Worklog("b", when, 1 / 3), Worklog("a", when, 1 / 3), Worklog("c", when, 0.7)]
    rates = {"a": 0.03, "b": 0.015, "c": 92.5}
    seen = set()
    for order in itertools.permutations(logs):
        task = make("L-1", created=when, campaign="Spring", worklogs=list(order))
        figs = {(task.source, task.key): task_figures(task, when, UTC, rates, 0.0)}
        seen.add(ledger_table([task], figs, [], CAL, "month", rates, 0.0).table[-1][8])
    assert seen == {64.78}
