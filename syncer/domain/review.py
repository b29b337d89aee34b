"""The detail behind one week of the Weekly review, for `syncer report` (SPEC §10): pure polars over the frames.

What moved (tasks completed and started in the week), what got stuck (as it stood at the week's end: blocked or
flagged, waiting on an unfinished dependency, overdue, stale), what caused rework (each move back in the week).
Owners appear as the sources show them; no hours per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from syncer.config import Config
from syncer.domain.attention import attention_frame
from syncer.domain.campaigns import Clock
from syncer.domain.flow import UNCATEGORISED
from syncer.domain.frames import Frames
from syncer.domain.periods import LocalCalendar
from syncer.domain.weekly import TASK, rework_moves, stage_spells, week_label

STUCK_REASONS = ("blocked", "waiting on", "overdue", "stale")  # of the Attention tab's reasons


@dataclass(frozen=True, slots=True)
class Week:
    """One ISO week in the configured zone: its label, Monday and Sunday, and the instant its review is judged at
    (the week's end, or the reference time for the week still running)."""

    label: str
    monday: date
    sunday: date
    judged_at: datetime
    complete: bool

    @classmethod
    def of(cls, label: str, as_of: datetime, cal: LocalCalendar) -> Week:
        year, week = label.split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
        end = datetime.fromtimestamp(cal.midnight(monday + timedelta(days=7)), as_of.tzinfo)
        return cls(label, monday, monday + timedelta(days=6), min(end, as_of), end <= as_of)


def _tasks(frames: Frames) -> pl.DataFrame:
    return frames.tasks.with_columns(category=pl.col("category").fill_null(UNCATEGORISED))


def moved(frames: Frames, week: Week, zone: str) -> pl.DataFrame:
    """Tasks completed or started in the week: what (`completed` / `started`), source, key, title, category,
    owner; completed first, then by time."""
    t = _tasks(frames)
    parts = [
        t.filter(week_label(col, zone) == week.label).select(
            pl.lit(what).alias("what"), pl.col(col).alias("at"), *TASK, "title", "category", "owner")
        for what, col in (("completed", "completed_at"), ("started", "started_at"))
    ]
    return pl.concat(parts).sort(pl.col("what") != "completed", "at", *TASK)


def rework_in(frames: Frames, week: Week, zone: str) -> pl.DataFrame:
    """Every move back (from review or done to intake, backlog or in progress) in the week, by category."""
    return (rework_moves(frames, zone).filter(pl.col("week") == week.label)
            .select(*TASK, "title", "category", "owner", "at", "from_stage", "to_stage").sort("category", "at"))


def frames_at(frames: Frames, instant: datetime) -> Frames:
    """The frames as they stood at `instant`: the tasks created before it, each in the stage and status it then
    had (`stage_since`: when it entered that stage), and the changes, worklogs and flags before it (a flag still
    set then has no end). The §5 figures are not recomputed: read only what comes from the history."""
    spells = stage_spells(frames)
    held = spells.filter((pl.col("start") < instant) & (pl.col("end").is_null() | (pl.col("end") >= instant)))
    before = frames.changes.filter(pl.col("at") < instant)
    status = frames.changes.group_by(TASK).agg(first=pl.col("from_status").sort_by("at").first()).join(
        before.group_by(TASK).agg(then=pl.col("to_status").sort_by("at").last()), on=TASK, how="left")
    tasks = (frames.tasks.drop("stage").join(held.select(*TASK, "stage", stage_since=pl.col("start")), on=TASK)
             .join(status, on=TASK, how="left")
             .with_columns(status=pl.coalesce("then", "first", "status")).drop("then", "first"))
    return Frames(
        tasks=tasks,
        changes=before,
        worklogs=frames.worklogs.filter(pl.col("started_at") < instant),
        flags=frames.flags.filter(pl.col("start") < instant).with_columns(
            end=pl.when(pl.col("end") < instant).then(pl.col("end"))),
    )


def stuck_at(frames: Frames, week: Week, cfg: Config) -> pl.DataFrame:
    """What got stuck, as it stood when the week is judged: the Attention tab's rows (SPEC §12) for the reasons
    `blocked`, `waiting on`, `overdue` and `stale`, computed on the frames as they stood at that instant (for a
    past week: the Monday midnight after it, so a task due on Sunday is overdue); sorted as Attention sorts."""
    e = week.judged_at
    rows = attention_frame(frames_at(frames, e), Clock.of(e, cfg.timezone), cfg.attention.due_soon_days,
                           cfg.attention.stale_days)
    return rows.filter(pl.col("reason").is_in(STUCK_REASONS))
