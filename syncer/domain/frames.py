"""The columnar contract: the canonical model (SPEC §4) and its §5 figures as polars frames.

Every tab computed with polars reads these frames. Column names and dtypes are the contract: a producer may add
columns, never rename or retype one. Times are UTC (`Datetime("us", "UTC")`); local dates and periods are derived
in the configured zone by the consumer. Amounts are in the configured currency (not yet rounded: the ledger
rounds once per atom, SPEC §8).

- `tasks`: one row per task: the canonical fields, its §5 figures and `intake_ok` (breaks no intake rule now);
  `committed_seen_at` / `invoiced_seen_at`: when the PO / invoice amount first appeared in the task's history
  (dates those amounts when they carry no date of their own, SPEC §8), null if unknown.
- `changes`: one row per stage change (`history`), in time order per task.
- `worklogs`: one row per worklog.
- `flags`: one row per spell of Jira's `Flagged` impediment (`end` null while still flagged).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from syncer.model import Stage, Task


@dataclass(frozen=True, slots=True)
class TaskFigures:
    """The derived per-task numbers written to the Tasks tab and used by every roll-up."""

    started_at: datetime | None
    completed_at: datetime | None
    cycle_days: float | None
    lead_days: float | None
    review_days: float
    blocked_days: float
    reworked: bool
    late: bool
    logged_hours: float
    labour_cost: float
    entered_review: bool
    review_rounds: int = 0  # entries into review (being created in review counts as one)


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
    # Added by the columnar core: when the PO / invoice amount first appeared (SPEC §8 dating), null if unknown.
    "committed_seen_at": UTC_TIME, "invoiced_seen_at": UTC_TIME,
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


_SEEN = {"committed_seen_at": "committed_amount", "invoiced_seen_at": "invoiced_amount"}
_PLAIN = [n for n in TASK_FIELDS if n not in ("stage", "created_stage", "labels", "depends_on", *_SEEN)]
MODEL_SCHEMA = pl.Schema(TASK_FIELDS)
_plain_fields = operator.attrgetter(*_PLAIN)
_stage, _created_stage, _history, _worklogs, _flagged = map(
    operator.attrgetter, ("stage", "created_stage", "history", "worklogs", "flagged"))
_TIMES = [n for n in _PLAIN if TASK_FIELDS[n] == UTC_TIME]  # through Arrow, as the records' times
_STAGE_TEXT = {s: s.value for s in Stage}

# Over a frame with `source` and `key` columns: each row in (source, key) order after the one before it, and each row
# that starts a task (its key differs from the row before's).
IN_TASK_ORDER = ((pl.col("source") > pl.col("source").shift(1)) | (
    (pl.col("source") == pl.col("source").shift(1)) & (pl.col("key") >= pl.col("key").shift(1)))).fill_null(True)
TASK_STARTS = ((pl.col("source") != pl.col("source").shift(1)) | (pl.col("key") != pl.col("key").shift(1))
               ).fill_null(True)


def model_frames(tasks: Iterable[Task]) -> Frames:
    """The model frames (`tasks` without the figure columns) of Python tasks, built column by column."""
    tasks = list(tasks)
    columns = list(zip(*map(_plain_fields, tasks), strict=True)) or [()] * len(_PLAIN)  # transposed in C
    cols: dict[str, Any] = {name: list(values) for name, values in zip(_PLAIN, columns, strict=True)}
    for name in _TIMES:
        cols[name] = _utc_times(cols[name])
    cols["stage"] = list(map(_STAGE_TEXT.__getitem__, map(_stage, tasks)))
    cols["created_stage"] = list(map(_STAGE_TEXT.__getitem__, map(_created_stage, tasks)))
    cols["labels"] = text_lists([t.labels for t in tasks])
    cols["depends_on"] = text_lists([t.depends_on for t in tasks])
    for col, amount in _SEEN.items():
        cols[col] = _utc_times([t.amount_first_seen.get(amount) if t.amount_first_seen else None for t in tasks])
    tasks_frame = pl.DataFrame(cols, schema=MODEL_SCHEMA)
    changes = _records_frame(tasks_frame, list(map(_history, tasks)), CHANGES_SCHEMA)
    worklogs = _records_frame(tasks_frame, list(map(_worklogs, tasks)), WORKLOGS_SCHEMA)
    flags = _records_frame(tasks_frame, list(map(_flagged, tasks)), FLAGS_SCHEMA)
    return Frames(tasks_frame, changes, worklogs, flags)


def _records_frame(tasks: pl.DataFrame, per_task: list[list[tuple]], schema: pl.Schema) -> pl.DataFrame:
    """One row per record (a task's stage changes, worklogs or flag spells: named tuples in `schema`'s order after
    the key), keyed by its task's row of `tasks`. The records are flattened and transposed in C, and each row's
    key is gathered from its task's (a million worklogs: no Python list of repeated keys to convert)."""
    counts = np.fromiter(map(len, per_task), dtype=np.int64, count=len(per_task))
    flat = list(chain.from_iterable(per_task))
    names = list(schema)[len(KEY):]
    columns = dict(zip(names, zip(*flat, strict=True), strict=True)) if flat else dict.fromkeys(names, ())
    for name in names:
        if schema[name] == UTC_TIME:
            columns[name] = _utc_times(list(columns[name]))
        elif name.endswith("_stage"):
            columns[name] = list(map(_STAGE_TEXT.__getitem__, columns[name]))
    keys = tasks.select(list(KEY))[np.repeat(np.arange(tasks.height), counts)]
    return keys.hstack(pl.DataFrame(columns, schema=pl.Schema({n: schema[n] for n in names})))


def text_lists(values: list[tuple[str, ...]]) -> pl.Series:
    """Tuples of text as a List(String) column, through Arrow's conversion: polars builds one Series per row of
    Python lists (0.4 s for 100k rows), Arrow converts them in one pass (milliseconds)."""
    return pl.from_arrow(pa.array(values, type=pa.list_(pa.string())))  # type: ignore[return-value]


def _utc_times(values: list) -> pl.Series:
    """Aware datetimes as a UTC column, converted by Arrow in one pass (each value by its own UTC offset, so a
    zone's fold and any year are exact): 40% faster than a POSIX time per value, twice as fast as polars reading
    the objects."""
    return pl.from_arrow(pa.array(values, type=pa.timestamp("us", tz="UTC")))  # type: ignore[return-value]


def frames_from_tasks(
    tasks: Iterable[Task], figures: Mapping[tuple[str, str], TaskFigures], intake_ok: Mapping[tuple[str, str], bool]
) -> Frames:
    """The frames of Python `Task` objects and figures computed elsewhere (the bridge for row-by-row callers)."""
    tasks = list(tasks)
    model = model_frames(tasks)
    figs = [figures[(t.source, t.key)] for t in tasks]
    cols = {name: [getattr(f, name) for f in figs] for name in FIGURE_FIELDS if name != "intake_ok"}
    cols["intake_ok"] = [intake_ok.get((t.source, t.key), True) for t in tasks]
    figure_frame = pl.DataFrame(cols, schema=pl.Schema(FIGURE_FIELDS))
    return Frames(model.tasks.hstack(figure_frame), model.changes, model.worklogs, model.flags)
