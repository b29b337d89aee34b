"""The record frames of many tasks: every record keyed by its own task, in task then record order."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from syncer.domain.frames import CHANGES_SCHEMA, FLAGS_SCHEMA, WORKLOGS_SCHEMA, model_frames
from syncer.model import Spell, Stage, StageChange, Task, Worklog

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def task(key, n_changes, n_logs, n_spells):
    return Task(
        source="web" if key % 2 else "content", key=f"MKT-{key}", title="t", created_at=T0, stage=Stage.DONE,
        status="Done", created_stage=Stage.BACKLOG,
        history=[StageChange(T0 + timedelta(hours=key * 10 + i), Stage.BACKLOG, Stage.IN_PROGRESS, f"s{key}",
                             f"t{i}") for i in range(n_changes)],
        worklogs=[Worklog(f"p{key}", T0 + timedelta(minutes=i), i if i % 2 else i + 0.5) for i in range(n_logs)],
        flagged=[Spell(datetime(2025, 11, 2, 1, 30, tzinfo=NY, fold=i % 2), None if i == n_spells - 1 else
                       datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))) for i in range(n_spells)],
    )


def reference(tasks, attr, schema):
    rows = [(t.source, t.key, *(r.value if hasattr(r, "value") else r for r in rec))
            for t in tasks for rec in getattr(t, attr)]
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_each_record_is_keyed_by_its_own_task_whatever_the_counts():
    tasks = [task(1, 0, 2, 1), task(2, 3, 0, 0), task(3, 0, 0, 0), task(4, 1, 3, 2), task(5, 2, 1, 0)]
    fr = model_frames(tasks)
    for frame, attr, schema in ((fr.changes, "history", CHANGES_SCHEMA), (fr.worklogs, "worklogs", WORKLOGS_SCHEMA),
                                (fr.flags, "flagged", FLAGS_SCHEMA)):
        assert frame.schema == schema
        assert frame.equals(reference(tasks, attr, schema), null_equal=True), attr


def test_no_tasks_and_tasks_without_records_give_empty_frames_in_their_schema():
    for tasks in ([], [task(1, 0, 0, 0), task(2, 0, 0, 0)]):
        fr = model_frames(tasks)
        for frame, schema in ((fr.changes, CHANGES_SCHEMA), (fr.worklogs, WORKLOGS_SCHEMA), (fr.flags, FLAGS_SCHEMA)):
            assert frame.height == 0 and frame.schema == schema
