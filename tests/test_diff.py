"""Tests for the sink-agnostic diff helpers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncer.sinks import TabChange
from syncer.sinks.diff import (
    changed_rows,
    diff_table,
    header_differs,
    normalise_cell,
    normalise_table,
    row_runs,
)

H = ["Source", "Key", "Title", "Cost"]
KEY = (0, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (True, True),
        (False, False),
        (3.0, 3),
        (-0.0, 0),
        (2.5, 2.5),
        (0.1 + 0.2, 0.3),
        (Decimal("12.50"), 12.5),
        (float("nan"), None),
        (float("inf"), None),
        ("a\r\nb\rc", "a\nb\nc"),
        (" x ", " x "),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),
        (date(2026, 5, 1), "2026-05-01"),
        (datetime(2026, 5, 1), "2026-05-01"),
        (datetime(2026, 5, 1, 9, 30), "2026-05-01T09:30:00"),
    ],
)
def test_normalise_cell(value, expected):
    got = normalise_cell(value)
    assert got == expected
    assert type(got) is type(expected)


def test_normalise_table_drops_trailing_blanks():
    assert normalise_table([["a", None, ""], [None], ["b", 1.0], [], [None, ""]]) == [("a",), (), ("b", 1)]
    assert normalise_table(None) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, [H], TabChange()),
        (None, [H, ["jira", "A-1", "t", 1]], TabChange(added=1)),
        ([H, ["jira", "A-1", "t", 1]], [H, ["jira", "A-1", "t", 1.0]], TabChange()),
        ([H, ["jira", "A-1", "t", 1]], [H, ["jira", "A-1", "t", 2]], TabChange(changed=1)),
        ([H, ["jira", "A-1", "t", 1]], [H], TabChange(removed=1)),
        ([H, ["jira", "A-1", "t", None]], [H, ["jira", "A-1", "t"]], TabChange()),
        ([H, ["jira", "A-1", "t", ""]], [H, ["jira", "A-1", "t", None]], TabChange()),
        # order never counts as a change
        ([H, ["jira", "A-1"], ["jira", "A-2"]], [H, ["jira", "A-2"], ["jira", "A-1"]], TabChange()),
        # the same key in another source is another row
        ([H, ["jira", "A-1", "t"]], [H, ["asana", "A-1", "t"]], TabChange(added=1, removed=1)),
        (
            [H, ["jira", "A-1", "a"], ["jira", "A-2", "b"], ["jira", "A-3", "c"]],
            [H, ["jira", "A-1", "a"], ["jira", "A-2", "B"], ["jira", "A-4", "d"], ["jira", "A-5", "e"]],
            TabChange(added=2, changed=1, removed=1),
        ),
        # repeated keys (Total rows): identical ones match, the rest pair up as changed
        ([H, ["x", "Total", 1], ["y", "Total", 2]], [H, ["x", "Total", 1], ["y", "Total", 3]], TabChange(changed=1)),
        ([H, ["x", "Total", 1]], [H, ["x", "Total", 1], ["x", "Total", 5]], TabChange(added=1)),
        # the header is not a row
        ([["Other"], ["jira", "A-1"]], [H, ["jira", "A-1"]], TabChange()),
    ],
)
def test_diff_table(old, new, expected):
    assert diff_table(old, new, KEY) == expected


def test_changed_rows_positional_and_header():
    old = [H, ["jira", "A-1", "a"], ["jira", "A-2", "b"], ["jira", "A-3", "c"]]
    new = [H, ["jira", "A-1", "a"], ["jira", "A-2", "B"]]
    assert changed_rows(old, new) == [2, 3]
    assert changed_rows(None, new) == [0, 1, 2]
    assert changed_rows(new, new) == []
    assert not header_differs(old, new)
    assert header_differs(None, new)
    assert header_differs([["x"]], new)


def test_row_runs():
    assert row_runs([7, 1, 2, 3, 3]) == [(1, 4), (7, 8)]
    assert row_runs([]) == []


cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=4),
)
keys = st.tuples(st.sampled_from(["jira", "asana"]), st.text(min_size=1, max_size=3))
rows = st.lists(st.tuples(keys, st.lists(cells, max_size=3)), max_size=12)


def _table(spec) -> list[list]:
    return [H] + [[*key, *rest] for key, rest in spec]


@given(rows)
def test_diff_with_itself_is_empty(spec):
    table = _table(spec)
    assert diff_table(table, table, KEY) == TabChange()
    assert changed_rows(table, table) == []


@given(rows, rows)
def test_counts_match_key_sets(old_spec, new_spec):
    old, new = _table(dict(old_spec).items()), _table(dict(new_spec).items())  # unique keys
    old_keys, new_keys = {tuple(r[:2]) for r in old[1:]}, {tuple(r[:2]) for r in new[1:]}
    change = diff_table(old, new, KEY)
    assert change.added == len(new_keys - old_keys)
    assert change.removed == len(old_keys - new_keys)
    assert change.changed <= len(old_keys & new_keys)
    assert diff_table(new, old, KEY) == TabChange(added=change.removed, changed=change.changed, removed=change.added)


@given(rows, rows)
def test_added_minus_removed_is_growth_even_with_repeated_keys(old_spec, new_spec):
    old, new = _table(old_spec), _table(new_spec)
    change = diff_table(old, new, KEY)
    assert change.added - change.removed == len(normalise_table(new)) - len(normalise_table(old))


@given(rows, rows)
def test_writing_changed_rows_turns_old_into_new(old_spec, new_spec):
    old, new = normalise_table(_table(old_spec)), normalise_table(_table(new_spec))
    patched = list(old) + [()] * max(0, len(new) - len(old))
    for i in changed_rows(old, new):
        patched[i] = new[i] if i < len(new) else ()
    assert normalise_table(patched) == new
