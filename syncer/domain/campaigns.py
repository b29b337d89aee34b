"""The Campaigns tab (SPEC §6, §12): schedule and budget per campaign side by side, as polars over the frames.

The budget columns are read from the Budget rollup the ledger wrote (each campaign's `Total` row), never
recomputed, so the two tabs agree to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from syncer.domain.forecast import HISTORY_WEEKS, forecast_weeks
from syncer.domain.frames import Frames
from syncer.domain.ledger import TOTAL, UNALLOCATED
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, HEADERS, Cell, Row, Table, iso_date, money

DONE, CANCELLED, BLOCKED = "done", "cancelled", "blocked"
OPEN_STAGES = ("intake", "backlog", "in_progress", "review", "blocked")
SCHEDULES = ("done", "delayed", "at risk", "on track")
_BUDGET = ("Budgeted", "Planned", "Invoiced", "Labour", "Open commitments", "Remaining", "Used %", "Flag")


@dataclass(frozen=True, slots=True)
class Clock:
    """The figures' reference time and what follows from it: the local date (`today`) and the zone's name."""

    as_of: datetime
    zone: str
    today: date

    @classmethod
    def of(cls, as_of: datetime, zone: str) -> Clock:
        return cls(as_of, zone, as_of.astimezone(ZoneInfo(zone)).date())


def local_date(column: str, zone: str) -> pl.Expr:
    """A UTC timestamp column as the calendar date in `zone`."""
    return pl.col(column).dt.convert_time_zone(zone).dt.date()


def blocked_now(frames: Frames, as_of: datetime) -> pl.DataFrame:
    """(source, key, blocked_since) of the tasks blocked now: in the blocked stage, or flagged as an impediment.
    Since is the earlier of the last entry into blocked and the start of the flag still set."""
    entered = (frames.changes.filter(pl.col("to_stage") == BLOCKED).group_by("source", "key")
               .agg(pl.col("at").max().alias("entered")))
    stage = (frames.tasks.select("source", "key", "stage", "created_at").filter(pl.col("stage") == BLOCKED)
             .join(entered, on=["source", "key"], how="left")
             .select("source", "key", pl.coalesce("entered", "created_at").alias("since")))
    flags = (frames.flags.filter((pl.col("start") <= as_of) & (pl.col("end").is_null() | (pl.col("end") > as_of)))
             .group_by("source", "key").agg(pl.col("start").min().alias("since")))
    return (pl.concat([stage, flags]).group_by("source", "key").agg(pl.col("since").min().alias("blocked_since")))


def campaign_name() -> pl.Expr:
    """The ledger's campaign of a task: its campaign trimmed, `Unallocated` when blank."""
    name = pl.col("campaign").str.strip_chars()
    return pl.when(name.is_null() | (name == "")).then(pl.lit(UNALLOCATED)).otherwise(name).alias("name")


def weekly_throughput(tasks: pl.DataFrame, clock: Clock) -> dict[str, list[int]]:
    """Per campaign, tasks completed in each of the last 12 complete ISO weeks (oldest first)."""
    first = clock.today - timedelta(days=clock.today.weekday() + 7 * HISTORY_WEEKS)
    counts = (tasks.filter(pl.col("stage") == DONE)
              .with_columns(((local_date("completed_at", clock.zone) - first).dt.total_days() // 7).alias("week"))
              .filter(pl.col("week").is_between(0, HISTORY_WEEKS - 1))
              .group_by("name", "week").len())
    out: dict[str, list[int]] = {}
    for name, week, n in counts.iter_rows():
        out.setdefault(name, [0] * HISTORY_WEEKS)[week] = n
    return out


def schedule_stats(frames: Frames, clock: Clock) -> pl.DataFrame:
    """Tasks, Done, Open, Blocked, Overdue, Due next and Last due per campaign (cancelled tasks left out)."""
    blocked = blocked_now(frames, clock.as_of).select("source", "key", pl.lit(True).alias("blocked_now"))
    live = (frames.tasks.select("source", "key", "stage", "campaign", "due_date")
            .filter(pl.col("stage") != CANCELLED).with_columns(campaign_name())
            .join(blocked, on=["source", "key"], how="left"))
    is_open = pl.col("stage") != DONE
    return live.group_by("name").agg(
        pl.len().alias("tasks"),
        (~is_open).sum().alias("done"),
        is_open.sum().alias("open"),
        (is_open & pl.col("blocked_now").fill_null(False)).sum().alias("blocked"),
        (is_open & (pl.col("due_date") < clock.today)).sum().alias("overdue"),
        pl.col("due_date").filter(is_open & (pl.col("due_date") >= clock.today)).min().alias("due_next"),
        pl.col("due_date").max().alias("last_due"),
    )


def schedule(open_: int, overdue: int, blocked: int, last_due: date | None,
             forecast: tuple[date, date] | None) -> str:
    """`done`, `delayed`, `at risk` or `on track` (SPEC §12)."""
    if open_ == 0:
        return "done"
    if overdue > 0 or (forecast and last_due and forecast[0] > last_due):
        return "delayed"
    if forecast is None or blocked > 0 or (last_due and forecast[1] > last_due):
        return "at risk"
    return "on track"


def budget_totals(rollup: Table) -> tuple[dict[str, dict[str, Cell]], dict[str, Cell]]:
    """The Budget rollup's campaign `Total` rows and grand `Total` row, by column name."""
    header = [str(h) for h in rollup[0]]
    campaigns: dict[str, dict[str, Cell]] = {}
    grand: dict[str, Cell] = {}
    for row in rollup[1:]:
        named = dict(zip(header, row, strict=False))
        if named.get("Activity") == TOTAL:
            campaigns[str(named["Campaign"])] = named
        elif named.get("Campaign") == TOTAL and named.get("Activity") is None:
            grand = named
    return campaigns, grand


def budget_cells(total: dict[str, Cell], labour_in_budget: bool) -> Row:
    """Budgeted, Planned, Spent, Open commitments, Remaining, Used %, Budget flag from a ledger Total row."""
    if not total:
        return [None] * 7
    b = {k: total.get(k) for k in _BUDGET}
    spent = (b["Invoiced"] or 0) + ((b["Labour"] or 0) if labour_in_budget else 0)
    return [b["Budgeted"], b["Planned"], money(spent), b["Open commitments"], b["Remaining"], b["Used %"], b["Flag"]]


def campaigns_table(frames: Frames, clock: Clock, rollup: Table, labour_in_budget: bool) -> Table:
    """The Campaigns tab: one row per campaign with a task or a budget line (`Unallocated` only when it has
    amounts), sorted by name, then a `Total` row."""
    assert rollup and rollup[0] == HEADERS[BUDGET_ROLLUP][: len(rollup[0])], "the ledger's Budget rollup"
    totals, grand = budget_totals(rollup)
    tasks = frames.tasks.select("stage", "completed_at", campaign_name())  # what the throughput reads
    stats = {r["name"]: r for r in schedule_stats(frames, clock).iter_rows(named=True)}
    names = (set(tasks["name"].unique()) - {UNALLOCATED}) | set(totals)
    weekly = weekly_throughput(tasks, clock)
    rows: list[Row] = []
    for name in sorted(names):
        s = stats.get(name) or {"tasks": 0, "done": 0, "open": 0, "blocked": 0, "overdue": 0, "due_next": None,
                                "last_due": None}
        weeks = forecast_weeks(weekly.get(name, [0] * HISTORY_WEEKS), s["open"], name, clock.today)
        when = None if weeks is None else tuple(clock.today + timedelta(days=7 * n) for n in weeks)
        verdict = schedule(s["open"], s["overdue"], s["blocked"], s["last_due"], when)
        rows.append([name, s["tasks"], s["done"], s["open"], s["blocked"], s["overdue"], iso_date(s["due_next"]),
                     iso_date(s["last_due"]), *(iso_date(d) for d in (when or (None, None))), verdict,
                     *budget_cells(totals.get(name, {}), labour_in_budget)])
    return [list(HEADERS[CAMPAIGNS]), *rows, total_row(rows, grand, labour_in_budget)]


def total_row(rows: Sequence[Row], grand: dict[str, Cell], labour_in_budget: bool) -> Row:
    """The `Total` row: counts summed, the earliest Due next and latest Last due, the grand Total's budget."""
    def col(i: int) -> list:
        return [r[i] for r in rows if r[i] is not None]

    counts = [sum(col(i)) for i in range(1, 6)]
    due_next, last_due = min(col(6), default=None), max(col(7), default=None)
    return [TOTAL, *counts, due_next, last_due, None, None, None, *budget_cells(grand, labour_in_budget)]


def campaigns_by_schedule(table: Table) -> dict[str, list[str]]:
    """Campaign names per Schedule verdict (the Total row left out), for the run summary and the Dashboard."""
    out: dict[str, list[str]] = {verdict: [] for verdict in SCHEDULES}
    for row in table[1:-1]:
        out[str(row[10])].append(str(row[0]))
    return out
