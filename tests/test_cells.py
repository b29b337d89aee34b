"""Written values and orders from polars columns agree with the row-by-row helpers in `syncer.tables`."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from syncer.domain.cells import natural_sorted
from syncer.tables import natural_key

KEYS = st.lists(st.one_of(
    st.from_regex(r"\A[A-Z]{0,3}-?[0-9]{1,22}\Z"),  # MKT-12, 007, -5, a 22-digit number (past Int64)
    st.text(alphabet="AB-0129x", max_size=6),  # keys without a number, or with several dashes
    st.text(alphabet="M-1\u0663\uff15\u00b2\n", max_size=5),  # other scripts' digits, ², a newline: not numbers
), max_size=40)


@given(st.lists(st.tuples(st.sampled_from(["jira", "asana"]), st.text(alphabet="AB-019", max_size=5))), KEYS)
def test_the_natural_order_in_columns_is_the_row_by_row_one(pairs, keys):
    rows = pairs + [("jira", k) for k in keys]
    frame = pl.DataFrame(rows, schema={"source": pl.String, "key": pl.String}, orient="row").with_row_index("i")
    got = natural_sorted(frame, [pl.col("source")], [])["i"].to_list()
    want = sorted(range(len(rows)), key=lambda i: (rows[i][0], natural_key(rows[i][1])))
    assert got == want


@given(st.lists(st.tuples(st.sampled_from(["MKT-2", "MKT-10", "x"]), st.sampled_from(["b", "a"]))))
def test_the_natural_order_breaks_ties_by_the_columns_after_it(pairs):
    frame = pl.DataFrame(pairs, schema={"key": pl.String, "rule": pl.String}, orient="row")
    got = natural_sorted(frame, [], [pl.col("rule")]).rows()
    assert got == sorted(pairs, key=lambda p: (natural_key(p[0]), p[1]))
    assert natural_sorted(frame, [], []).columns == ["key", "rule"]


def test_numbers_sort_as_numbers_of_any_length():
    keys = ["MKT-10", "MKT-9", "MKT-009", "123456789012345678901234", "99", "MKT", "MKT-0", "A-B-2", "A-B-10",
            "MKT-\u0663", "X-\u00b2", "-", "--1"]
    frame = pl.DataFrame({"key": keys})
    assert natural_sorted(frame, [], [])["key"].to_list() == sorted(keys, key=natural_key)
