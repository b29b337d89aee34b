"""Request counts and payload sizes of the gsheet sink on a 5,000-task sheet."""

from __future__ import annotations

import json

from fake_sheets import FakeSheets, make_sink
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.sinks import diff
from syncer.tables import BUDGET_ROLLUP, HEADERS, OWNED_TABS, TASKS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
N = 5000
TWO_MB = 2_000_000


def task(source: str, i: int, cost: float = 1234.56) -> list:
    key = f"MKT-{i}" if source == "jira" else str(1201000000000000 + i)
    return [
        source, key, f"Landing page refresh for the spring campaign, variant {i} ünïcødé", "Task", "in_progress",
        "In Progress", f"person{i % 40}@acme.com", f"Campaign {i % 25}", f"Activity {i % 7}", "design", "6100",
        "2026-02-03T09:00:00+01:00", "2026-02-04T09:00:00+01:00", None, "2026-03-01", 8.0, 6.5, 520.0, cost,
        1000.0, None, None, 1.25, 0.5, False, False, True, f"https://acme.atlassian.net/browse/MKT-{i}",
    ]


def tables(rows: list[list]) -> dict[str, list[list]]:
    out = {t: [list(HEADERS[t])] for t in OWNED_TABS}
    out[TASKS] += rows
    out[BUDGET_ROLLUP] += [[f"Campaign {c}", "Total", None, "2026-02", 10000.0, 5000.0, 4000.0, 3000.0, 200.0,
                            1000.0, 5800.0, 0.42, "ok"] for c in range(25)]
    return out


def run(fake: FakeSheets, info: dict, tabs: dict, n: int) -> dict:
    fake.calls.clear()
    sink = make_sink(fake, info)
    plan = sink.plan(tabs)
    sink.apply(plan, [f"2026-02-{n:02d}T10:00:00+01:00", "full", 1.0])
    sizes = [len(json.dumps(p)) for k, p in fake.calls if k in ("batchUpdate", "valuesBatchUpdate")]
    return {"kinds": dict(fake.kinds()), "total": fake.count(), "sizes": sizes, "plan": plan}


def test_request_counts_for_5000_tasks(fake, capsys):
    info = fake.share(EMAIL)
    rows = [task("asana", i) for i in range(N // 5)] + [task("jira", i) for i in range(1, N - N // 5 + 1)]

    first = run(fake, info, tables(rows), 1)
    chunks = first["kinds"]["valuesBatchUpdate"]
    assert first["total"] <= 4 + (chunks - 1)
    assert first["kinds"].get("batchUpdate") == 1 and first["kinds"]["metadata"] == 1
    assert all(size < TWO_MB for size in first["sizes"])
    assert fake.values(TASKS) == diff_free(tables(rows)[TASKS])

    again = run(fake, info, tables(rows), 2)
    assert again["total"] <= 3 and again["kinds"] == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}
    assert again["plan"].rows_written == 0 and max(again["sizes"]) < 1000

    # a new Asana task sorts above every Jira row: one inserted row, not a rewrite of the 4,000 below it
    changed = rows[:10] + [task("asana", 10, cost=1.0)] + rows[11:1000] + [task("asana", 99_999)] + rows[1000:]
    third = run(fake, info, tables(changed), 3)
    assert third["total"] <= 4 and max(third["sizes"]) < 10_000
    assert third["kinds"] == {"metadata": 1, "batchGet": 1, "batchUpdate": 1, "valuesBatchUpdate": 1}
    assert [vr["range"] for vr in fake.payloads("valuesBatchUpdate")[0]["data"] if "Tasks" in vr["range"]][:2] == [
        "'Tasks'!A12:AB12", "'Tasks'!A1002:AB1002"]
    assert fake.values(TASKS) == diff_free(tables(changed)[TASKS])

    with capsys.disabled():
        print(f"\n5,000 tasks: first run {first['kinds']} (payloads {first['sizes']} bytes); "
              f"unchanged {again['kinds']}; one changed + one inserted {third['kinds']} (payloads {third['sizes']})")


def diff_free(table: list[list]) -> list[list]:
    """A table as the fake reads it back (None as "", integral floats as ints, trailing blanks dropped)."""
    out = []
    for row in diff.normalise_table(table):
        out.append(["" if v is None else v for v in row])
    return out


keys = st.lists(st.integers(0, 30), unique=True, max_size=25).map(sorted)


@settings(max_examples=300, deadline=None)
@given(old=keys, new=keys, changed=st.sets(st.integers(0, 30), max_size=3))
def test_row_moves_keep_unchanged_rows_in_place_and_writes_rebuild_the_new_table(old, new, changed):
    header = [("Source", "Key", "Value")]
    old_t = header + [("s", f"K-{k}", k) for k in old]
    new_t = header + [("s", f"K-{k}", -k - 1 if k in changed else k) for k in new]
    moves = diff.row_moves(old_t, new_t, (0, 1))
    current = diff.apply_moves(old_t, moves)
    written = diff.changed_rows(current, new_t)
    sheet = [list(r) for r in current]
    for i in written:
        sheet += [[]] * (i + 1 - len(sheet))
        sheet[i] = list(new_t[i]) if i < len(new_t) else []
    assert diff.normalise_table(sheet) == diff.normalise_table(new_t)
    assert len(written) <= len(diff.changed_rows(old_t, new_t))  # never more writes than in place
    untouched = (set(old) & set(new)) - changed
    if moves:  # rows that did not change stay where they are, unwritten
        assert not [i for i in written if 0 < i < len(new_t) and int(new_t[i][1][2:]) in untouched]


def test_row_moves_give_up_on_a_reordered_table():
    header = [("Source", "Key")]
    old_t = header + [("s", str(k)) for k in range(200)]
    new_t = header + [("s", str(k)) for k in reversed(range(200))]
    assert diff.row_moves(old_t, new_t, (0, 1)) == []
    assert diff.row_moves(old_t, old_t, (0, 1)) == [] and diff.row_moves(None, new_t, (0, 1)) == []


@settings(max_examples=300, deadline=None)
@given(old=st.lists(st.integers(0, 6), max_size=20), new=st.lists(st.integers(0, 6), max_size=20))
def test_row_moves_with_repeated_keys_never_cost_more_than_rewriting(old, new):
    header = [("Campaign", "Activity")]
    old_t = header + [(f"C{k}", "Total") for k in old]
    new_t = header + [(f"C{k}", "Total") for k in new]
    current = diff.apply_moves(old_t, diff.row_moves(old_t, new_t, (0, 1)))
    written = diff.changed_rows(current, new_t)
    assert len(written) <= len(diff.changed_rows(old_t, new_t))
    sheet = [list(r) for r in current] + [[]] * len(new_t)
    for i in written:
        sheet[i] = list(new_t[i]) if i < len(new_t) else []
    assert diff.normalise_table(sheet) == diff.normalise_table(new_t)
