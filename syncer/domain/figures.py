"""Per-task figures of SPEC §5: pure functions of the frames, `as_of` (the reference time) and the timezone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import polars as pl

from syncer.domain.cells import div, local_day_expr
from syncer.domain.frames import FIGURE_FIELDS, IN_TASK_ORDER, TASK_STARTS, TaskFigures, model_frames
from syncer.model import REWORK_FROM, REWORK_TO, STARTED_STAGES, WIP_STAGES, Stage, Task

SECONDS_PER_DAY = 86400.0
US_PER_DAY = 86_400_000_000
TASK_KEY = ["source", "key"]
STARTED = [s.value for s in STARTED_STAGES]
WIP = [s.value for s in WIP_STAGES]
FIGURE_FIELDS_NO_INTAKE = [n for n in FIGURE_FIELDS if n != "intake_ok"]


def task_figures(
    task: Task, as_of: datetime, tz: tzinfo, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> TaskFigures:
    """SPEC §5 for one task, through the columnar core (`figures_frame`): `as_of` bounds open spells, `tz` decides
    the local completion date."""
    fr = model_frames([task])
    figured = figures_frame(fr.tasks, fr.changes, fr.worklogs, as_of, tz_name(tz), rates or {}, default_rate)
    row = with_flagged_time(figured, fr.changes, fr.flags, as_of).row(0, named=True)
    return TaskFigures(**{name: row[name] for name in TaskFigures.__slots__})


def tz_name(tz: tzinfo) -> str:
    """The zone's name as polars knows it: an IANA key, `UTC`, or `Etc/GMT-2` for a fixed whole-hour offset."""
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = tz.utcoffset(None) if isinstance(tz, timezone) else None
    if tz is UTC or offset == timedelta(0):
        return "UTC"
    if offset is not None and offset % timedelta(hours=1) == timedelta(0):
        hours = offset // timedelta(hours=1)
        return f"Etc/GMT{-hours:+d}"
    raise ValueError(f"time zone {tz!r} has no IANA name")


def _days(us: pl.Expr) -> pl.Expr:
    """Microseconds as days, as `(b - a).total_seconds() / 86400` computes them."""
    return div(div(us, 1_000_000), SECONDS_PER_DAY)


def grouped_by_task(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (rows of many tasks) with each task's rows next to each other in their order (sorted stably by
    source and key unless already so) and `_first` marking each task's first row: windows then need no `over`
    (which costs about 0.2 s a column per million rows)."""
    if not frame.select(IN_TASK_ORDER.all()).item():
        frame = frame.sort("source", "key", maintain_order=True)
    return frame.with_columns(_first=TASK_STARTS)


def within_task(expr: pl.Expr) -> pl.Expr:
    """The value of the task's previous row (null on its first), in a frame from `grouped_by_task`."""
    return pl.when(~pl.col("_first")).then(expr.shift(1))


def spell_starts(frame: pl.DataFrame) -> pl.Expr:
    """When each change's spell begins: the latest of creation and every change up to it (a change dated before
    an earlier one moves the stage, not the clock). `frame` is from `grouped_by_task`, with `created_at`."""
    moment = pl.max_horizontal("created_at", "at")
    if frame.select((moment < within_task(moment)).any()).item():  # a history out of time order
        return moment.cum_max().over(TASK_KEY)
    return moment


def _history_figures(tasks: pl.DataFrame, changes: pl.DataFrame) -> pl.DataFrame:
    """Per task with any change: first start, last entry into done, rework, review rounds, closed-spell time in
    review and blocked, and where the history leaves the task (its last stage and since when)."""
    ch = grouped_by_task(changes.select("source", "key", "at", "from_stage", "to_stage").join(
        tasks.select("source", "key", "created_at", "created_stage"), on=TASK_KEY, how="left", maintain_order="left"))
    ch = ch.with_columns(since=spell_starts(ch)).with_columns(
        spell_us=(pl.col("since") - within_task(pl.col("since")).fill_null(pl.col("created_at")))
        .dt.total_microseconds(),
        spell_stage=within_task(pl.col("to_stage")).fill_null(pl.col("created_stage")),
    )
    to, frm = pl.col("to_stage"), pl.col("from_stage")
    return ch.group_by(TASK_KEY, maintain_order=True).agg(
        started_hist=pl.col("at").filter(to.is_in(STARTED)).first(),
        done_at=pl.col("at").filter((to == Stage.DONE) & (frm != Stage.DONE)).last(),
        reworked=(frm.is_in([s.value for s in REWORK_FROM]) & to.is_in([s.value for s in REWORK_TO])).any(),
        rounds=((to == Stage.REVIEW) & (frm != Stage.REVIEW)).sum().cast(pl.Int32),
        review_us=pl.col("spell_us").filter(pl.col("spell_stage") == Stage.REVIEW).sum(),
        blocked_us=pl.col("spell_us").filter(pl.col("spell_stage") == Stage.BLOCKED).sum(),
        last_stage=to.last(),
        last_since=pl.col("since").last(),
    )


def _labour(people: Mapping[str, float], default_rate: float) -> pl.Expr:
    """A task's labour cost in a group of its worklogs: hours × the person's rate in `people`, else `default_rate`."""
    rate = pl.col("author").replace_strict(dict(people), default=default_rate, return_dtype=pl.Float64)
    return (pl.col("hours") * rate).sum().alias("labour_cost")


def _worklog_figures(worklogs: pl.DataFrame, people: Mapping[str, float], default_rate: float) -> pl.DataFrame:
    return worklogs.group_by(TASK_KEY, maintain_order=True).agg(
        logged_hours=pl.col("hours").sum(), labour_cost=_labour(people, default_rate))


def labour_costs(worklogs: pl.DataFrame, people: Mapping[str, float], default_rate: float) -> pl.DataFrame:
    """(source, key, labour_cost) of every task with worklogs: its `figures_frame` labour cost, computed alone
    (intake checks the labour of a task without a campaign before any figure is)."""
    return worklogs.group_by(TASK_KEY, maintain_order=True).agg(_labour(people, default_rate))


def figures_frame(
    tasks: pl.DataFrame, changes: pl.DataFrame, worklogs: pl.DataFrame, as_of: datetime, tz: str,
    people: Mapping[str, float], default_rate: float = 0.0,
) -> pl.DataFrame:
    """`tasks` with the SPEC §5 figure columns of `frames.FIGURE_FIELDS` (but `intake_ok`) added, in its order.

    `as_of` bounds open spells; `tz` (a polars zone name, see `tz_name`) decides the local completion date;
    labour is hours × the person's rate in `people`, else `default_rate`."""
    base = tasks.drop([c for c in FIGURE_FIELDS_NO_INTAKE if c in tasks.columns])
    hist = _history_figures(base, changes)
    logs = _worklog_figures(worklogs, people, default_rate)
    df = base.join(hist, on=TASK_KEY, how="left", maintain_order="left").join(
        logs, on=TASK_KEY, how="left", maintain_order="left")
    stage, created = pl.col("stage"), pl.col("created_at")
    final_stage = pl.col("last_stage").fill_null(pl.col("created_stage"))
    final_since = pl.col("last_since").fill_null(created)
    open_us = pl.max_horizontal((pl.lit(as_of) - final_since).dt.total_microseconds(), pl.lit(0))
    completed = pl.when(stage == Stage.DONE).then(pl.col("done_at").fill_null(created))
    df = df.with_columns(
        started_at=pl.when(pl.col("created_stage").is_in(STARTED)).then(created).otherwise(pl.col("started_hist")),
        completed_at=completed,
        review_us=pl.col("review_us").fill_null(0) + pl.when(final_stage == Stage.REVIEW).then(open_us).otherwise(0),
        blocked_us=pl.col("blocked_us").fill_null(0) + pl.when(final_stage == Stage.BLOCKED).then(open_us)
        .otherwise(0),
        review_rounds=(pl.col("created_stage") == Stage.REVIEW).cast(pl.Int32) + pl.col("rounds").fill_null(0),
    )
    done = pl.col("completed_at")
    return df.with_columns(
        cycle_days=_days((done - pl.coalesce("started_at", done)).dt.total_microseconds()),
        lead_days=_days((done - created).dt.total_microseconds()),
        review_days=_days(pl.col("review_us")),
        blocked_days=_days(pl.col("blocked_us")),
        entered_review=pl.col("review_rounds") > 0,
        reworked=pl.col("reworked").fill_null(False),
        late=(local_day_expr("completed_at", tz) > pl.col("due_date")).fill_null(False),
        logged_hours=pl.col("logged_hours").fill_null(0.0),
        labour_cost=pl.col("labour_cost").fill_null(0.0),
    ).select(*base.columns, *FIGURE_FIELDS_NO_INTAKE)


FLAG_COUNTS_IN = [Stage.IN_PROGRESS.value, Stage.REVIEW.value]


def stage_spells_frame(tasks: pl.DataFrame, changes: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """(source, key, stage, start, end) of every stage spell, the last one open until `as_of` (the clock of
    `_history_figures`: a change dated before the one it follows moves the stage, not the time)."""
    first = tasks.select(*TASK_KEY, pl.col("created_stage").alias("stage"), pl.col("created_at").alias("start"),
                         pl.lit(0, dtype=pl.Int64).alias("n"))
    later = changes.join(tasks.select(*TASK_KEY, "created_at"), on=TASK_KEY).select(
        *TASK_KEY, pl.col("to_stage").alias("stage"), pl.max_horizontal("created_at", "at").alias("start"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(TASK_KEY).alias("n"))
    spells = pl.concat([first, later]).sort([*TASK_KEY, "n"]).with_columns(pl.col("start").cum_max().over(TASK_KEY))
    end = pl.col("start").shift(-1).over(TASK_KEY)
    return spells.with_columns(end=pl.max_horizontal(end.fill_null(pl.lit(as_of)), pl.col("start")))


def with_flagged_time(figured: pl.DataFrame, changes: pl.DataFrame, flags: pl.DataFrame,
                      as_of: datetime) -> pl.DataFrame:
    """Blocked days plus the time flagged as an impediment while in progress or review (SPEC §5): time flagged
    while already blocked is not counted twice; a flag still set runs until `as_of`."""
    if flags.is_empty():
        return figured
    spells = stage_spells_frame(figured.join(flags.select(TASK_KEY).unique(), on=TASK_KEY, how="semi"),
                                changes.join(flags.select(TASK_KEY).unique(), on=TASK_KEY, how="semi"), as_of)
    overlap = (spells.filter(pl.col("stage").is_in(FLAG_COUNTS_IN)).join(flags, on=TASK_KEY)
               .with_columns(a=pl.max_horizontal("start", "start_right"),
                             b=pl.min_horizontal("end", pl.col("end_right").fill_null(pl.lit(as_of)), pl.lit(as_of)))
               .filter(pl.col("b") > pl.col("a"))
               .group_by(TASK_KEY).agg(flag_us=(pl.col("b") - pl.col("a")).dt.total_microseconds().sum()))
    return figured.join(overlap, on=TASK_KEY, how="left", maintain_order="left").with_columns(
        blocked_days=pl.col("blocked_days") + _days(pl.col("flag_us").fill_null(0))).drop("flag_us")


def local_date(when: datetime, tz: tzinfo) -> date:
    """The calendar date of an aware datetime in `tz`."""
    return when.astimezone(tz).date()
