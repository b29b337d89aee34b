"""The columnar contract: the canonical model (SPEC §4) and its §5 figures as polars frames.

Every tab computed with polars reads these frames. Column names and dtypes are the contract: a producer may add
columns, never rename or retype one. Times are UTC (`Datetime("us", "UTC")`); local dates and periods are derived
in the configured zone by the consumer. Amounts are in the configured currency (not yet rounded: the ledger
rounds once per atom, SPEC §8).

- `tasks`: one row per task: the canonical fields, its §5 figures and `intake_ok` (breaks no intake rule now).
- `changes`: one row per stage change (`history`), in time order per task.
- `worklogs`: one row per worklog.
- `flags`: one row per spell of Jira's `Flagged` impediment (`end` null while still flagged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from syncer.domain.figures import TaskFigures
from syncer.model import Task

UTC_TIME = pl.Datetime("us", "UTC")
KEY = {"source": pl.String, "key": pl.String}

TASK_FIELDS: dict[str, pl.DataType] = {
    **KEY,
    "url": pl.String, "title": pl.String, "type": pl.String, "status": pl.String,
    "stage": pl.String, "created_stage": pl.String,  # Stage values: intake, backlog, in_progress, ...
    "owner": pl.String, "requester": pl.String, "campaign": pl.String, "activity": pl.String,
    "gl_account": pl.String, "category": pl.String,
    "created_at": UTC_TIME, "due_date": pl.Date,
    "estimate_hours": pl.Float64, "planned_cost": pl.Float64, "committed_amount": pl.Float64,
    "po_date": pl.Date, "invoiced_amount": pl.Float64, "invoice_date": pl.Date,
    "brief": pl.String, "labels": pl.List(pl.String), "parent": pl.String, "depends_on": pl.List(pl.String),
}
FIGURE_FIELDS: dict[str, pl.DataType] = {
    "started_at": UTC_TIME, "completed_at": UTC_TIME,
    "cycle_days": pl.Float64, "lead_days": pl.Float64, "review_days": pl.Float64, "blocked_days": pl.Float64,
    "review_rounds": pl.Int32, "entered_review": pl.Boolean, "reworked": pl.Boolean, "late": pl.Boolean,
    "logged_hours": pl.Float64, "labour_cost": pl.Float64,
    "intake_ok": pl.Boolean,
}
TASKS_SCHEMA = pl.Schema({**TASK_FIELDS, **FIGURE_FIELDS})
CHANGES_SCHEMA = pl.Schema({
    **KEY, "at": UTC_TIME, "from_stage": pl.String, "to_stage": pl.String,
    "from_status": pl.String, "to_status": pl.String,
})
WORKLOGS_SCHEMA = pl.Schema({**KEY, "author": pl.String, "started_at": UTC_TIME, "hours": pl.Float64})
FLAGS_SCHEMA = pl.Schema({**KEY, "start": UTC_TIME, "end": UTC_TIME})


@dataclass(frozen=True, slots=True)
class Frames:
    """The four frames of one sync (see the module docstring)."""

    tasks: pl.DataFrame
    changes: pl.DataFrame
    worklogs: pl.DataFrame
    flags: pl.DataFrame


def _task_record(t: Task, f: TaskFigures, ok: bool) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(t, name) for name in TASK_FIELDS}
    row["stage"], row["created_stage"] = t.stage.value, t.created_stage.value
    row["labels"], row["depends_on"] = list(t.labels), list(t.depends_on)
    row.update({name: getattr(f, name) for name in FIGURE_FIELDS if name != "intake_ok"})
    row["intake_ok"] = ok
    return row


def frames_from_tasks(
    tasks: Iterable[Task], figures: Mapping[tuple[str, str], TaskFigures], intake_ok: Mapping[tuple[str, str], bool]
) -> Frames:
    """The frames of Python `Task` objects and their figures (the bridge until sources decode into columns)."""
    tasks = list(tasks)
    records = [_task_record(t, figures[(t.source, t.key)], intake_ok.get((t.source, t.key), True)) for t in tasks]
    changes = [
        (t.source, t.key, c.at, c.from_stage.value, c.to_stage.value, c.from_status, c.to_status)
        for t in tasks for c in t.history
    ]
    worklogs = [(t.source, t.key, w.author, w.started_at, w.hours) for t in tasks for w in t.worklogs]
    flags = [(t.source, t.key, s.start, s.end) for t in tasks for s in t.flagged]
    return Frames(
        tasks=pl.DataFrame(records, schema=TASKS_SCHEMA),
        changes=pl.DataFrame(changes, schema=CHANGES_SCHEMA, orient="row"),
        worklogs=pl.DataFrame(worklogs, schema=WORKLOGS_SCHEMA, orient="row"),
        flags=pl.DataFrame(flags, schema=FLAGS_SCHEMA, orient="row"),
    )
