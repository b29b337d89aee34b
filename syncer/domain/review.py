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


def _reason(df: pl.DataFrame, reason: str, since: pl.Expr, days: pl.Expr, detail: pl.Expr) -> pl.DataFrame:
    return df.select(pl.lit(reason).alias("reason"), *TASK, "title", "owner", "stage", since.alias("since"),
                     days.alias("days"), "due_date", detail.alias("detail")).cast(STUCK_SCHEMA)  # type: ignore[arg-type]


def stuck_at(frames: Frames, week: Week, cfg: Config) -> pl.DataFrame:
    """What got stuck, as it stood when the week is judged: one row per (task, reason) for the Attention tab's
    reasons `blocked`, `waiting on`, `overdue` and `stale` (SPEC §12), judged at that instant instead of today;
    sorted by reason, then the longest first."""
    e = week.judged_at
    then = frames_at(frames, e)
    today = e.astimezone(cfg.tz).date()  # for a past week: the Monday after it, so due on Sunday is overdue
    open_ = then.tasks.filter(~pl.col("stage").is_in(CLOSED))
    flagged = then.flags.filter(pl.col("end").is_null()).group_by(TASK).agg(flag_since=pl.col("start").min())
    blocked = open_.join(flagged, on=TASK, how="left").filter(
        (pl.col("stage") == Stage.BLOCKED) | pl.col("flag_since").is_not_null()
    ).with_columns(since=pl.min_horizontal(
        pl.when(pl.col("stage") == Stage.BLOCKED).then(pl.col("stage_since")), "flag_since"))
    deps = then.tasks.select("source", dep=pl.col("key"), dep_stage=pl.col("stage"))
    waiting = (open_.select(*TASK, dep=pl.col("depends_on")).explode("dep").join(deps, on=["source", "dep"])
               .filter(~pl.col("dep_stage").is_in(CLOSED)).group_by(TASK).agg(pl.col("dep").sort()))
    last = then.changes.group_by(TASK).agg(last_change=pl.col("at").max())
    stale = (open_.filter(pl.col("stage").is_in([Stage.IN_PROGRESS, Stage.REVIEW])).join(last, on=TASK, how="left")
             .with_columns(last_change=pl.coalesce("last_change", "created_at"))
             .filter(pl.col("last_change") < e - timedelta(days=cfg.attention.stale_days)))
    overdue = open_.filter(pl.col("due_date") < today)
    none = pl.lit(None)
    rows = [
        _reason(blocked, "blocked", pl.col("since"), _days_since("since", e),
                pl.when(pl.col("flag_since").is_not_null()).then(pl.lit("flagged as impediment"))),
        _reason(open_.join(waiting, on=TASK), "waiting on", none, none, pl.col("dep").list.join(", ")),
        _reason(overdue, "overdue", none, (pl.lit(today) - pl.col("due_date")).dt.total_days(),
                pl.format("due {}", pl.col("due_date"))),
        _reason(stale, "stale", pl.col("last_change"), _days_since("last_change", e),
                pl.format("no change since {}", pl.col("last_change").dt.convert_time_zone(cfg.timezone).dt.date())),
    ]
    order = pl.col("reason").replace_strict(list(STUCK_REASONS), list(range(len(STUCK_REASONS))))
    return pl.concat(rows).sort(order, pl.col("days"), *TASK, descending=[False, True, False, False],
                                nulls_last=True)
