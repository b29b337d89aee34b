"""Per-task figures of SPEC §5, checked against hand-computed values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from syncer.domain.figures import task_figures
from syncer.model import Stage, StageChange, Task, Worklog

UTC = UTC
TZ = timezone(timedelta(hours=2))  # a fixed zone keeps the local-date arithmetic easy to follow
S = Stage


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, tzinfo=UTC)


def task(history, *, created=None, created_stage=S.BACKLOG, due=None, worklogs=()) -> Task:
    created = created or t(1)
    stage = history[-1][2] if history else created_stage
    changes = [StageChange(at, a, b, a.value, b.value) for at, a, b in history]
    return Task(source="web", key="MKT-1", title="x", created_at=created, stage=stage, status=stage.value,
                created_stage=created_stage, due_date=due, history=changes, worklogs=list(worklogs))


def test_reopened_after_done_completes_at_the_last_entry_into_done():
    # created 06-01 00:00 backlog; 06-02 in_progress; 06-04 done; 06-05 12:00 reopened to in_progress;
    # 06-06 review; 06-07 06:00 done.
    tk = task([(t(2), S.BACKLOG, S.IN_PROGRESS), (t(4), S.IN_PROGRESS, S.DONE), (t(5, 12), S.DONE, S.IN_PROGRESS),
               (t(6), S.IN_PROGRESS, S.REVIEW), (t(7, 6), S.REVIEW, S.DONE)], due=date(2026, 6, 7))
    f = task_figures(tk, as_of=t(20), tz=TZ)
    assert f.started_at == t(2)
    assert f.completed_at == t(7, 6)  # the LAST entry into done
    assert f.cycle_days == pytest.approx(5.25)  # 06-07 06:00 - 06-02 00:00 = 5 d 6 h
    assert f.lead_days == pytest.approx(6.25)  # from creation 06-01 00:00
    assert f.review_days == pytest.approx(1.25)  # 06-06 00:00 -> 06-07 06:00
    assert f.blocked_days == 0
    assert f.reworked is True  # done -> in_progress
    assert f.late is False  # completed 06-07 08:00 local, due 06-07


def test_skipped_in_progress_starts_when_entering_review():
    # backlog -> review on 06-03 (in_progress skipped) -> done 06-04 12:00; due 06-03.
    tk = task([(t(3), S.BACKLOG, S.REVIEW), (t(4, 12), S.REVIEW, S.DONE)], due=date(2026, 6, 3))
    f = task_figures(tk, as_of=t(20), tz=TZ)
    assert f.started_at == t(3)
    assert f.cycle_days == pytest.approx(1.5)
    assert f.review_days == pytest.approx(1.5)
    assert f.reworked is False
    assert f.late is True  # completed 06-04 local > due 06-03


def test_blocked_twice_sums_both_spells():
    # in_progress 06-02; blocked 06-03 00:00 .. 06-04 12:00 (1.5 d); in_progress; blocked 06-06 .. 06-06 18:00
    # (0.75 d); done 06-08.
    tk = task([(t(2), S.BACKLOG, S.IN_PROGRESS), (t(3), S.IN_PROGRESS, S.BLOCKED), (t(4, 12), S.BLOCKED, S.IN_PROGRESS),
               (t(6), S.IN_PROGRESS, S.BLOCKED), (t(6, 18), S.BLOCKED, S.IN_PROGRESS), (t(8), S.IN_PROGRESS, S.DONE)])
    f = task_figures(tk, as_of=t(20), tz=TZ)
    assert f.blocked_days == pytest.approx(2.25)
    assert f.cycle_days == pytest.approx(6.0)
    assert f.reworked is False  # blocked -> in_progress is not rework
    assert f.late is False  # no due date


def test_still_in_review_counts_review_up_to_now_and_is_not_completed():
    tk = task([(t(2), S.BACKLOG, S.IN_PROGRESS), (t(5, 6), S.IN_PROGRESS, S.REVIEW)], due=date(2026, 6, 4))
    f = task_figures(tk, as_of=t(7, 18), tz=TZ)
    assert f.completed_at is None and f.cycle_days is None and f.lead_days is None
    assert f.review_days == pytest.approx(2.5)  # 06-05 06:00 -> now 06-07 18:00
    assert f.late is False  # not completed, so not late (yet)
    assert f.entered_review is True


def test_created_straight_into_work_starts_at_creation():
    # created in in_progress 06-01 00:00, done 06-01 12:00: cycle 0.5 d (not 0), started at creation
    tk = task([(t(1, 12), S.IN_PROGRESS, S.DONE)], created_stage=S.IN_PROGRESS)
    f = task_figures(tk, as_of=t(20), tz=TZ)
    assert f.started_at == t(1) and f.cycle_days == pytest.approx(0.5) and f.lead_days == pytest.approx(0.5)


def test_late_uses_the_local_date():
    # Completed 06-03 23:00 UTC = 06-04 01:00 at UTC+2: one day after the 06-03 due date.
    tk = task([(t(2), S.BACKLOG, S.DONE), (t(3, 23), S.DONE, S.DONE)], due=date(2026, 6, 3))
    tk.history[-1] = StageChange(t(3, 23), S.IN_PROGRESS, S.DONE, "a", "b")
    assert task_figures(tk, as_of=t(20), tz=TZ).late is True
    assert task_figures(tk, as_of=t(20), tz=UTC).late is False


def test_logged_hours_and_labour_cost_use_person_rates():
    wl = [Worklog("ana@acme.com", t(2), 3.0), Worklog("José Núñez", t(3), 1.5), Worklog("ana@acme.com", t(4), 0.5)]
    tk = task([], worklogs=wl)
    f = task_figures(tk, as_of=t(20), tz=TZ, rates={"ana@acme.com": 95}, default_rate=80)
    assert f.logged_hours == 5.0
    assert f.labour_cost == pytest.approx(3.5 * 95 + 1.5 * 80)  # 332.5 + 120
    assert f.started_at is None and f.review_days == 0
