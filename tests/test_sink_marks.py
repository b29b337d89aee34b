"""Sinks that skip what is unchanged: the state's marks of what syncer last wrote, the sinks' own checks that the
file or sheet is still as syncer left it, and the same cells written as after a read back."""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path

import pytest
from fake_sheets import FakeSheets, make_sink
from openpyxl import load_workbook
from openpyxl.chart import BarChart, Reference
from tables_builders import dashboard, tables, task

from syncer.sinks import TabChange
from syncer.sinks.marks import SinkMarks
from syncer.sinks.xlsx import XlsxSink
from syncer.state import State
from syncer.tables import CAMPAIGNS, CAPACITY, DASHBOARD, HEADERS, OWNED_TABS, SYNC_LOG, TASKS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"


def log_row(n: int) -> list:
    return [f"2026-02-{n:02d}T10:00:00+01:00", "incremental", 1.5, 3, 3, 0, 7, 0, None, "0.1.0"]


def through_state(marks: SinkMarks | None, tmp_path: Path) -> SinkMarks | None:
    """Marks as the next run gets them: saved to and loaded from a state file."""
    if marks is None:
        return None
    state = State(tmp_path / "state.db")
    state.save_sink_marks("s", marks.dump())
    try:
        return SinkMarks.load(state.sink_marks("s"))
    finally:
        state.close()


def run(sink, tabs: dict, n: int, marks: SinkMarks | None = None, recheck: bool = False):
    sink.recall(marks, recheck)
    plan = sink.plan(tabs)
    sink.apply(plan, log_row(n))
    return plan


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def part_of(path: Path, title: str) -> str:
    from syncer.sinks.xlsx_parts import sheet_parts

    with zipfile.ZipFile(path) as z:
        return sheet_parts(z)[title]


# ---- xlsx ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def book(tmp_path: Path) -> Path:
    return tmp_path / "ops.xlsx"


def test_an_unchanged_xlsx_run_reads_nothing_back_and_rewrites_only_the_log(book, tmp_path, monkeypatch):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    first = run(XlsxSink(book), tabs, 1)
    before = parts(book)
    monkeypatch.setattr("syncer.sinks.xlsx.load_workbook", lambda *a, **k: pytest.fail("the workbook was read"))
    second = run(XlsxSink(book), tabs, 2, through_state(first.marks, tmp_path))
    assert all(c == TabChange() for c in second.tabs.values())
    after, log = parts(book), part_of(book, SYNC_LOG)
    # every other part byte for byte; the workbook part's autofilter name of the Sync log covers the new row
    assert {n for n in after if after[n] != before[n]} == {log, "xl/workbook.xml"}
    assert _filter_names(book)[SYNC_LOG] == "'Sync log'!$A$1:$J$3"
    monkeypatch.undo()
    rows = [list(r) for r in load_workbook(book)[SYNC_LOG].iter_rows(values_only=True)]
    assert rows[0] == HEADERS[SYNC_LOG] and [r[0] for r in rows[1:]] == [log_row(1)[0], log_row(2)[0]]


def test_a_changed_xlsx_tab_counts_as_a_read_back_would_and_only_it_is_rewritten(book, tmp_path):
    first = run(XlsxSink(book), tables(task("MKT-1"), task("MKT-2"), task("MKT-3")), 1)
    before = parts(book)
    changed = tables(task("MKT-1"), task("MKT-2", cost=99.0), task("MKT-4"))
    unread = XlsxSink(book)
    unread.recall(through_state(first.marks, tmp_path))
    read_back = XlsxSink(book).plan(changed)  # no marks: the workbook is read
    second = run(unread, changed, 2)
    assert second.tabs == read_back.tabs and second.tabs[TASKS] == TabChange(added=1, changed=1, removed=1)
    after = parts(book)
    rewritten = {n for n in after if after[n] != before[n]}
    assert part_of(book, TASKS) in rewritten and part_of(book, "Intake") not in rewritten
    ws = load_workbook(book)[TASKS]
    assert [r[1] for r in ws.iter_rows(min_row=2, values_only=True)] == ["MKT-1", "MKT-2", "MKT-4"]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"


def test_a_workbook_saved_by_hand_since_is_read_back(book, tmp_path):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    first = run(XlsxSink(book), tabs, 1)
    wb = load_workbook(book)
    wb[TASKS]["C2"] = "typed over by hand"
    wb.save(book)  # a new mtime and size: the marks no longer describe the file
    second = run(XlsxSink(book), tabs, 2, through_state(first.marks, tmp_path))
    assert second.tabs[TASKS] == TabChange(changed=1)  # found by reading the tab, and put right
    assert load_workbook(book)[TASKS]["C2"].value == tabs[TASKS][1][2]


def test_a_users_own_tab_with_a_chart_and_formulas_survives_syncers_writes(book, tmp_path):
    first = run(XlsxSink(book), tables(task("MKT-1")), 1)
    wb = load_workbook(book)  # the user adds a tab of their own, as in Excel: figures, formulas, a chart
    mine = wb.create_sheet("My view")
    mine.append(["Month", "Spend", "Share"])
    for i, spend in enumerate((1200, 800, 950), start=2):
        mine.append([f"2026-0{i}", spend, f"=B{i}/SUM($B$2:$B$4)"])
    chart = BarChart()
    chart.add_data(Reference(mine, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    mine.add_chart(chart, "E2")
    wb.save(book)
    user = {n: b for n, b in parts(book).items() if "chart" in n or "drawing" in n or n == part_of(book, "My view")}
    assert any("charts/chart" in n for n in user)
    marks = through_state(first.marks, tmp_path)
    for n in (2, 3):  # edited since (read back), then as syncer left it (the marks hold)
        plan = run(XlsxSink(book), tables(task("MKT-1", title=f"Brief {n}")), n, marks)
        assert plan.tabs[TASKS] == TabChange(changed=1)
        marks = through_state(plan.marks, tmp_path)
        now = parts(book)
        assert {n: now.get(n) for n in user} == user  # the user's tab, drawing and chart, byte for byte
    ws = load_workbook(book)["My view"]
    assert ws["C3"].value == "=B3/SUM($B$2:$B$4)" and len(ws._charts) == 1
    assert load_workbook(book)[TASKS]["C2"].value == "Brief 3"


def _decorated(campaigns: int, open_tasks: int) -> dict:
    out = tables(task("MKT-1"))
    out[DASHBOARD] = dashboard(campaigns)
    out[CAMPAIGNS] = [list(HEADERS[CAMPAIGNS]), ["Spring", 1, 0, 1, 0, 1, None, "2026-11-01", None, None, "delayed"]]
    out[DASHBOARD][1] = ["Open tasks", open_tasks]
    out[DASHBOARD].insert(2, ["Budget used", 0.25 + open_tasks / 100])
    out[CAMPAIGNS] += [[f"C{i}", 1, 0, 1, 0, 1, None, "2026-11-01", None, None, "at risk"] for i in range(open_tasks)]
    return out


def _look(book: Path) -> dict:
    wb = load_workbook(book)
    dash, camp = wb[DASHBOARD], wb[CAMPAIGNS]
    return {"charts": len(dash._charts), "values": [list(r) for r in dash.iter_rows(values_only=True)],
            "formats": [dash.cell(r, 2).number_format for r in range(2, 4)], "width": dash.column_dimensions["A"].width,
            "campaigns": [list(r) for r in camp.iter_rows(values_only=True)],
            "colours": sorted(str(cf.sqref) for cf in camp.conditional_formatting), "filter": camp.auto_filter.ref}


def test_a_changed_dashboard_keeps_its_charts_without_reading_the_workbook_back(book, tmp_path, monkeypatch):
    """The headline figures and the campaigns change, the charts' tables stay where they are: the new cells go under
    the drawing and colour rules already in the file, and the tabs look as a fresh layout would make them."""
    first = run(XlsxSink(book), _decorated(3, 4), 1)
    changed = _decorated(3, 6)
    fresh = tmp_path / "fresh.xlsx"
    run(XlsxSink(fresh), changed, 2)  # laid out by openpyxl from nothing: what the splice must look like
    before = parts(book)
    monkeypatch.setattr("syncer.sinks.xlsx.load_workbook", lambda *a, **k: pytest.fail("the workbook was read"))
    second = run(XlsxSink(book), changed, 2, through_state(first.marks, tmp_path))
    monkeypatch.undo()
    assert second.tabs[DASHBOARD] == TabChange(changed=2) and second.tabs[CAMPAIGNS] == TabChange(added=2)
    after = parts(book)
    assert {n for n in after if "chart" in n or "drawing" in n} == {n for n in before if "chart" in n or "drawing" in n}
    assert all(after[n] == before[n] for n in before if "chart" in n or "drawing" in n)
    look = _look(book)
    assert look == _look(fresh) and look["charts"] == 5 and look["colours"] == ["K2:K8", "R2:R8"]
    assert look["formats"] == ["General", "0.0%"] and look["width"] == 40


def test_colour_rules_laid_out_on_one_row_grow_with_the_rows_spliced_in(book, tmp_path):
    """A first sync with one campaign and nobody's time logged yet: openpyxl saves those rules as `K2` and `H2`;
    the rows spliced in later are coloured to the last one, as a fresh layout colours them."""
    small = _decorated(3, 0)
    small[CAPACITY] = [list(HEADERS[CAPACITY])]
    first = run(XlsxSink(book), small, 1)
    grown = _decorated(3, 4)
    grown[CAPACITY] += [[f"2026-W0{w}", "web", "All", "design", 40.0, 32, 1.25, True] for w in (8, 9)]
    second = run(XlsxSink(book), grown, 2, through_state(first.marks, tmp_path))
    assert second.tabs[CAMPAIGNS] == TabChange(added=4) and second.tabs[CAPACITY] == TabChange(added=3)
    fresh = tmp_path / "fresh.xlsx"
    run(XlsxSink(fresh), grown, 2)
    assert _look(book)["colours"] == _look(fresh)["colours"] == ["K2:K6", "R2:R6"]
    capacity = [str(cf.sqref) for cf in load_workbook(book)[CAPACITY].conditional_formatting]
    assert capacity == [str(cf.sqref) for cf in load_workbook(fresh)[CAPACITY].conditional_formatting] == ["H2:H4"]


def test_a_dashboard_whose_chart_tables_move_is_laid_out_again(book, tmp_path):
    first = run(XlsxSink(book), _decorated(3, 4), 1)
    moved = _decorated(5, 4)  # two more campaigns: the budget chart's range grows
    run(XlsxSink(book), moved, 2, through_state(first.marks, tmp_path))
    fresh = tmp_path / "fresh.xlsx"
    run(XlsxSink(fresh), moved, 2)
    assert _look(book) == _look(fresh)
    ranges = [str(s.val.numRef.f) for s in load_workbook(book)[DASHBOARD]._charts[0].series]
    assert ranges and all(r.endswith(f"${len(moved[DASHBOARD])}") for r in ranges), ranges  # to the 5th campaign


def test_the_state_keeps_the_marks_of_a_sync(tmp_path, raw_config, env):
    from syncer.config import parse_config
    from syncer.pipeline import run_sync

    raw_config["sink"] = {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")}
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    raw_config["sources"] = [{"name": "demo", "kind": "replay", "path": "config/demo/jira-web"}]
    cfg = parse_config(raw_config, env)
    first = run_sync(cfg)
    stamp = os.stat(tmp_path / "out.xlsx")
    again = run_sync(cfg)
    assert first.run.rows_written > 0 and again.run.rows_written == 0
    state = State(tmp_path / "state.db")
    marks = SinkMarks.load(state.sink_marks(f"xlsx:{(tmp_path / 'out.xlsx').absolute()}"))
    state.close()
    assert marks is not None and set(marks.tabs) == set(first.tables) and set(first.tables) <= set(OWNED_TABS)
    now = os.stat(tmp_path / "out.xlsx")
    assert (marks.stamp["mtime_ns"], marks.stamp["size"]) == (now.st_mtime_ns, now.st_size) != (
        stamp.st_mtime_ns, stamp.st_size)


# ---- Google Sheets ------------------------------------------------------------------------------------------------

@pytest.fixture
def info(fake):
    return fake.share(EMAIL)


def sheet_run(fake: FakeSheets, info: dict, tabs: dict, n: int, marks=None, recheck=False):
    fake.calls.clear()
    return run(make_sink(fake, info), tabs, n, marks, recheck)


def owned_reads(fake: FakeSheets) -> list[str]:
    return [r for body in fake.payloads("batchGet") for r in body["ranges"] if SYNC_LOG not in r]


def test_an_unchanged_sheet_run_reads_no_tab_of_syncers(fake, info, tmp_path):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    first = sheet_run(fake, info, tabs, 1)
    second = sheet_run(fake, info, tabs, 2, through_state(first.marks, tmp_path))
    assert all(c == TabChange() for c in second.tabs.values())
    assert owned_reads(fake) == [] and fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}
    assert second.marks.stamp["stamp"] == first.marks.stamp["stamp"]  # the stamp holds on
    assert second.marks.stamp["log"] == log_row(2)[0] != first.marks.stamp["log"]  # with this run's log row last


def structure(batches: list) -> list:
    """The structural requests sent, but for the stamp (a new value each write)."""
    return [r for body in batches for r in body["requests"] if not any("DeveloperMetadata" in k for k in r)]


def test_a_changed_sheet_tab_gets_the_cells_a_read_back_would_give_it(fake, info, tmp_path):
    rows = [task("MKT-1"), task("MKT-2"), task("MKT-3"), task("MKT-4")]
    first = sheet_run(fake, info, tables(*rows), 1)
    changed = tables(rows[0], task("MKT-2", cost=5.0), rows[3], task("MKT-5"))
    sheets, metadata = copy.deepcopy(fake.sheets), copy.deepcopy(fake.metadata)
    unread = sheet_run(fake, info, changed, 2, through_state(first.marks, tmp_path))
    assert owned_reads(fake) == []
    sent = fake.payloads("valuesBatchUpdate"), fake.payloads("batchUpdate")
    result = [fake.values(t) for t in OWNED_TABS]
    fake.sheets, fake.metadata = sheets, metadata  # the same sheet again, planned by reading it back
    read_back = sheet_run(fake, info, changed, 2)
    assert owned_reads(fake) == [f"'{t}'" for t in OWNED_TABS]
    assert unread.tabs == read_back.tabs and unread.tabs[TASKS] == TabChange(added=1, changed=1, removed=1)
    assert sent[0] == fake.payloads("valuesBatchUpdate")  # the very same cells
    assert structure(sent[1]) == structure(fake.payloads("batchUpdate"))  # and the same structural edits
    assert result == [fake.values(t) for t in OWNED_TABS]
    assert [r[1] for r in fake.values(TASKS)[1:]] == ["MKT-1", "MKT-2", "MKT-4", "MKT-5"]


def test_another_writer_or_a_restored_version_makes_the_sink_read_back(fake, info, tmp_path):
    tabs = tables(task("MKT-1"))
    marks = through_state(sheet_run(fake, info, tabs, 1).marks, tmp_path)
    fake.metadata[0]["metadataValue"] = "written by another syncer"
    marks = through_state(sheet_run(fake, info, tabs, 2, marks).marks, tmp_path)
    assert owned_reads(fake) == [f"'{t}'" for t in OWNED_TABS]
    sheet_run(fake, info, tabs, 3, marks)
    assert owned_reads(fake) == []  # read back once, then trusted again
    fake.sheet(SYNC_LOG).cells[(3, 0)] = "a run the state never heard of"  # e.g. one that failed after writing
    sheet_run(fake, info, tabs, 4, marks)
    assert owned_reads(fake) == [f"'{t}'" for t in OWNED_TABS]


def test_rows_inserted_by_hand_or_a_full_run_make_the_sink_read_back(fake, info, tmp_path):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    plan = sheet_run(fake, info, tabs, 1)
    marks = through_state(plan.marks, tmp_path)
    fake.sheet(TASKS).cells[(1, 2)] = "typed over by hand"  # no metadata shows this ...
    plan = sheet_run(fake, info, tabs, 2, marks, recheck=True)  # ... a full run reads back and repairs it
    assert owned_reads(fake) and plan.tabs[TASKS] == TabChange(changed=1)
    assert fake.values(TASKS)[1][2] == tabs[TASKS][1][2]
    marks = through_state(plan.marks, tmp_path)
    fake.sheet(TASKS).rows += 5  # rows inserted by hand: the grid is not as syncer left it
    sheet_run(fake, info, tabs, 3, marks)
    assert owned_reads(fake)


def test_a_run_with_marks_normalises_only_the_rows_that_changed(fake, info, tmp_path, monkeypatch):
    from syncer.sinks.gsheet import sink as gsheet

    rows = [task(f"MKT-{i}") for i in range(1, 40)]
    marks = through_state(sheet_run(fake, info, tables(*rows), 1).marks, tmp_path)
    seen: list[object] = []
    real = gsheet.storable
    monkeypatch.setattr(gsheet, "storable", lambda v: seen.append(v) or real(v))
    rows[20] = task("MKT-21", title="Brief, edited")
    plan = sheet_run(fake, info, tables(*rows), 2, marks)
    assert plan.tabs[TASKS] == TabChange(changed=1)
    row = len(HEADERS[TASKS])
    assert len(seen) <= 2 * row + len(log_row(2))  # the edited row (once), the header of the write, the log row
    assert "Brief, edited" in seen and fake.values(TASKS)[21][2] == "Brief, edited"


def _filter_names(path: Path) -> dict[str, str]:
    """Tab title -> the range of its hidden `_xlnm._FilterDatabase` name, as the workbook part records it."""
    import re

    with zipfile.ZipFile(path) as z:
        book = z.read("xl/workbook.xml").decode()
    titles = re.findall(r'<sheet\b[^>]*?\bname="([^"]*)"', book)
    found = re.findall(r'<definedName name="_xlnm._FilterDatabase" localSheetId="(\d+)"[^>]*>([^<]*)<', book)
    return {titles[int(i)]: ref for i, ref in found}


def test_the_autofilter_name_covers_every_row_written_on_either_path(book, tmp_path):
    first = run(XlsxSink(book), tables(task("MKT-1"), task("MKT-2")), 1)  # laid out by openpyxl, rows streamed
    assert _filter_names(book)[TASKS] == "'Tasks'!$A$1:$AB$3"
    run(XlsxSink(book), tables(*(task(f"MKT-{i}") for i in range(1, 6))), 2, through_state(first.marks, tmp_path))
    names = _filter_names(book)  # the part path: the Tasks part and the Sync log rewritten, and their names
    assert names[TASKS] == "'Tasks'!$A$1:$AB$6" and names[SYNC_LOG] == "'Sync log'!$A$1:$J$3"
    assert load_workbook(book)[TASKS].auto_filter.ref == "A1:AB6"


def test_marks_from_an_older_digest_of_the_rows_as_handed_over_cost_a_diff_not_a_rewrite(book, tmp_path, monkeypatch):
    """The digest of rows as handed over is only a shortcut past normalising; marks made with another one (an older
    version's) make the sink normalise and diff every row, which finds nothing to write."""
    import hashlib

    from syncer.sinks import marks

    monkeypatch.setattr(marks, "_raw_digest", lambda row: hashlib.blake2b(repr(row).encode(), digest_size=8).digest())
    monkeypatch.setattr(marks, "_as_handed", lambda value: repr(value).encode())
    tabs = tables(task("MKT-1"), task("MKT-2"))
    first = run(XlsxSink(book), tabs, 1)
    monkeypatch.undo()
    second = run(XlsxSink(book), tabs, 2, through_state(first.marks, tmp_path))
    assert all(c == TabChange() for c in second.tabs.values()) and second.rows_written == 0
