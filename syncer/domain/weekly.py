"""The Weekly review tab (SPEC §10): per ISO week and team (= source), plus `All`, as polars over the frames.

Every figure is judged on the task's history, so a past week's row does not change when the task moves on later
(except Intake gaps, which SPEC §10 judges on the rules "now"). Logged h and Utilization are read from the Capacity
computation, never worked out again here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from syncer.config import Config
from syncer.domain.figures import grouped_by_task, spell_starts
from syncer.domain.flow import ALL, UNCATEGORISED
from syncer.domain.frames import UTC_TIME, Frames
from syncer.domain.periods import LocalCalendar, iso_week, week_starts
from syncer.domain.review_notes import notes_of
from syncer.model import REWORK_FROM, REWORK_TO, Stage
from syncer.tables import HEADERS, WEEKLY_REVIEW, Table, num

GROUP = ["week", "team"]
TASK = ["source", "key"]
CLOSED = [Stage.DONE.value, Stage.CANCELLED.value]
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
RATIO_PLACES = 4


@dataclass(frozen=True, slots=True)
class WeekGrid:
    """The ISO weeks from the one holding `first` to the one holding `last`, with the UTC instant each ends."""

    labels: list[str]
    mondays: list[date]
    ends: pl.Series  # local midnight after the week's Sunday, in UTC
    today: date  # the last week is the one holding today: it is read "so far"

    @classmethod
    def between(cls, first: date, today: date, cal: LocalCalendar) -> WeekGrid:
        mondays = week_starts(first, today)
        ends = [datetime.fromtimestamp(cal.midnight(m + timedelta(days=7)), UTC) for m in mondays]
        return cls([iso_week(m) for m in mondays], mondays, pl.Series("end", ends, dtype=UTC_TIME), today)

    def end_of(self, label: str) -> datetime:
        return self.ends[self.labels.index(label)]


def week_label(col: str | pl.Expr, zone: str) -> pl.Expr:
    """The ISO week (`2026-W07`) of a UTC time column, in the configured zone."""
    expr = pl.col(col) if isinstance(col, str) else col
    return _label_of_date(expr.dt.convert_time_zone(zone).dt.date())


def _label_of_date(d: pl.Expr) -> pl.Expr:
    return pl.format("{}-W{}", d.dt.iso_year(), d.dt.week().cast(pl.String).str.zfill(2))


def stage_spells(frames: Frames) -> pl.DataFrame:
    """Each task's stages as spells (source, key, stage, start, end); `end` is null for the stage it is in now.

    The stage at an instant B is that of the spell with start < B <= end: a change exactly at B is already the
    next period's (a period ends at local midnight, SPEC §7). A change dated before creation counts at creation.
    The frames are in (source, key) order, so no sort is needed: the spell a change opens ends where the task's
    next change opens one, and the spell of creation where its first change does."""
    ch = grouped_by_task(frames.changes.select(*TASK, "at", stage=pl.col("to_stage")).join(
        frames.tasks.select(*TASK, "created_at"), on=TASK, how="left", maintain_order="left"))
    ch = ch.with_columns(start=spell_starts(ch))
    same_next = ~pl.col("_first").shift(-1).fill_null(True)
    moves = ch.select(*TASK, "stage", "start", end=pl.when(same_next).then(pl.col("start").shift(-1)))
    first_moves = ch.filter("_first").select(*TASK, end="start")
    born = frames.tasks.select(*TASK, stage=pl.col("created_stage"), start=pl.col("created_at")).join(
        first_moves, on=TASK, how="left", maintain_order="left")
    return pl.concat([born, moves])


def _team_key(df: pl.DataFrame, zone: str, at: str) -> pl.DataFrame:
    return df.with_columns(week=week_label(at, zone), team=pl.col("source"))


def rework_moves(frames: Frames, zone: str) -> pl.DataFrame:
    """Every move back from review or done to intake, backlog or in progress (SPEC §5), with its local week."""
    back = frames.changes.filter(
        pl.col("from_stage").is_in([s.value for s in REWORK_FROM])
        & pl.col("to_stage").is_in([s.value for s in REWORK_TO])
    )
    cats = frames.tasks.select(*TASK, "title", "owner", category=pl.col("category").fill_null(UNCATEGORISED))
    return _team_key(back.join(cats, on=TASK, how="left"), zone, "at")


# What the figures of completed tasks read of the tasks frame (the rest of its columns is never copied).
DONE_READS = ("completed_at", "due_date", "estimate_hours", "logged_hours", "entered_review", "review_rounds",
              "reworked", "late")


def _completed(frames: Frames, zone: str, ratio: float) -> pl.DataFrame:
    per_task = rework_moves(frames, zone).group_by(TASK).agg(
        moves=pl.len(),
        from_review=(pl.col("from_stage") == Stage.REVIEW).any(),
        from_done=(pl.col("from_stage") == Stage.DONE).any(),
    )
    done = frames.tasks.select(*TASK, *DONE_READS).filter(pl.col("completed_at").is_not_null())
    t = done.join(per_task, on=TASK, how="left")
    est = pl.col("estimate_hours")
    day = pl.col("completed_at").dt.convert_time_zone(zone).dt.date()
    return _team_key(t, zone, "completed_at").with_columns(
        rounds=pl.when(pl.col("entered_review")).then(pl.col("review_rounds")),
        over=(est > 0) & (pl.col("logged_hours") > ratio * est),
        over_by=pl.col("logged_hours") / est,
        days_late=(day - pl.col("due_date")).dt.total_days(),
        moves=pl.col("moves").fill_null(0),
        from_review=pl.col("from_review").fill_null(False),
        from_done=pl.col("from_done").fill_null(False),
    )


def _blocked_entries(frames: Frames, zone: str) -> pl.DataFrame:
    """When each task entered blocked or got flagged: a change into blocked, creation in blocked, a flag's start."""
    into = frames.changes.filter((pl.col("to_stage") == Stage.BLOCKED) & (pl.col("from_stage") != Stage.BLOCKED))
    born = frames.tasks.select(*TASK, "created_stage", at=pl.col("created_at")).filter(
        pl.col("created_stage") == Stage.BLOCKED).drop("created_stage")
    flags = frames.flags.select(*TASK, at=pl.col("start"))
    entries = pl.concat([into.select(*TASK, "at"), born, flags])
    return _team_key(entries, zone, "at")


def overdue_at_ends(frames: Frames, grid: WeekGrid) -> pl.DataFrame:
    """(source, key, week, due_date, just_due) for every week at whose end the task was open (not done, not
    cancelled) and due on or before that week's Sunday; `just_due`: due in that week. The current week is read
    so far: only tasks due before today count (the rest can still be done in time)."""
    due = frames.tasks.select(*TASK, "due_date").filter(pl.col("due_date").is_not_null())
    spells = stage_spells(frames).filter(~pl.col("stage").is_in(CLOSED)).join(due, on=TASK)
    mondays = pl.Series("m", grid.mondays, dtype=pl.Date)
    ends = pl.lit(grid.ends)
    spells = spells.with_columns(
        first=ends.search_sorted(pl.col("start"), side="right"),  # the first week ending after the spell began
        stop=ends.search_sorted(pl.col("end").fill_null(FOREVER), side="right"),
        due_week=pl.when(pl.col("due_date") < grid.mondays[-1] + timedelta(days=7))  # due after the grid: never
        .then(pl.lit(mondays).search_sorted(pl.col("due_date"), side="right").cast(pl.Int64) - 1)
        .otherwise(len(grid.labels)),
    )
    weeks = pl.Series("week", grid.labels, dtype=pl.String)
    return (
        spells.with_columns(k=pl.int_ranges(pl.max_horizontal(pl.col("first").cast(pl.Int64), "due_week"),
                                            pl.col("stop").cast(pl.Int64)))
        .explode("k").drop_nulls("k")
        .with_columns(week=pl.lit(weeks).gather(pl.col("k")), team=pl.col("source"),
                      just_due=pl.col("k") == pl.col("due_week"))
        .filter((pl.col("week") != grid.labels[-1]) | (pl.col("due_date") < grid.today))
        .select(*TASK, "week", "team", "due_date", "just_due")
    )


def _pooled(df: pl.DataFrame) -> pl.DataFrame:
    """The rows once under their team and once under `All`."""
    return pl.concat([df, df.with_columns(team=pl.lit(ALL))])


def top_keys(df: pl.DataFrame, name: str, cond: pl.Expr, by: str | None = None) -> pl.DataFrame:
    """Per (week, team): up to three keys of the rows where `cond` holds, largest `by` first (ties: `MKT-9`
    before `MKT-10`), as list column `name`."""
    natural = pl.col("key").str.extract(r"(\d+)$").cast(pl.Int64, strict=False)
    order = ([pl.col(by)] if by else []) + [natural, pl.col("key")]
    desc = ([True] if by else []) + [False, False]
    # Sort, then take the first rows of each group (group_by keeps the order within a group). Filtering and
    # sorting inside the aggregation instead crashed polars 2.1 now and then (a segfault in `iter_rows`).
    # Only the columns the ranking reads are sorted: a sort moves every column it is given.
    picked = df.filter(cond).select(*GROUP, "key", *([by] if by else []))
    ranked = picked.sort(order, descending=desc, nulls_last=True)
    return ranked.group_by(GROUP, maintain_order=True).agg(pl.col("key").head(3).alias(name))


def joined(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The per-(week, team) frames side by side (a group missing from one has nulls there)."""
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part, on=GROUP, how="full", coalesce=True)
    return out


def _done_figures(frames: Frames, zone: str, ratio: float) -> list[pl.DataFrame]:
    done = _pooled(_completed(frames, zone, ratio))
    counts = done.group_by(GROUP).agg(
        completed=pl.len(),
        first_pass=(~pl.col("reworked")).sum(),
        reworked_done=pl.col("reworked").sum(),
        late=pl.col("late").sum(),
        with_due=pl.col("due_date").is_not_null().sum(),
        over_estimate=pl.col("over").sum(),
        estimated=(pl.col("estimate_hours") > 0).sum(),
        review_rounds=pl.col("rounds").mean(),
        reviewed=pl.col("rounds").is_not_null().sum(),
        from_review=(pl.col("reworked") & pl.col("from_review")).any(),
        from_done=(pl.col("reworked") & pl.col("from_done")).any(),
    )
    return [
        counts,
        top_keys(done, "rework_keys", pl.col("reworked"), "moves"),
        top_keys(done, "late_keys", pl.col("late"), "days_late"),
        top_keys(done, "over_keys", pl.col("over"), "over_by"),
        top_keys(done, "rounds_keys", pl.col("rounds").fill_null(0) >= 2, "rounds"),
    ]


def _week_figures(frames: Frames, grid: WeekGrid, zone: str) -> list[pl.DataFrame]:
    """Per (week, team): every count of SPEC §10 except those of completed tasks, with the keys the Notes name."""
    tasks = frames.tasks.select(*TASK, "created_at", "started_at", "intake_ok")  # all that is read of the tasks
    started = _pooled(_team_key(tasks.filter(pl.col("started_at").is_not_null()), zone, "started_at"))
    created = _pooled(_team_key(tasks, zone, "created_at"))
    blocked = _pooled(_blocked_entries(frames, zone).sort("at").unique([*GROUP, *TASK], keep="first"))
    moves = _pooled(rework_moves(frames, zone).unique([*GROUP, *TASK]))
    overdue = _pooled(overdue_at_ends(frames, grid))
    ok = pl.col("intake_ok")
    return [
        started.group_by(GROUP).agg(started=pl.len()),
        created.group_by(GROUP).agg(created=pl.len(), intake_gaps=(~ok).sum()),
        top_keys(created, "gap_keys", ~ok),
        blocked.group_by(GROUP).agg(newly_blocked=pl.len()),
        top_keys(blocked.with_columns(first=-pl.col("at").dt.epoch("us")), "blocked_keys", pl.lit(True), "first"),
        moves.group_by(GROUP).agg(reworked=pl.len()),
        overdue.group_by(GROUP).agg(overdue=pl.len(), newly_overdue=pl.col("just_due").sum()),
        top_keys(overdue.with_columns(first=-pl.col("due_date").cast(pl.Int64)), "overdue_keys", pl.col("just_due"),
                 "first"),
    ]


def _capacity_figures(capacity: Table) -> pl.DataFrame:
    """Logged h, Capacity h and Utilization of the Capacity rows with Person and Category `All`."""
    header, rows = capacity[0], [r for r in capacity[1:] if r[2] == ALL and r[3] == ALL]
    cols = {name: [r[header.index(name)] for r in rows] for name in ("Week", "Team", "Logged h", "Capacity h",
                                                                      "Utilization")}
    return pl.DataFrame(
        {"week": cols["Week"], "team": cols["Team"], "logged_h": cols["Logged h"],
         "capacity_h": cols["Capacity h"], "utilization": cols["Utilization"]},
        schema={"week": pl.String, "team": pl.String, "logged_h": pl.Float64, "capacity_h": pl.Float64,
                "utilization": pl.Float64},
    )


COUNTS = ("completed", "started", "created", "newly_blocked", "reworked", "late", "overdue", "over_estimate",
          "intake_gaps")


def weekly_frame(frames: Frames, as_of: datetime, cfg: Config, capacity: Table) -> pl.DataFrame:
    """Per (week, team) with any activity, and `All` per week, up to the week holding `as_of`: the figures of
    SPEC §10 and what the Notes need (counts, keys). `capacity`: the Capacity rows, with `All`-team rows added."""
    cal = LocalCalendar(cfg.tz, cfg.fiscal_year_start_month)
    today = cal.day(as_of)
    if frames.tasks.is_empty():
        return pl.DataFrame(schema={"week": pl.String, "team": pl.String})
    first = frames.tasks["created_at"].min().astimezone(cfg.tz).date()  # type: ignore[union-attr]
    grid = WeekGrid.between(min(first, today), today, cal)
    zone, ratio = cfg.timezone, cfg.review.over_estimate_ratio
    parts = [*_done_figures(frames, zone, ratio), *_week_figures(frames, grid, zone), _capacity_figures(capacity)]
    return (
        joined(parts).filter(pl.col("week") <= iso_week(today))
        .with_columns(pl.col(c).fill_null(0) for c in (*COUNTS, "first_pass", "reworked_done", "with_due",
                                                          "estimated", "reviewed", "newly_overdue"))
        .with_columns(pl.col("from_review", "from_done").fill_null(False))
        .sort("week", pl.col("team") != ALL, "team")
    )


def weekly_table(frames: Frames, as_of: datetime, cfg: Config, capacity: Table) -> Table:
    """The Weekly review tab: header, then per week the `All` row and one row per team, sorted by week."""
    rows: Table = [list(HEADERS[WEEKLY_REVIEW])]
    for r in weekly_frame(frames, as_of, cfg, capacity).iter_rows(named=True):
        rows.append([
            r["week"], r["team"], r["completed"], r["started"], r["created"], r["newly_blocked"], r["reworked"],
            num(r["review_rounds"]), num(r["first_pass"] / r["completed"] if r["completed"] else None, RATIO_PLACES),
            r["late"], r["overdue"], r["over_estimate"], r["intake_gaps"], r["logged_h"], r["utilization"],
            notes_of(r, cfg.review.over_estimate_ratio),
        ])
    return rows
