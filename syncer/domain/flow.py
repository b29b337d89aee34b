"""Flow metrics (SPEC §7) per ISO week and month, per source and category, plus `All` rows per period."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

import polars as pl

from syncer.domain.cells import div, local_day_expr, month_label_expr, rounded, week_label_expr
from syncer.domain.figures import TASK_KEY, WIP, TaskFigures, grouped_by_task, spell_starts, tz_name
from syncer.domain.frames import frames_from_tasks
from syncer.domain.periods import LocalCalendar, month_starts, next_month, week_starts
from syncer.model import WIP_STAGES, Stage, Task
from syncer.tables import FLOW_METRICS, HEADERS, Row, Table

ALL = "All"
UNCATEGORISED = "Uncategorised"
RATIO_PLACES = 4
GROUP = ["period", "source", "cat"]


def category_of(task: Task) -> str:
    """The task's category, `Uncategorised` when it has none."""
    return task.category or UNCATEGORISED


def p50(xs: Sequence[float]) -> float | None:
    """Median (`statistics.median`), None when empty."""
    return statistics.median(xs) if xs else None


def p85(xs: Sequence[float]) -> float | None:
    """`statistics.quantiles(x, n=100, method="inclusive")[84]`; with one value, that value; None when empty.

    Index 84 is the 85th of the 99 cut points; computed with the same interpolation as `statistics.quantiles`
    (checked against it in the tests) but for that one cut point only."""
    if not xs:
        return None
    data = sorted(xs)
    if len(data) == 1:
        return data[0]
    m = len(data) - 1
    j, delta = divmod(85 * m, 100)
    return (data[j] * (100 - delta) + data[j + 1] * delta) / 100


def ratio(a: float, b: float) -> float | None:
    """a ÷ b, None when b is 0 (an undefined figure is a blank cell, never 0)."""
    return a / b if b else None


def period_ends(cal: LocalCalendar, first: date, last: date) -> tuple[list[int], list[str]]:
    """The end instants (POSIX microseconds) of every week and month from `first` to `last` (local), in time
    order, with their labels: WIP is counted at these."""
    ends: list[tuple[int, str]] = []
    for monday in week_starts(first, last):
        ends.append((round(cal.midnight(monday + timedelta(days=7)) * 1_000_000), cal.date_labels(monday).week))
    for start in month_starts(first, last):
        ends.append((round(cal.midnight(next_month(start)) * 1_000_000), cal.date_labels(start).month))
    ends.sort(key=lambda e: e[0])
    return [e for e, _ in ends], [label for _, label in ends]


def wip_spells(task: Task) -> list[tuple[float, float]]:
    """(from, to] POSIX-time spells in which the task was in progress, in review or blocked; the last open to inf."""
    out: list[tuple[float, float]] = []
    since = task.created_at.timestamp()
    start: float | None = since if task.created_stage in WIP_STAGES else None
    for ch in task.history:
        at = ch.at.timestamp()
        if at > since:
            since = at
        new = ch.to_stage
        if start is None and new in WIP_STAGES:
            start = since
        elif start is not None and new not in WIP_STAGES:
            if since > start:
                out.append((start, since))
            start = None
    if start is not None:
        out.append((start, math.inf))
    return out


def _period_parts(df: pl.DataFrame, day: pl.Expr, cols: list[pl.Expr]) -> pl.DataFrame:
    """Each row twice: once under its ISO week, once under its month (of the local date `day`)."""
    base = df.select(*GROUP[1:], *cols, _day=day).filter(pl.col("_day").is_not_null())  # no other column copied
    kept = [c for c in base.columns if c != "_day"]
    return pl.concat([
        base.select(week_label_expr(pl.col("_day")).alias("period"), *kept),
        base.select(month_label_expr(pl.col("_day")).alias("period"), *kept),
    ])


def _wip_spells(tasks: pl.DataFrame, changes: pl.DataFrame) -> pl.DataFrame:
    """(source, category, start, end) spells in progress, in review or blocked (`wip_spells`, vectorised); `end`
    null while still open. A spell begins at creation or at a change that moves the task into or out of WIP, and
    ends where the task's next such change begins one; the frames are in task order, so no sort is needed."""
    ch = grouped_by_task(changes.select("source", "key", "at", "to_stage").join(
        tasks.select("source", "key", "cat", "created_at", born=pl.col("created_stage").is_in(WIP)), on=TASK_KEY,
        how="left", maintain_order="left"))
    wip = pl.col("to_stage").is_in(WIP)
    turns = ch.with_columns(start=spell_starts(ch), wip=wip).filter(  # a task not in `tasks`: its first change
        (wip != pl.when(pl.col("_first")).then(pl.col("born")).otherwise(wip.shift(1))).fill_null(True))
    same_next = (pl.col("source") == pl.col("source").shift(-1)) & (pl.col("key") == pl.col("key").shift(-1))
    moved = turns.select("source", "key", "cat", "wip", "start", end=pl.when(same_next).then(pl.col("start").shift(-1)))
    first_turn = turns.group_by(TASK_KEY).agg(end=pl.col("start").first())
    created = tasks.select("source", "key", "cat", wip=pl.col("created_stage").is_in(WIP), start="created_at").join(
        first_turn, on=TASK_KEY, how="left")
    runs = pl.concat([created, moved.select(created.columns)], how="vertical_relaxed")
    return runs.filter(pl.col("wip") & (pl.col("end").is_null() | (pl.col("end") > pl.col("start"))))


def _wip_counts(tasks: pl.DataFrame, changes: pl.DataFrame, cal: LocalCalendar, first: date, today: date
                ) -> pl.DataFrame:
    """WIP at the end of every week and month: per spell +1 at the first period end it covers, -1 after its last
    (a difference array), summed up per (source, category) in the order of the period ends."""
    ends, labels = period_ends(cal, first, today)
    spells = _wip_spells(tasks, changes)
    if spells.height == 0 or not ends:
        return pl.DataFrame(schema={"period": pl.String, "source": pl.String, "cat": pl.String, "wip": pl.Int64})
    bounds = pl.Series(ends, dtype=pl.Int64)
    start = bounds.search_sorted(spells["start"].dt.epoch("us"), side="right").cast(pl.Int64)
    end_us = spells["end"].dt.epoch("us")
    stop = bounds.search_sorted(end_us.fill_null(bounds.max() + 1), side="right").cast(pl.Int64)
    spells = spells.select("source", "cat").with_columns(i=start, j=stop).filter(pl.col("i") < pl.col("j"))
    deltas = pl.concat([spells.select("source", "cat", k="i", d=pl.lit(1)),
                        spells.select("source", "cat", k="j", d=pl.lit(-1))]).group_by("source", "cat", "k").agg(
        pl.col("d").sum())
    grid = deltas.select("source", "cat").unique().join(
        pl.DataFrame({"k": range(len(ends)), "period": labels}, schema={"k": pl.Int64, "period": pl.String}),
        how="cross")
    running = grid.join(deltas, on=["source", "cat", "k"], how="left").sort("source", "cat", "k").with_columns(
        wip=pl.col("d").fill_null(0).cum_sum().over("source", "cat"))
    return running.filter(pl.col("wip") != 0).select("period", "source", "cat", "wip")


def _quantiles(x: pl.Expr) -> dict[str, pl.Expr]:
    """Median (`statistics.median`) and SPEC §7 p85 of a group's values, with the same arithmetic as `p50`/`p85`."""
    s, n = x.sort(), x.len()

    def at(i: pl.Expr) -> pl.Expr:
        return s.get(i, null_on_oob=True)

    mid = n // 2
    median = pl.when(n % 2 == 1).then(at(mid)).otherwise((at(mid - 1) + at(mid)) / 2)
    m = n - 1
    j, delta = (85 * m) // 100, ((85 * m) % 100).cast(pl.Float64)
    interp = div(at(j) * (100 - delta) + at(j + 1) * delta, 100)
    return {"p50": pl.when(n > 0).then(median), "p85": pl.when(n == 1).then(at(pl.lit(0))).when(n > 1).then(interp)}


def _done_metrics(done: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    cycle = pl.col("cycle")
    review = pl.col("review_days").filter(pl.col("entered_review"))
    has_due = pl.col("due_date").is_not_null()
    est = pl.col("estimate_hours")
    estimated = est.is_not_null() & (est > 0)
    q, rq = _quantiles(cycle), _quantiles(review)
    return done.group_by(keys).agg(
        throughput=pl.len(), cycle_p50=q["p50"], cycle_p85=q["p85"], review_p50=rq["p50"],
        reworked=pl.col("reworked").sum(), blocked=pl.col("blocked_days").sum(), cycles=cycle.sum(),
        late=pl.col("late").filter(has_due).sum(), with_due=has_due.sum(),
        logged=pl.col("logged_hours").filter(estimated).sum(), estimate=est.filter(estimated).sum(),
    )


def _metrics(parts: dict[str, pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    """Every tally of `metrics_row` per group of `keys`, one row per group with any activity."""
    counts = [
        parts["created"].group_by(keys).agg(created=pl.len(), created_ok=pl.col("intake_ok").sum()),
        parts["due"].group_by(keys).agg(due=pl.len(), due_on_time=pl.col("on_time").sum()),
        parts["wip"].group_by(keys).agg(pl.col("wip").sum()),
    ]
    out = _done_metrics(parts["done"], keys)
    for frame in counts:
        out = out.join(frame, on=keys, how="full", coalesce=True)
    return out


def _ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b != 0).then(a / b)


def _rows(m: pl.DataFrame) -> list[Row]:
    zero = ["throughput", "wip", "reworked", "late", "with_due", "due", "due_on_time", "created", "created_ok"]
    m = m.with_columns(pl.col(zero).fill_null(0), pl.col("blocked", "cycles", "logged", "estimate").fill_null(0.0))
    r = m.select(
        "period", "source", "cat", "throughput", "wip", "cycle_p50", "cycle_p85", "review_p50",
        rework=_ratio(pl.col("reworked"), pl.col("throughput")), blocked_share=_ratio(pl.col("blocked"),
                                                                                       pl.col("cycles")),
        late_rate=_ratio(pl.col("late"), pl.col("with_due")), reliability=_ratio(pl.col("due_on_time"), pl.col("due")),
        estimate_ratio=_ratio(pl.col("logged"), pl.col("estimate")),
        intake=_ratio(pl.col("created_ok"), pl.col("created")),
    )
    places = {"cycle_p50": 2, "cycle_p85": 2, "review_p50": 2, "rework": 4, "blocked_share": 4, "late_rate": 4,
              "reliability": 4, "estimate_ratio": 2, "intake": RATIO_PLACES}
    r = r.with_columns(rounded(r[name], p).alias(name) for name, p in places.items())
    return [list(row) for row in r.rows()]


def _sort_key(row: Row) -> tuple:
    return tuple((0, "") if v == ALL else (1, str(v)) for v in row[:3])


def flow_frame_table(tasks: pl.DataFrame, changes: pl.DataFrame, cal: LocalCalendar, as_of: datetime) -> Table:
    """The Flow metrics tab from the frames (`tasks` with figures and `intake_ok`): per period the `All` row and one
    row per (source, category) with any activity (completed, WIP at the period's end, created, or due and already
    judged), sorted by period."""
    header = list(HEADERS[FLOW_METRICS])
    if tasks.height == 0:
        return [header]
    tz = tz_name(cal.tz)
    today = cal.day(as_of)
    first = min(cal.day(tasks["created_at"].min()), today)
    cat = pl.col("category")
    t = tasks.with_columns(cat=pl.when(cat.is_null() | (cat == "")).then(pl.lit(UNCATEGORISED)).otherwise(cat))
    completed_day = local_day_expr("completed_at", tz)
    done_cols = [pl.col("cycle_days").fill_null(0.0).alias("cycle"), "review_days", "entered_review", "blocked_days",
                 "reworked", "late", "due_date", "logged_hours", "estimate_hours"]
    open_or_done = t.select("source", "cat", "stage", "due_date", "completed_at").filter(
        pl.col("stage") != Stage.CANCELLED)
    parts = {
        "done": _period_parts(t, completed_day, done_cols),
        "created": _period_parts(t, local_day_expr("created_at", tz), [pl.col("intake_ok").fill_null(True)]),
        "due": _period_parts(open_or_done, pl.col("due_date"), [
            (completed_day.is_not_null() & (completed_day <= pl.col("due_date"))).alias("on_time")]),
        "wip": _wip_counts(t, changes, cal, first, today),
    }
    now = cal.date_labels(today)
    judged = pl.when(pl.col("period").str.contains("W")).then(pl.col("period") <= now.week).otherwise(
        pl.col("period") <= now.month)
    parts = {name: frame.filter(judged) for name, frame in parts.items()}
    groups = _metrics(parts, GROUP)
    totals = _metrics(parts, ["period"]).with_columns(source=pl.lit(ALL), cat=pl.lit(ALL))
    rows = _rows(pl.concat([groups, totals.select(groups.columns)]))
    rows.sort(key=_sort_key)
    return [header, *rows]


def flow_table(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    intake_ok: Mapping[tuple[str, str], bool],
    cal: LocalCalendar,
    as_of: datetime,
) -> Table:
    """`flow_frame_table` of Python tasks and their figures (through the frames bridge)."""
    fr = frames_from_tasks(tasks, figures, intake_ok)
    return flow_frame_table(fr.tasks, fr.changes, cal, as_of)


def intake_complete(tasks: Iterable[Task], intake_ok: Mapping[tuple[str, str], bool]) -> float | None:
    """Share of tasks that break no intake rule now (SPEC §7, over every task); None when there are none."""
    ok = [intake_ok.get((t.source, t.key), True) for t in tasks]
    return ratio(sum(ok), len(ok))
