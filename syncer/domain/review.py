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
from syncer.domain.flow import UNCATEGORISED
from syncer.domain.frames import Frames
from syncer.domain.periods import LocalCalendar
from syncer.domain.weekly import CLOSED, TASK, rework_moves, stage_spells, week_label
from syncer.model import Stage

SECONDS_PER_DAY = 86400.0
STUCK_REASONS = ("blocked", "waiting on", "overdue", "stale")  # the Attention tab's order (SPEC §6)
STUCK_SCHEMA = {"reason": pl.String, "source": pl.String, "key": pl.String, "title": pl.String, "owner": pl.String,
                "stage": pl.String, "since": pl.Datetime("us", "UTC"), "days": pl.Float64, "due_date": pl.Date,
                "detail": pl.String}


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


def _days_since(col: str, when: datetime) -> pl.Expr:
    return ((pl.lit(when) - pl.col(col)).dt.total_seconds() / SECONDS_PER_DAY).round(2)


def stuck_at(frames: Frames, week: Week, cfg: Config) -> pl.DataFrame:
    """What got stuck, as it stood when the week is judged: one row per (task, reason), reasons in the Attention
    tab's order, then the longest first.

    Issue 11's Attention tab judges the same reasons for today; the review judges them at the week's end from the
    history, which the Attention function cannot be asked for. When it can, call it here instead."""
    e = week.judged_at
    spells = stage_spells(frames).filter((pl.col("start") < e) & (pl.col("end").is_null() | (pl.col("end") >= e)))
    now = spells.select(*TASK, "stage", since=pl.col("start")).join(_tasks(frames), on=TASK, suffix="_now")
    open_ = now.filter(~pl.col("stage").is_in(CLOSED))
    flags = frames.flags.filter((pl.col("start") < e) & (pl.col("end").is_null() | (pl.col("end") >= e)))
    blocked = pl.concat([
        open_.filter(pl.col("stage") == Stage.BLOCKED).select(*TASK, "since"),
        open_.join(flags.select(*TASK, since=pl.col("start")), on=TASK, suffix="_flag").select(*TASK, "since_flag")
        .rename({"since_flag": "since"}),
    ]).group_by(TASK).agg(pl.col("since").min())
    done_at_end = now.filter(pl.col("stage") == Stage.DONE).select("source", dep=pl.col("key"))
    waiting = (open_.select(*TASK, dep=pl.col("depends_on")).explode("dep").drop_nulls("dep")
               .join(done_at_end, on=["source", "dep"], how="anti")
               .group_by(TASK).agg(detail=pl.format("waiting on {}", pl.col("dep").sort().str.join(", "))))
    # Overdue as the Weekly review's "Overdue at end" counts it: due on or before Sunday (so far: before today).
    day = week.sunday if week.complete else e.astimezone(cfg.tz).date() - timedelta(days=1)
    stale = pl.col("stage").is_in([Stage.IN_PROGRESS, Stage.REVIEW]) & (
        pl.col("since") < e - timedelta(days=cfg.attention.stale_days))
    rows = [
        open_.join(blocked, on=TASK, suffix="_b").with_columns(
            reason=pl.lit("blocked"), since=pl.col("since_b"), days=_days_since("since_b", e), detail=pl.lit(None)),
        open_.join(waiting, on=TASK).with_columns(reason=pl.lit("waiting on"), days=_days_since("since", e)),
        open_.filter(pl.col("due_date") <= day).with_columns(
            reason=pl.lit("overdue"), days=(pl.lit(day) - pl.col("due_date")).dt.total_days().cast(pl.Float64),
            detail=pl.format("due {}", pl.col("due_date"))),
        open_.filter(stale).with_columns(reason=pl.lit("stale"), days=_days_since("since", e),
                                         detail=pl.format("no stage change since {}", pl.col("since").dt.date())),
    ]
    out = pl.concat([r.select(list(STUCK_SCHEMA)).cast(STUCK_SCHEMA) for r in rows])
    order = pl.col("reason").replace_strict(list(STUCK_REASONS), list(range(len(STUCK_REASONS))))
    return out.sort(order, pl.col("days"), *TASK, descending=[False, True, False, False])

