"""Flow metrics (SPEC §7): a hand-computed week and month with a reopened task and a task still in review."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncer.domain.figures import task_figures
from syncer.domain.flow import flow_table, p50, p85, wip_spells
from syncer.domain.periods import LocalCalendar
from syncer.model import Stage, StageChange, Task, Worklog
from syncer.tables import FLOW_METRICS, HEADERS

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)  # Friday of ISO week 2026-W08
B, IP, RV, BL, DN = Stage.BACKLOG, Stage.IN_PROGRESS, Stage.REVIEW, Stage.BLOCKED, Stage.DONE


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 2, day, hour, 0, tzinfo=UTC)


def make(key, created, moves=(), created_stage=B, source="web", category="Design", hours=(), **kw) -> Task:
    history, stage = [], created_stage
    for when, to in moves:
        history.append(StageChange(when, stage, to, stage.value, to.value))
        stage = to
    worklogs = [Worklog("ana@acme.com", created + timedelta(hours=1), h) for h in hours]
    return Task(source=source, key=key, title=key, created_at=created, stage=stage, status=stage.value,
                created_stage=created_stage, category=category, history=history, worklogs=worklogs, **kw)


def scenario() -> list[Task]:
    return [
        # T1: in progress 9 Feb, review 10 Feb, done 11 Feb; due 12 Feb -> on time. cycle 2.0 d, review 1.0 d
        make("T1", at(2), [(at(9), IP), (at(10), RV), (at(11), DN)], due_date=date(2026, 2, 12),
             estimate_hours=8.0, hours=(4.0, 6.0)),
        # T2 (reopened): done 6 Feb (week 6), back to in progress 9 Feb, blocked 10-11 Feb, done again 13 Feb.
        # started 3 Feb, completed (LAST entry into done) 13 Feb: cycle 10.0 d, review 1.0 d, blocked 1.0 d,
        # reworked; due 12 Feb -> late
        make("T2", at(2), [(at(3), IP), (at(5), RV), (at(6), DN), (at(9), IP), (at(10), BL), (at(11), IP),
                           (at(13), DN)], due_date=date(2026, 2, 12), estimate_hours=16.0, hours=(20.0,)),
        # T3: still in review at NOW -> WIP at the end of weeks 7 and 8 and of February
        make("T3", at(2), [(at(10), IP), (at(12), RV)]),
        # T4: still in intake, breaks intake rules, due 13 Feb and not done -> a miss for Reliability
        make("T4", at(10), created_stage=Stage.INTAKE, due_date=date(2026, 2, 13)),
        # T5: created in week 7, complete intake
        make("T5", at(11)),
        # T6: another source, no category: in progress 9 Feb 09:00, done 21:00 -> cycle 0.5 d
        make("T6", at(9, 8), [(at(9), IP), (at(9, 21), DN)], source="content", category=None),
    ]


def table(tasks, tz=UTC, now=NOW, ok=None):
    figs = {(t.source, t.key): task_figures(t, now, tz) for t in tasks}
    ok = ok if ok is not None else {(t.source, t.key): t.key != "T4" for t in tasks}
    return flow_table(tasks, figs, ok, LocalCalendar(tz), now)


def rows_by_key(tab):
    assert tab[0] == HEADERS[FLOW_METRICS]
    return {tuple(r[:3]): dict(zip(HEADERS[FLOW_METRICS][3:], r[3:], strict=True)) for r in tab[1:]}


def test_rows_are_the_periods_and_groups_with_activity_sorted():
    tab = table(scenario())
    assert [tuple(r[:3]) for r in tab[1:]] == [
        ("2026-02", "All", "All"), ("2026-02", "content", "Uncategorised"), ("2026-02", "web", "Design"),
        ("2026-W06", "All", "All"), ("2026-W06", "web", "Design"),
        ("2026-W07", "All", "All"), ("2026-W07", "content", "Uncategorised"), ("2026-W07", "web", "Design"),
        ("2026-W08", "All", "All"), ("2026-W08", "web", "Design"),
    ]


def test_week_7_web_design_worked_example():
    r = rows_by_key(table(scenario()))[("2026-W07", "web", "Design")]
    assert r["Throughput"] == 2  # T1 and T2 completed 9-15 Feb
    assert r["WIP"] == 1  # at the end of the week (16 Feb 00:00) only T3 is in progress/review/blocked
    assert r["Cycle p50"] == 6.0  # median(2, 10)
    # quantiles(n=100, inclusive)[84] is cut point i = 85: j, d = divmod(85 * (2 - 1), 100) = (0, 85)
    assert r["Cycle p85"] == 8.8  # (2*(100 - 85) + 10*85) / 100 = (30 + 850) / 100
    assert r["Review p50"] == 1.0  # median(1, 1)
    assert r["Rework rate"] == 0.5  # T2 reworked / 2 completed
    assert r["Blocked share"] == 0.0833  # (0 + 1) / (2 + 10) = 1/12
    assert r["Late rate"] == 0.5  # T2 late / 2 completed with a due date
    assert r["Reliability"] == 0.3333  # due in week 7: T1 on time, T2 late, T4 not done -> 1/3
    assert r["Estimate ratio"] == 1.25  # (10 + 20) h logged / (8 + 16) h estimated
    assert r["Intake complete"] == 0.5  # created in week 7: T4 (breaks rules), T5 (ok) -> 1/2


def test_week_7_all_row_pools_the_tasks():
    r = rows_by_key(table(scenario()))[("2026-W07", "All", "All")]
    assert (r["Throughput"], r["WIP"]) == (3, 1)
    assert r["Cycle p50"] == 2.0  # median(0.5, 2, 10)
    assert r["Cycle p85"] == 7.6  # j, d = divmod(85 * 2, 100) = (1, 70): (2*30 + 10*70) / 100 = 760 / 100
    assert r["Review p50"] == 1.0  # T6 never entered review: not in the list
    assert r["Rework rate"] == 0.3333  # 1 / 3
    assert r["Blocked share"] == 0.08  # 1 / (0.5 + 2 + 10)
    assert r["Late rate"] == 0.5  # T6 has no due date: 1 late / 2 with a due date
    assert r["Reliability"] == 0.3333
    assert r["Estimate ratio"] == 1.25  # T6 has no estimate
    assert r["Intake complete"] == 0.6667  # T4 no, T5 yes, T6 yes -> 2/3


def test_single_value_and_blank_cells():
    r = rows_by_key(table(scenario()))[("2026-W07", "content", "Uncategorised")]
    assert (r["Throughput"], r["WIP"], r["Cycle p50"], r["Cycle p85"]) == (1, 0, 0.5, 0.5)  # p85 of one value
    assert r["Review p50"] is None and r["Late rate"] is None and r["Reliability"] is None
    assert r["Estimate ratio"] is None
    assert (r["Rework rate"], r["Blocked share"], r["Intake complete"]) == (0.0, 0.0, 1.0)


def test_week_6_holds_the_reopened_task_before_it_was_reopened():
    r = rows_by_key(table(scenario()))[("2026-W06", "web", "Design")]
    # T2 was done on 6 Feb but reopened: completed_at is its LAST entry into done (13 Feb), so week 6 has no
    # throughput; at the end of week 6 (9 Feb 00:00) T2 was done, T1 and T3 in backlog: WIP 0
    assert (r["Throughput"], r["WIP"]) == (0, 0)
    assert r["Cycle p50"] is None and r["Rework rate"] is None and r["Reliability"] is None
    assert r["Intake complete"] == 1.0  # T1, T2, T3 created in week 6, all fine


def test_current_week_and_month():
    rows = rows_by_key(table(scenario()))
    w8 = rows[("2026-W08", "web", "Design")]
    assert (w8["Throughput"], w8["WIP"], w8["Intake complete"]) == (0, 1, None)  # T3 still in review
    feb = rows[("2026-02", "web", "Design")]
    assert (feb["Throughput"], feb["WIP"], feb["Cycle p50"], feb["Reliability"]) == (2, 1, 6.0, 0.3333)
    assert feb["Intake complete"] == 0.8  # T1..T5 created in February, T4 breaks rules -> 4/5


def test_open_task_due_later_in_the_period_counts_as_not_yet_on_time():
    # SPEC §7 literally: every (not cancelled) task due in P is in the denominator; T9 is not done -> 0 of 1
    t = make("T9", at(16), due_date=date(2026, 2, 21))
    r = rows_by_key(table([t]))[("2026-W08", "web", "Design")]
    assert r["Reliability"] == 0.0


def test_periods_are_local_days():
    # done 2026-02-15 23:30 UTC = Monday 16 Feb 00:30 in Berlin: week 8 there, week 7 in UTC
    t = make("T1", at(9), [(at(10), IP), (datetime(2026, 2, 15, 23, 30, tzinfo=UTC), DN)])
    assert ("2026-W07", "web", "Design") in rows_by_key(table([t], UTC))
    berlin = rows_by_key(table([t], ZoneInfo("Europe/Berlin")))
    assert berlin[("2026-W08", "web", "Design")]["Throughput"] == 1
    assert berlin[("2026-W07", "web", "Design")]["Throughput"] == 0


def test_cancelled_tasks_are_not_counted_for_reliability_but_were_wip_and_count_for_intake():
    t = make("T1", at(2), [(at(3), IP), (at(12), Stage.CANCELLED)], due_date=date(2026, 2, 5))
    rows = rows_by_key(table([t]))
    assert rows[("2026-W06", "web", "Design")]["WIP"] == 1  # in progress at the end of week 6
    assert rows[("2026-W06", "web", "Design")]["Reliability"] is None
    # created in week 6 and exempt from the field rules: 1 of 1 created tasks breaks no rule
    assert rows[("2026-W06", "web", "Design")]["Intake complete"] == 1.0


def test_wip_spells_merge_consecutive_wip_stages():
    t = scenario()[1]  # T2
    inf = float("inf")
    assert wip_spells(t) == [(at(3).timestamp(), at(6).timestamp()), (at(9).timestamp(), at(13).timestamp())]
    assert wip_spells(scenario()[2]) == [(at(10).timestamp(), inf)]


def test_empty_input():
    assert table([]) == [HEADERS[FLOW_METRICS]]


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=50))
def test_p85_is_statistics_quantiles(xs):
    expected = xs[0] if len(xs) == 1 else statistics.quantiles(xs, n=100, method="inclusive")[84]
    assert p85(xs) == expected
    assert p50(xs) == statistics.median(xs)


@pytest.mark.parametrize("xs", [[], None])
def test_empty_percentiles(xs):
    assert p50(xs or []) is None and p85(xs or []) is None
