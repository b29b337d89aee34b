"""The Tasks tab (SPEC §6): one row per task, from the task and its §5 figures."""

from __future__ import annotations

from datetime import tzinfo

import polars as pl

from syncer.domain.cells import iso_local_expr, money_values, natural_sorted, rounded
from syncer.domain.figures import tz_name
from syncer.tables import HEADERS, TASKS, Table

SHOWN = ("source", "key", "title", "type", "stage", "status", "owner", "campaign", "activity", "category",
         "gl_account", "created_at", "started_at", "completed_at", "due_date", "estimate_hours", "logged_hours",
         "labour_cost", "planned_cost", "committed_amount", "invoiced_amount", "cycle_days", "review_days",
         "blocked_days", "reworked", "late", "intake_ok", "url")


def tasks_frame_table(tasks: pl.DataFrame, tz: tzinfo) -> Table:
    """The whole Tasks tab from the tasks frame (with figures and `intake_ok`), header first, rows sorted by
    (Source, Key) with Jira-style keys in number order; every value rounded as `task_row` rounds it."""
    t = natural_sorted(tasks.select(SHOWN), [pl.col("source")], [])  # the columns shown: a sort moves each
    zone = tz_name(tz)
    text = t.select(
        "source", "key", "title", "type", "stage", "status", "owner", "campaign", "activity", "category",
        "gl_account", iso_local_expr("created_at", zone), iso_local_expr("started_at", zone),
        iso_local_expr("completed_at", zone), pl.col("due_date").dt.strftime("%Y-%m-%d"))
    numbers = [rounded(t["estimate_hours"]), rounded(t["logged_hours"]), money_values(t["labour_cost"]),
               money_values(t["planned_cost"]), money_values(t["committed_amount"]),
               money_values(t["invoiced_amount"]), rounded(t["cycle_days"]), rounded(t["review_days"]),
               rounded(t["blocked_days"])]
    url = t.select(pl.when(pl.col("url") != "").then(pl.col("url")))
    columns = [*text.get_columns(), *numbers, t["reworked"], t["late"], t["intake_ok"], url.to_series()]
    frame = pl.DataFrame([c.alias(f"c{i}") for i, c in enumerate(columns)])
    return [list(HEADERS[TASKS]), *map(list, frame.rows())]
