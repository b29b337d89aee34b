"""Capacity (SPEC §7): hand-computed weeks, a worklog on the DST change day, per-person rows only when asked."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from syncer.config import CapacityConfig
from syncer.domain.capacity import capacity_table, worklog_totals
from syncer.domain.periods import LocalCalendar
from syncer.model import Stage, Task, Worklog
from syncer.tables import CAPACITY, HEADERS

CAL = LocalCalendar(ZoneInfo("Europe/Berlin"), 4)
CFG = CapacityConfig(hours_per_week=32, people={"ana@acme.com": 20})
ANA, BEN = "ana@acme.com", "ben@acme.com"


def make(key, category, logs, source="web") -> Task:
    return Task(source=source, key=key, title=key, created_at=datetime(2026, 3, 1, tzinfo=UTC),
                stage=Stage.IN_PROGRESS, status="Doing", created_stage=Stage.IN_PROGRESS, category=category,
                worklogs=[Worklog(who, when, hours) for who, when, hours in logs])


def at(month, day, hour=9, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def scenario():
    return [
        make("MKT-1", "Design", [(ANA, at(3, 30), 10.0), (BEN, at(3, 31), 30.0),
                                 # 2026-03-29 00:30 UTC = 01:30 CET on Sunday 29 March: week 13
                                 (ANA, at(3, 29, 0, 30), 1.0)]),
        make("MKT-2", "Copy", [(BEN, at(4, 2), 10.0),
                               # 2026-03-29 22:30 UTC = 00:30 CEST on Monday 30 March (after the DST change): week 14
                               (BEN, at(3, 29, 22, 30), 2.0)]),
    ]


def rows(table):
    assert table[0] == HEADERS[CAPACITY]
    return {tuple(r[:4]): r[4:] for r in table[1:]}


def test_team_and_category_rows_worked_example():
    got = rows(capacity_table(scenario(), CFG, CAL))
    assert list(got) == [
        ("2026-W13", "web", "All", "All"), ("2026-W13", "web", "All", "Design"),
        ("2026-W14", "web", "All", "All"), ("2026-W14", "web", "All", "Copy"), ("2026-W14", "web", "All", "Design"),
    ]
    # week 14, Design: ana 10 h + ben 30 h = 40 h; capacity ana 20 + ben 32 = 52 h; 40 / 52 = 0.7692
    assert got[("2026-W14", "web", "All", "Design")] == [40.0, 52.0, 0.7692, False]
    # week 14, Copy: ben 10 h + 2 h (the DST-day worklog) = 12 h; capacity ben 32 h; 12 / 32 = 0.375
    assert got[("2026-W14", "web", "All", "Copy")] == [12.0, 32.0, 0.375, False]
    # week 14, whole team: 52 h logged; each person counted once: 20 + 32 = 52 h; 52 / 52 = 1.0, not > 1
    assert got[("2026-W14", "web", "All", "All")] == [52.0, 52.0, 1.0, False]
    # week 13: ana's 1 h on Sunday 29 March; capacity 20 h; 1 / 20 = 0.05
    assert got[("2026-W13", "web", "All", "Design")] == [1.0, 20.0, 0.05, False]


def test_per_person_rows_only_when_configured():
    assert all(k[2] == "All" for k in rows(capacity_table(scenario(), CFG, CAL)))
    cfg = CapacityConfig(hours_per_week=32, people={ANA: 20}, per_person=True)
    got = rows(capacity_table(scenario(), cfg, CAL))
    # ben in week 14: 30 + 10 + 2 = 42 h against 32 h -> 1.3125, overloaded
    assert got[("2026-W14", "web", BEN, "All")] == [42.0, 32.0, 1.3125, True]
    assert got[("2026-W14", "web", BEN, "Copy")] == [12.0, 32.0, 0.375, False]
    assert got[("2026-W14", "web", ANA, "Design")] == [10.0, 20.0, 0.5, False]
    assert got[("2026-W14", "web", "All", "All")] == [52.0, 52.0, 1.0, False]


def test_teams_are_sources_and_uncategorised():
    tasks = [make("A-1", None, [(ANA, at(3, 30), 25.0)], source="content")]
    got = rows(capacity_table(tasks, CFG, CAL))
    # 25 h against ana's 20 h -> 1.25: overloaded
    assert got[("2026-W14", "content", "All", "Uncategorised")] == [25.0, 20.0, 1.25, True]


def test_zero_capacity_person_is_blank_not_zero():
    cfg = CapacityConfig(hours_per_week=32, people={ANA: 0})
    got = rows(capacity_table([make("A-1", "Design", [(ANA, at(3, 30), 3.0)])], cfg, CAL))
    assert got[("2026-W14", "web", "All", "Design")] == [3.0, 0.0, None, None]


def test_worklog_totals_feed_labour_by_month():
    totals = worklog_totals(scenario(), CAL, {ANA: 95}, 80.0)
    # MKT-1: March = ana 10 h x 95 + ben 30 h x 80 + ana 1 h x 95 = 950 + 2400 + 95 = 3445; no April logs
    assert totals.labour[0] == {(2026, 3): 3445.0}
    # MKT-2: ben 10 h on 2 April x 80 = 800 (April); 2 h on 30 March (local) x 80 = 160 (March)
    assert totals.labour[1] == {(2026, 4): 800.0, (2026, 3): 160.0}
    assert totals.logged[("2026-W14", "web", "Copy", BEN)] == 12 * 3_600_000
    assert capacity_table(scenario(), CFG, CAL, totals.logged) == capacity_table(scenario(), CFG, CAL)


def test_utilization_and_overloaded_use_unrounded_hours():
    # 32 h and 15 s against 32 h of capacity: Logged h is written as 32.0, but Utilization > 1 (SPEC §7).
    from syncer.config import CapacityConfig
    from syncer.domain.capacity import _Cell, capacity_row

    cell = _Cell(logged=32 * 3_600_000 + 15_000, people={"ana@acme.com"})
    row = capacity_row("2026-W10", "web", "All", "All", cell, CapacityConfig(hours_per_week=32))
    assert row[4] == 32.0 and row[5] == 32.0
    assert row[7] is True  # Overloaded
