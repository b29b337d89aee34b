"""The Attention tab (SPEC §6, §12): every open task that needs a look, one row per (task, reason), as polars."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from syncer.domain.campaigns import CANCELLED, DONE, Clock, blocked_now
from syncer.domain.flow import p85
from syncer.domain.frames import Frames
from syncer.tables import ATTENTION, HEADERS, Table

REASONS = ("blocked", "waiting on", "overdue", "due soon", "stale", "aging", "unowned")
AGING_WINDOW = timedelta(days=90)  # the team's Cycle p85 is over the tasks completed in the last 90 days
DAY_US = 86_400_000_000
ISO = "%Y-%m-%dT%H:%M:%S%:z"
_OUT = ("reason", "source", "key", "title", "campaign", "owner", "stage", "since", "days", "due_date", "detail", "url")


# What the reasons read of an open task (the rest of the tasks frame is never copied).
_READS = ("source", "key", "title", "campaign", "owner", "stage", "status", "due_date", "created_at", "started_at",
          "depends_on", "url")


def _days_since(column: str, clock: Clock) -> pl.Expr:
    return ((pl.lit(clock.as_of) - pl.col(column)).dt.total_microseconds() / DAY_US).round(2)


def _rows(frame: pl.DataFrame, reason: str, since: pl.Expr, days: pl.Expr, detail: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.lit(reason).alias("reason"), "source", "key", "title", "campaign", "owner", "stage",
        since.cast(pl.Datetime("us", "UTC")).alias("since"), days.cast(pl.Float64).alias("days"), "due_date",
        detail.cast(pl.String).alias("detail"), "url",
    )


def blocked_rows(open_: pl.DataFrame, frames: Frames, clock: Clock) -> pl.DataFrame:
    """Blocked now (the stage, or Jira's Flagged impediment): Since the earlier of the two, Days since then."""
    flagged = (frames.flags.filter((pl.col("start") <= clock.as_of)
                                   & (pl.col("end").is_null() | (pl.col("end") > clock.as_of)))
               .select("source", "key").unique().with_columns(pl.lit(True).alias("flagged")))
    hit = (open_.join(blocked_now(frames, clock.as_of), on=["source", "key"])
           .join(flagged, on=["source", "key"], how="left"))
    status = pl.concat_str(pl.lit("status '"), pl.col("status"), pl.lit("'"))
    detail = (pl.when(pl.col("flagged").is_null()).then(status)
              .when(pl.col("stage") == "blocked").then(pl.concat_str(status, pl.lit(", flagged as impediment")))
              .otherwise(pl.lit("flagged as impediment")))
    return _rows(hit, "blocked", pl.col("blocked_since"), _days_since("blocked_since", clock), detail)


def waiting_rows(open_: pl.DataFrame, frames: Frames) -> pl.DataFrame:
    """Waiting on a task of the same source that is neither done nor cancelled (Detail: those keys)."""
    deps = frames.tasks.select("source", pl.col("key").alias("dep"), pl.col("stage").alias("dep_stage"))
    waiting = (open_.select("source", "key", "depends_on").explode("depends_on").rename({"depends_on": "dep"})
               .join(deps, on=["source", "dep"])
               .filter(~pl.col("dep_stage").is_in([DONE, CANCELLED]))
               .group_by("source", "key").agg(pl.col("dep").sort_by(pl.col("dep").str.len_chars(), "dep")))
    hit = open_.join(waiting, on=["source", "key"])
    return _rows(hit, "waiting on", pl.lit(None), pl.lit(None), pl.col("dep").list.join(", "))


def due_rows(open_: pl.DataFrame, clock: Clock, soon_days: int) -> pl.DataFrame:
    """Overdue (Days past due) and due soon, within `soon_days` from today (Days left)."""
    left = (pl.col("due_date") - pl.lit(clock.today)).dt.total_days()
    late = open_.filter(pl.col("due_date") < clock.today)
    soon = open_.filter((pl.col("due_date") >= clock.today) & (left <= soon_days))
    return pl.concat([_rows(late, "overdue", pl.lit(None), -left, pl.lit(None)),
                      _rows(soon, "due soon", pl.lit(None), left, pl.lit(None))])


def stale_rows(open_: pl.DataFrame, frames: Frames, clock: Clock, stale_days: int) -> pl.DataFrame:
    """In progress or review with no stage change for more than `stale_days` (Since: the last change)."""
    last = frames.changes.group_by("source", "key").agg(pl.col("at").max().alias("last_change"))
    hit = (open_.filter(pl.col("stage").is_in(["in_progress", "review"]))
           .join(last, on=["source", "key"], how="left")
           .with_columns(pl.coalesce("last_change", "created_at").alias("last_change"))
           .filter(_days_since("last_change", clock) > stale_days))
    return _rows(hit, "stale", pl.col("last_change"), _days_since("last_change", clock), pl.lit(None))


def team_p85(frames: Frames, clock: Clock) -> pl.DataFrame:
    """Per team (source), Cycle p85 (SPEC §7) over the tasks completed in the last 90 days."""
    done = pl.col("completed_at")
    recent = frames.tasks.select("source", "completed_at", "cycle_days").filter(
        (done > clock.as_of - AGING_WINDOW) & (done <= clock.as_of) & pl.col("cycle_days").is_not_null())
    cycles = recent.group_by("source").agg("cycle_days").rows()
    return pl.DataFrame([(s, p85(xs)) for s, xs in cycles], schema={"source": pl.String, "p85": pl.Float64},
                        orient="row")


def aging_rows(open_: pl.DataFrame, frames: Frames, clock: Clock) -> pl.DataFrame:
    """Started and open for longer than its team's Cycle p85 (Detail: `age 23.1 d, team p85 14.2 d`)."""
    age = _days_since("started_at", clock)
    hit = (open_.filter(pl.col("started_at").is_not_null()).join(team_p85(frames, clock), on="source")
           .with_columns(age.alias("age")).filter(pl.col("age") > pl.col("p85")))
    detail = pl.format("age {} d, team p85 {} d", pl.col("age").round(1), pl.col("p85").round(1))
    return _rows(hit, "aging", pl.col("started_at"), pl.col("age"), detail)


def unowned_rows(open_: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """Started and nobody owns it (Since: when it started)."""
    hit = open_.filter(pl.col("started_at").is_not_null()
                       & (pl.col("owner").is_null() | (pl.col("owner").str.strip_chars() == "")))
    return _rows(hit, "unowned", pl.col("started_at"), _days_since("started_at", clock), pl.lit(None))


def attention_frame(frames: Frames, clock: Clock, due_soon_days: int, stale_days: int) -> pl.DataFrame:
    """Every (open task, reason) row, sorted by reason (in SPEC order), then Days descending."""
    open_ = frames.tasks.select(_READS).filter(~pl.col("stage").is_in([DONE, CANCELLED]))
    parts = [blocked_rows(open_, frames, clock), waiting_rows(open_, frames), due_rows(open_, clock, due_soon_days),
             stale_rows(open_, frames, clock, stale_days), aging_rows(open_, frames, clock),
             unowned_rows(open_, clock)]
    order = pl.col("reason").replace_strict(REASONS, range(len(REASONS)), return_dtype=pl.Int32)
    return (pl.concat(parts).sort([order, "days", "source", "key"], descending=[False, True, False, False],
                                  nulls_last=True))


def attention_table(frames: Frames, clock: Clock, due_soon_days: int, stale_days: int) -> Table:
    """The Attention tab: header, then the rows of `attention_frame` with Since in the zone and Due as a date."""
    rows = attention_frame(frames, clock, due_soon_days, stale_days).select(
        *_OUT[:7], pl.col("since").dt.convert_time_zone(clock.zone).dt.strftime(ISO),
        "days", pl.col("due_date").dt.strftime("%Y-%m-%d"), "detail", "url",
    )
    return [list(HEADERS[ATTENTION]), *(list(r) for r in rows.iter_rows())]


def attention_counts(table: Table) -> dict[str, int]:
    """Rows per reason, in SPEC order (reasons with no row left out)."""
    counts = {reason: 0 for reason in REASONS}
    for row in table[1:]:
        counts[str(row[0])] += 1
    return {r: n for r, n in counts.items() if n}
