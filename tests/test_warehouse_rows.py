"""The warehouse's pure part: column names and types, row keys and hashes, and the rows a load needs."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.sinks import TabChange
from syncer.sinks.warehouse.rows import (
    DELETED,
    HASH,
    KEY,
    ROW,
    Kind,
    column_kind,
    column_name,
    rows_to_load,
    tab_frame,
    warehouse_frames,
)
from syncer.tables import BUDGET_ROLLUP, CLOSED_PERIODS, DASHBOARD, HEADERS, SYNC_LOG, TASKS


def test_headers_become_snake_case_columns():
    assert [column_name(h) for h in ("G/L account", "Used %", "Estimate h", "Intake OK", "First-pass yield",
                                     "API requests", "Cycle p85")] == [
        "gl_account", "used_pct", "estimate_h", "intake_ok", "first_pass_yield", "api_requests", "cycle_p85"]
    assert len({column_name(h) for t in HEADERS.values() for h in t}) == len({h for t in HEADERS.values() for h in t})


def test_column_types_from_the_header_else_the_values():
    assert column_kind("Planned", [1200, 3.5, None]) is Kind.DECIMAL
    assert column_kind("Logged h", [16, 8]) is Kind.DOUBLE  # whole hours this run are still hours
    assert column_kind("Throughput", [3, 0]) is Kind.BIGINT
    assert column_kind("Completed", [3, 0]) is Kind.BIGINT  # the Weekly review's count...
    assert column_kind("Completed", ["2026-05-02T11:30:00+02:00", None]) is Kind.TIMESTAMP  # ...the Tasks' time
    assert column_kind("Completed", [None, None]) is Kind.TIMESTAMP  # empty: the Tasks' meaning
    assert column_kind("Due", ["2026-05-02"]) is Kind.DATE
    assert column_kind("Late", [True, False]) is Kind.BOOL
    assert column_kind("Period", ["2026-05", "2026-W07"]) is Kind.TEXT
    assert column_kind("Key", ["2026-05-02", "MKT-1"]) is Kind.TEXT  # one text among dates: all text
    assert column_kind("New column", [None]) is Kind.TEXT


def test_a_tab_frame_is_typed_and_keeps_repeated_keys_apart():
    header = HEADERS[BUDGET_ROLLUP]
    row = ["Launch", "Total", None, None, 100, 50, 0, 10.5, 0, 0, 89.5, 0.105, "ok"]
    frame = tab_frame(BUDGET_ROLLUP, [header, row, list(row)])
    assert frame.columns[:2] == [KEY, HASH] and frame["budgeted"].dtype == pl.Decimal(18, 2)
    assert frame["invoiced"].to_list() == [Decimal("10.50")] * 2
    assert frame[KEY].n_unique() == 2  # the same key twice: two rows
    assert frame[HASH].n_unique() == 1  # ...with the same values
    changed = tab_frame(BUDGET_ROLLUP, [header, [*row[:4], 101, *row[5:]]])
    assert changed[HASH][0] != frame[HASH][0] and changed[KEY][0] == frame[KEY][0]


def test_a_tab_frame_reads_times_as_instants():
    header = HEADERS[SYNC_LOG]
    frame = tab_frame(SYNC_LOG, [header, ["2026-05-02T11:30:00+02:00", "full", 1.5, 3, 1, 0, 4, 2, None, "1"]])
    assert str(frame["run_at"][0]) == "2026-05-02 09:30:00+00:00"
    assert frame["fetched"].dtype == pl.Int64 and frame["duration_s"].dtype == pl.Float64


def test_the_dashboard_is_not_loaded_and_new_tabs_are():
    tables = {DASHBOARD: [["Figure", "Value"], ["Open tasks", 3]], "Team notes": [["Team", "Note"], ["web", "x"]]}
    assert [s.name for s in warehouse_frames(tables, None)] == ["team_notes"]


def frame_of(rows: list[tuple[str, int]], title: str = TASKS) -> pl.DataFrame:
    header = HEADERS[title]
    return tab_frame(title, [header, *[[src, key, *([None] * (len(header) - 3)), n] for src, key, n in rows]])


def test_rows_to_load_names_added_changed_and_removed_rows():
    old = frame_of([("web", "MKT-1", 1), ("web", "MKT-2", 1), ("web", "MKT-3", 1)])
    new = frame_of([("web", "MKT-1", 1), ("web", "MKT-2", 2), ("web", "MKT-4", 1)])
    change, load = rows_to_load(new, old.select(KEY, HASH), appended=False)
    assert change == TabChange(added=1, changed=1, removed=1)
    assert sorted(load.filter(pl.col(DELETED).is_null())["key"].to_list()) == ["MKT-2", "MKT-4"]
    assert load.filter(pl.col(DELETED))[KEY].to_list() == old.filter(pl.col("key") == "MKT-3")[KEY].to_list()
    nothing, empty = rows_to_load(new, new.select(KEY, HASH), appended=False)
    assert nothing == TabChange() and empty.height == 0


def test_an_appended_table_only_gains_rows_numbered_after_the_old():
    header = HEADERS[CLOSED_PERIODS]
    row = ["2026-10", "close", "2026-11-02T10:00:00+01:00", "Ana", None, "Launch", None, None, *[1] * 7]
    old = tab_frame(CLOSED_PERIODS, [header, row])
    reopen = [*row[:1], "reopen", *row[2:]]
    change, load = rows_to_load(tab_frame(CLOSED_PERIODS, [header, reopen]), old.select(KEY, HASH), appended=True)
    assert change == TabChange(added=1)  # the old row missing from the tab given is not removed
    assert load["action"].to_list() == ["reopen"] and load[ROW].to_list() == [1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["K1", "K2", "K3", "K4"]), st.integers(0, 2)),
                max_size=8),
       st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["K1", "K2", "K3", "K4"]), st.integers(0, 2)),
                max_size=8))
def test_loading_the_rows_turns_the_old_table_into_the_new(old_rows, new_rows):
    old, new = frame_of(old_rows), frame_of(new_rows)
    change, load = rows_to_load(new, old.select(KEY, HASH), appended=False)
    held = dict(zip(old[KEY].to_list(), old[HASH].to_list(), strict=True))  # a merge on _syncer_key, as dlt does
    for key, h, gone in zip(load[KEY].to_list(), load[HASH].to_list(),
                            load[DELETED].to_list() if DELETED in load.columns else [None] * load.height,
                            strict=True):
        if gone:
            del held[key]
        else:
            held[key] = h
    assert held == dict(zip(new[KEY].to_list(), new[HASH].to_list(), strict=True))
    assert change.added - change.removed == new.height - old.height
