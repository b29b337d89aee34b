"""The Campaigns tab (SPEC §12), each column computed by hand for small campaigns on 2026-11-20 (a Friday)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from frame_builders import AS_OF, CLOCK, TODAY, at, frames, task, weekly_done

from syncer.domain.campaigns import campaigns_table
from syncer.domain.forecast import forecast_seed, forecast_weeks, nearest_rank, weeks_needed
from syncer.model import Spell, Stage
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, HEADERS

ROLLUP = [
    list(HEADERS[BUDGET_ROLLUP]),
    ["Alpha", "Ads", "6100", "2026-11", 1000.0, 800.0, 500.0, 300.0, 120.5, 200.0, 379.5, 0.6205, "ok"],
    ["Alpha", "Total", None, None, 1000.0, 800.0, 500.0, 300.0, 120.5, 200.0, 379.5, 0.6205, "ok"],
    ["Unallocated", "Total", None, None, 0.0, 750.0, 1200.5, 0.0, 0.0, 1200.5, -1200.5, None, "over"],
    ["Total", None, None, None, 1000.0, 1550.0, 1700.5, 300.0, 120.5, 1400.5, -821.0, 1.821, "over"],
]


def scenario() -> list:
    d = TODAY
    return [
        # Alpha: one completion in each of the 12 weeks, 3 open, due dates after the forecast: on track
        *weekly_done("Alpha", [1] * 12, "A"),
        task("A-o1", "Alpha", Stage.IN_PROGRESS, due=d + timedelta(days=5)),
        task("A-o2", "Alpha", due=date(2027, 1, 15)),
        task("A-o3", "Alpha", due=date(2026, 12, 20)),
        # Beta: overdue work: delayed
        *weekly_done("Beta", [1] + [0] * 11, "B"),
        task("B-o1", "Beta", Stage.IN_PROGRESS, due=d - timedelta(days=10)),
        task("B-o2", "Beta", due=d + timedelta(days=30)),
        # Gamma: nothing completed in 12 weeks (one done long ago), one flagged task: at risk, no forecast
        task("G-old", "Gamma", Stage.DONE, done=date(2026, 6, 1)),
        task("G-o1", "Gamma", Stage.IN_PROGRESS, due=d + timedelta(days=60),
             flagged=[Spell(AS_OF - timedelta(days=2), None)]),
        task("G-o2", "Gamma", Stage.BLOCKED, due=d + timedelta(days=60)),
        # Delta: done (a cancelled task does not count)
        task("D-1", "Delta", Stage.DONE, done=d - timedelta(days=40), due=d - timedelta(days=38)),
        task("D-2", "Delta", Stage.DONE, done=d - timedelta(days=20), due=d - timedelta(days=21)),
        task("D-x", "Delta", Stage.CANCELLED, due=d + timedelta(days=400)),
        # Epsilon: forecast p50 (3 weeks) after its last due date, nothing overdue: delayed
        *weekly_done("Epsilon", [1] * 12, "E"),
        *(task(f"E-o{i}", "Epsilon", due=date(2026, 12, 1)) for i in range(3)),
        # Zeta: 2 done in 9 of the 12 weeks, 2 open: p50 1 week (75% of trials), p85 2 weeks; last due in 10 days
        *weekly_done("Zeta", [2] * 9 + [0] * 3, "Z"),
        task("Z-o1", "Zeta", due=d + timedelta(days=10)),
        task("Z-o2", "Zeta", due=d + timedelta(days=3)),
        # no campaign: Unallocated, shown because the ledger has amounts for it
        task("U-1", None, Stage.IN_PROGRESS, due=d - timedelta(days=1)),
    ]


def rows_by_name(table):
    assert table[0] == HEADERS[CAMPAIGNS]
    return {r[0]: dict(zip(HEADERS[CAMPAIGNS], r, strict=True)) for r in table[1:]}


def test_every_column_by_hand():
    table = campaigns_table(frames(scenario()), CLOCK, ROLLUP, labour_in_budget=True)
    rows = rows_by_name(table)
    assert [r[0] for r in table[1:]] == ["Alpha", "Beta", "Delta", "Epsilon", "Gamma", "Unallocated", "Zeta", "Total"]
    a = rows["Alpha"]
    assert (a["Tasks"], a["Done"], a["Open"], a["Blocked"], a["Overdue"]) == (15, 12, 3, 0, 0)
    assert (a["Due next"], a["Last due"]) == ("2026-11-25", "2027-01-15")
    # every draw is 1 completion: 3 open tasks take exactly 3 weeks in every trial
    assert (a["Forecast p50"], a["Forecast p85"], a["Schedule"]) == ("2026-12-11", "2026-12-11", "on track")
    b = rows["Beta"]
    assert (b["Tasks"], b["Done"], b["Open"], b["Overdue"], b["Due next"], b["Schedule"]) == \
        (3, 1, 2, 1, "2026-12-20", "delayed")
    assert b["Forecast p50"] >= "2026-12-04"  # at most one completion a week: two open need two weeks or more
    g = rows["Gamma"]
    assert (g["Tasks"], g["Done"], g["Open"], g["Blocked"], g["Overdue"]) == (3, 1, 2, 2, 0)
    assert (g["Forecast p50"], g["Forecast p85"], g["Schedule"]) == (None, None, "at risk")
    dl = rows["Delta"]
    assert (dl["Tasks"], dl["Done"], dl["Open"], dl["Due next"], dl["Last due"]) == (2, 2, 0, None, "2026-10-30")
    assert (dl["Forecast p50"], dl["Schedule"]) == (None, "done")
    e = rows["Epsilon"]
    assert (e["Overdue"], e["Forecast p50"], e["Last due"], e["Schedule"]) == (0, "2026-12-11", "2026-12-01", "delayed")
    z = rows["Zeta"]
    assert (z["Forecast p50"], z["Forecast p85"], z["Last due"]) == ("2026-11-27", "2026-12-04", "2026-11-30")
    assert z["Schedule"] == "at risk"
    u = rows["Unallocated"]
    assert (u["Tasks"], u["Open"], u["Overdue"], u["Schedule"]) == (1, 1, 1, "delayed")


def test_budget_columns_are_the_ledger_total_rows_to_the_cent():
    rows = rows_by_name(campaigns_table(frames(scenario()), CLOCK, ROLLUP, labour_in_budget=True))
    budget = ["Budgeted", "Planned", "Spent", "Open commitments", "Remaining", "Used %", "Budget flag"]
    assert [rows["Alpha"][c] for c in budget] == [1000.0, 800.0, 420.5, 200.0, 379.5, 0.6205, "ok"]  # 300 + 120.50
    assert [rows["Unallocated"][c] for c in budget] == [0.0, 750.0, 0.0, 1200.5, -1200.5, None, "over"]
    assert [rows["Total"][c] for c in budget] == [1000.0, 1550.0, 420.5, 1400.5, -821.0, 1.821, "over"]
    assert [rows["Beta"][c] for c in budget] == [None] * 7  # no amounts and no budget line: nothing to show
    without_labour = rows_by_name(campaigns_table(frames(scenario()), CLOCK, ROLLUP, labour_in_budget=False))
    assert without_labour["Alpha"]["Spent"] == 300.0


def test_total_row_sums_the_rows():
    table = campaigns_table(frames(scenario()), CLOCK, ROLLUP, labour_in_budget=True)
    total = dict(zip(HEADERS[CAMPAIGNS], table[-1], strict=True))
    for col in ("Tasks", "Done", "Open", "Blocked", "Overdue"):
        assert total[col] == sum(dict(zip(HEADERS[CAMPAIGNS], r, strict=True))[col] for r in table[1:-1])
    assert (total["Due next"], total["Last due"], total["Schedule"]) == ("2026-11-23", "2027-01-19", None)


def test_a_campaign_only_in_the_budget_has_a_row():
    rollup = [*ROLLUP[:3], ["Omega", "Total", None, None, 500.0, 0.0, 0.0, 0.0, 0.0, 0.0, 500.0, 0.0, "ok"],
              ROLLUP[-1]]
    rows = rows_by_name(campaigns_table(frames([task("A-1", "Alpha")]), CLOCK, rollup, True))
    assert set(rows) == {"Alpha", "Omega", "Total"}
    assert (rows["Omega"]["Tasks"], rows["Omega"]["Schedule"], rows["Omega"]["Budgeted"]) == (0, "done", 500.0)


def test_forecast_is_reproducible_for_the_same_day_and_moves_with_throughput():
    weekly = [0, 1, 2, 0, 3, 1, 0, 0, 2, 1, 1, 0]
    assert forecast_weeks(weekly, 20, "Spring", TODAY) == forecast_weeks(list(weekly), 20, "Spring", TODAY)
    n1 = weeks_needed(weekly, 20, forecast_seed("Spring", TODAY))
    n2 = weeks_needed(weekly, 20, forecast_seed("Spring", TODAY + timedelta(days=1)))
    assert not np.array_equal(n1, n2)  # another day, another seed
    assert forecast_seed("Spring", TODAY) == forecast_seed("Spring", date(2026, 11, 20))  # not Python's hash()
    faster = [w * 3 for w in weekly]
    slow, fast = forecast_weeks(weekly, 20, "Spring", TODAY), forecast_weeks(faster, 20, "Spring", TODAY)
    assert fast[0] < slow[0] and fast[1] < slow[1]
    assert forecast_weeks([0] * 12, 5, "Spring", TODAY) is None and forecast_weeks(weekly, 0, "Spring", TODAY) is None
    # mean throughput 11/12 a week: 20 tasks need about 22 weeks
    assert 18 <= slow[0] <= 26 and slow[0] <= slow[1]


def test_nearest_rank_percentiles():
    values = np.array([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])
    assert (nearest_rank(values, 0.5), nearest_rank(values, 0.85)) == (5, 9)
    assert nearest_rank(np.array([7]), 0.85) == 7


def test_a_done_task_after_the_weeks_counted_does_not_feed_the_forecast():
    # completed this week (W47): not one of the 12 complete weeks, so Alpha has no throughput
    tasks = [task("A-1", "Alpha", Stage.DONE, done=TODAY - timedelta(days=1)), task("A-2", "Alpha", due=TODAY)]
    rows = rows_by_name(campaigns_table(frames(tasks), CLOCK, [list(HEADERS[BUDGET_ROLLUP])], True))
    assert (rows["Alpha"]["Forecast p50"], rows["Alpha"]["Schedule"]) == (None, "at risk")
    assert at(TODAY).date() == TODAY
