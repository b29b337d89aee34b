"""Merging a run's fresh rows into the stored frames: the binary-search placement gives exactly what a stable sort
by (source, key) gives, for frames in order and out of it."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.domain.stored import KEY, changed_keys, empty, frames_of, in_task_order, replaced
from syncer.model import Stage, Task, Worklog

SOURCES = st.sampled_from(["web", "content", "w", "web2", "Web", "é"])
KEYS = st.text(alphabet="MKT-0129é\x00 ", min_size=0, max_size=6)
ROWS = st.lists(st.tuples(SOURCES, KEYS, st.integers(0, 9)), max_size=40)


def frame(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"source": pl.String, "key": pl.String, "v": pl.Int64}, orient="row")


def by_sort(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([old, new]).with_row_index("_n").sort("source", "key", "_n").drop("_n")


@settings(max_examples=300, deadline=None)
@given(ROWS, ROWS, st.booleans())
def test_placing_new_tasks_among_stored_ones_is_the_stable_sort(old_rows, new_rows, presorted):
    new_tasks = {(s, k) for s, k, _ in new_rows}
    old = frame([r for r in old_rows if (r[0], r[1]) not in new_tasks])  # a fresh task's old rows are gone first
    new = frame(new_rows)
    if presorted:  # as the stored frames and a run's fresh frames are: each task's rows in their own order
        old, new = old.sort("source", "key", maintain_order=True), new.sort("source", "key", maintain_order=True)
    assert in_task_order(old, new).equals(by_sort(old, new))


@settings(max_examples=300, deadline=None)
@given(ROWS, ROWS, st.lists(st.tuples(SOURCES, KEYS), max_size=8), st.booleans())
def test_replacing_tasks_is_dropping_their_old_rows_then_the_stable_sort(old_rows, new_rows, dropped, presorted):
    new_tasks = {(s, k) for s, k, _ in new_rows}
    gone = pl.DataFrame([*new_tasks, *dropped], schema=KEY, orient="row")  # replaced tasks, deleted ones, unknown
    old, new = frame(old_rows), frame(new_rows)
    if presorted:
        old, new = old.sort("source", "key", maintain_order=True), new.sort("source", "key", maintain_order=True)
    kept = old.join(gone, on=["source", "key"], how="anti", maintain_order="left")
    assert replaced(old, new, gone).equals(by_sort(kept, new))


def test_a_new_task_lands_between_stored_tasks_with_its_rows_in_order() -> None:
    old = frame([("web", "MKT-1", 1), ("web", "MKT-1", 2), ("web", "MKT-3", 1)])
    new = frame([("content", "9", 1), ("web", "MKT-2", 2), ("web", "MKT-2", 1), ("web", "MKT-4", 1)])
    assert in_task_order(old, new).rows() == [
        ("content", "9", 1), ("web", "MKT-1", 1), ("web", "MKT-1", 2), ("web", "MKT-2", 2), ("web", "MKT-2", 1),
        ("web", "MKT-3", 1), ("web", "MKT-4", 1)]


def test_changed_keys_are_the_new_tasks_and_those_with_any_row_changed() -> None:
    def task(key: str, hours: float, title: str = "t") -> Task:
        at = datetime(2026, 5, 1, tzinfo=UTC)
        return Task("web", key, title, at, Stage.BACKLOG, "To Do", Stage.BACKLOG, worklogs=[Worklog("a@x", at, hours)])

    first = frames_of([task("MKT-1", 1.0), task("MKT-2", 2.0)])
    assert changed_keys(empty(), first).rows() == [("web", "MKT-1"), ("web", "MKT-2")]  # a first run: all new
    assert changed_keys({}, first).rows() == [("web", "MKT-1"), ("web", "MKT-2")]
    assert changed_keys(first, first).is_empty()
    again = frames_of([task("MKT-1", 1.0), task("MKT-2", 2.5), task("MKT-3", 1.0)])  # a worklog changed, one new
    assert sorted(changed_keys(first, again).rows()) == [("web", "MKT-2"), ("web", "MKT-3")]
    renamed = frames_of([task("MKT-1", 1.0, "t2")])
    assert changed_keys(first, renamed).rows() == [("web", "MKT-1")]
