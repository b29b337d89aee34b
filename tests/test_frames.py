"""The frames contract: the bridge from Python tasks keeps every value, with the declared dtypes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from syncer.domain.figures import task_figures
from syncer.domain.frames import CHANGES_SCHEMA, FLAGS_SCHEMA, TASKS_SCHEMA, WORKLOGS_SCHEMA, frames_from_tasks
from syncer.model import Spell, Stage, StageChange, Task, Worklog

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _task() -> Task:
    return Task(
        source="web", key="MKT-1", title="Launch page", created_at=T0, stage=Stage.DONE, status="Done",
        created_stage=Stage.BACKLOG, campaign="Spring", due_date=date(2026, 3, 10), planned_cost=1200.5,
        labels=("a", "b"), depends_on=("MKT-2",),
        history=[
            StageChange(T0 + timedelta(days=1), Stage.BACKLOG, Stage.IN_PROGRESS, "To Do", "In Progress"),
            StageChange(T0 + timedelta(days=2), Stage.IN_PROGRESS, Stage.REVIEW, "In Progress", "In Review"),
            StageChange(T0 + timedelta(days=3), Stage.REVIEW, Stage.IN_PROGRESS, "In Review", "In Progress"),
            StageChange(T0 + timedelta(days=4), Stage.IN_PROGRESS, Stage.REVIEW, "In Progress", "In Review"),
            StageChange(T0 + timedelta(days=5), Stage.REVIEW, Stage.DONE, "In Review", "Done"),
        ],
        worklogs=[Worklog("ana@acme.com", T0 + timedelta(days=1), 2.5)],
        flagged=[Spell(T0 + timedelta(days=1), T0 + timedelta(days=2))],
    )


def test_bridge_keeps_values_and_dtypes():
    t = _task()
    f = task_figures(t, T0 + timedelta(days=9), UTC, {"ana@acme.com": 90.0}, 80.0)
    fr = frames_from_tasks([t], {("web", "MKT-1"): f}, {("web", "MKT-1"): False})
    assert fr.tasks.schema == TASKS_SCHEMA and fr.changes.schema == CHANGES_SCHEMA
    assert fr.worklogs.schema == WORKLOGS_SCHEMA and fr.flags.schema == FLAGS_SCHEMA
    row = fr.tasks.row(0, named=True)
    assert row["stage"] == "done" and row["depends_on"] == ["MKT-2"] and row["labels"] == ["a", "b"]
    assert row["review_rounds"] == 2 and row["reworked"] is True and row["intake_ok"] is False
    assert row["labour_cost"] == 225.0 and row["planned_cost"] == 1200.5
    assert row["completed_at"] == T0 + timedelta(days=5)
    assert fr.changes.height == 5 and fr.changes["to_stage"].to_list()[-1] == "done"
    assert fr.flags.row(0) == ("web", "MKT-1", T0 + timedelta(days=1), T0 + timedelta(days=2))


def test_empty_frames_keep_their_schema():
    fr = frames_from_tasks([], {}, {})
    assert fr.tasks.height == 0 and fr.tasks.schema == TASKS_SCHEMA and fr.flags.schema == FLAGS_SCHEMA


def test_state_round_trip_keeps_dependencies_and_flags():
    from syncer.state import encode, task_from_dict

    t = _task()
    _, data = encode(t)
    import json

    back = task_from_dict(json.loads(data))
    assert back.depends_on == ("MKT-2",) and back.flagged == t.flagged and back == t
