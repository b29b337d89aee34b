"""The gsheet sink against the fake Sheets API: one read, minimal RAW writes, nobody else's tabs touched."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from fake_sheets import ApiError, FakeSheets, as_typed, make_sink
from gspread.exceptions import APIError
from tables_builders import tables, task

from syncer.domain.budget import budget_from_rows
from syncer.errors import SinkError
from syncer.sinks import TabChange
from syncer.tables import BUDGET_ROLLUP, CAPACITY, HEADERS, INTAKE, OWNED_TABS, SYNC_LOG, SYNC_LOG_KEEP, TASKS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
WIDTH = len(HEADERS[TASKS])
LAST = "AB"  # column letter of the Tasks tab's last column


def log_row(n: int = 1) -> list:
    return [f"2026-02-{n:02d}T10:00:00+01:00", "full", 1.5, 3, 3, 0, 7, 0, None, "0.1.0"]


def sheet_rows(table: list[list]) -> list[list]:
    """A table as the fake reads it back: None as "", trailing blanks dropped."""
    out = []
    for row in table:
        cells = ["" if v is None else v for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        out.append(cells)
    return out


@pytest.fixture
def info(fake):
    return fake.share(EMAIL)


def sync(fake: FakeSheets, info: dict, tabs: dict, n: int = 1, sleeps: list | None = None) -> dict[str, TabChange]:
    """One run with a fresh sink (as the pipeline makes one), counting only this run's calls."""
    fake.calls.clear()
    sink = make_sink(fake, info, sleeps)
    plan = sink.plan(tabs)
    assert sink.apply(plan, log_row(n)) == fake.count()
    return plan.tabs


def written_ranges(fake: FakeSheets) -> list[str]:
    """The ranges written, the Sync log's (sent first) last, as the tests name them."""
    ranges = [vr["range"] for body in fake.payloads("valuesBatchUpdate") for vr in body["data"]]
    return sorted(ranges, key=lambda r: r.startswith(f"'{SYNC_LOG}'"))


def test_first_run_creates_the_tabs_with_formats_and_writes_them(fake, info):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    changes = sync(fake, info, tabs)
    assert changes[TASKS] == TabChange(added=2)
    assert fake.kinds() == {"metadata": 1, "batchUpdate": 1, "valuesBatchUpdate": 1}  # no owned tab to read yet
    # a sheet syncer never wrote to: the Dashboard first, then the user's Sheet1, then the rest
    assert [s.title for s in fake.sheets] == [OWNED_TABS[0], "Sheet1", *OWNED_TABS[1:], SYNC_LOG]
    assert fake.values(TASKS) == sheet_rows(tabs[TASKS])
    assert fake.values(CAPACITY) == sheet_rows(tabs[CAPACITY])
    assert fake.values(SYNC_LOG) == sheet_rows([HEADERS[SYNC_LOG], log_row(1)])
    assert fake.scopes == ["https://www.googleapis.com/auth/spreadsheets"]  # not the whole Drive
    tasks = fake.sheet(TASKS)
    assert tasks.frozen == 1 and tasks.cols == WIDTH and tasks.rows >= 3
    fmt = {(f["range"].get("startColumnIndex"), f["fields"]): f["cell"]["userEnteredFormat"] for f in tasks.formats}
    assert fmt[(None, "userEnteredFormat.textFormat.bold")] == {"textFormat": {"bold": True}}
    money = HEADERS[TASKS].index("Labour cost")
    assert fmt[(money, "userEnteredFormat.numberFormat")]["numberFormat"]["pattern"] == "#,##0.00"
    assert fake.sheet("Sheet1").cells == {}


def test_second_identical_run_writes_only_the_sync_log_row(fake, info):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    sync(fake, info, tabs)
    changes = sync(fake, info, tabs, n=2)
    assert all(c == TabChange() for c in changes.values())
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}
    assert written_ranges(fake) == [f"'{SYNC_LOG}'!A3:J3"]
    assert fake.values(SYNC_LOG)[1:] == sheet_rows([log_row(1), log_row(2)])


def test_the_read_asks_for_unformatted_values_of_owned_tabs_and_two_slices_of_the_log(fake, info):
    sync(fake, info, tables(task("MKT-1")))
    sync(fake, info, tables(task("MKT-1")), n=2)
    (params,) = fake.payloads("batchGet")
    assert params["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert params["dateTimeRenderOption"] == ["SERIAL_NUMBER"]  # never text in the sheet's locale
    assert params["ranges"] == [f"'{t}'" for t in OWNED_TABS] + [f"'{SYNC_LOG}'!1:1", f"'{SYNC_LOG}'!A:A"]


def test_one_changed_task_rewrites_only_its_row(fake, info):
    sync(fake, info, tables(task("MKT-1"), task("MKT-2"), task("MKT-3")))
    changes = sync(fake, info, tables(task("MKT-1"), task("MKT-2", cost=99.0), task("MKT-3")), n=2)
    assert changes[TASKS] == TabChange(changed=1)
    assert "batchUpdate" not in fake.kinds()
    assert written_ranges(fake) == [f"'{TASKS}'!A3:{LAST}3", f"'{SYNC_LOG}'!A3:J3"]
    assert fake.values(TASKS)[2][HEADERS[TASKS].index("Labour cost")] == 99


def test_a_removed_task_in_the_middle_is_a_row_deletion_not_a_rewrite(fake, info):
    rows = [task(f"MKT-{i}") for i in range(1, 8)]
    sync(fake, info, tables(*rows))
    grid = fake.sheet(TASKS).rows
    changes = sync(fake, info, tables(*rows[:2], *rows[3:]), n=2)
    assert changes[TASKS] == TabChange(removed=1)
    (structural,) = fake.payloads("batchUpdate")
    assert structural["requests"][0]["deleteDimension"]["range"] == {
        "sheetId": fake.sheet(TASKS).sheet_id, "dimension": "ROWS", "startIndex": 3, "endIndex": 4}
    assert "valuesBatchUpdate" not in fake.kinds()  # no value changed: the log row rides in the structural request
    assert structural["requests"][-1]["updateCells"]["start"]["rowIndex"] == 2
    assert fake.values(SYNC_LOG)[2] == sheet_rows([log_row(2)])[0]
    assert fake.values(TASKS) == sheet_rows(tables(*rows[:2], *rows[3:])[TASKS])
    assert fake.sheet(TASKS).rows == grid - 1


def test_the_last_task_removed_is_cleared_in_place(fake, info):
    sync(fake, info, tables(task("MKT-1"), task("MKT-2")))
    sync(fake, info, tables(task("MKT-1")), n=2)
    assert "batchUpdate" not in fake.kinds()
    assert written_ranges(fake) == [f"'{TASKS}'!A3:{LAST}3", f"'{SYNC_LOG}'!A3:J3"]
    (cleared,) = [vr for vr in fake.payloads("valuesBatchUpdate")[0]["data"] if vr["range"].startswith(f"'{TASKS}'")]
    assert cleared["values"] == [[""] * WIDTH]
    assert fake.values(TASKS) == sheet_rows(tables(task("MKT-1"))[TASKS])


def test_a_task_added_in_the_middle_inserts_one_row_and_writes_only_it(fake, info):
    sync(fake, info, tables(task("MKT-1"), task("MKT-3"), task("MKT-4")))
    new = tables(task("MKT-1"), task("MKT-2"), task("MKT-3"), task("MKT-4"))
    assert sync(fake, info, new, n=2)[TASKS] == TabChange(added=1)
    (structural,) = fake.payloads("batchUpdate")
    insert = structural["requests"][0]["insertDimension"]
    assert insert["range"]["startIndex"] == 2 and insert["range"]["endIndex"] == 3 and insert["inheritFromBefore"]
    assert written_ranges(fake) == [f"'{TASKS}'!A3:{LAST}3", f"'{SYNC_LOG}'!A3:J3"]
    assert fake.values(TASKS) == sheet_rows(new[TASKS])


def test_a_task_added_right_under_the_header_inherits_from_below(fake, info):
    sync(fake, info, tables(task("MKT-2"), task("MKT-3")))
    sync(fake, info, tables(task("MKT-1"), task("MKT-2"), task("MKT-3")), n=2)
    insert = fake.payloads("batchUpdate")[0]["requests"][0]["insertDimension"]
    assert insert["range"]["startIndex"] == 1 and insert["inheritFromBefore"] is False


def test_a_formula_looking_title_lands_as_text(fake, info):
    title = '=IMPORTXML("http://x","//a")'
    sync(fake, info, tables(task("MKT-1", title=title), task("MKT-2", title="+1")))
    assert fake.values(TASKS)[1][2] == title and fake.values(TASKS)[2][2] == "+1"
    assert all(body["valueInputOption"] == "RAW" for body in fake.payloads("valuesBatchUpdate"))
    assert sync(fake, info, tables(task("MKT-1", title=title), task("MKT-2", title="+1")), n=2)[TASKS] == TabChange()


def test_values_round_trip_without_spurious_changes(fake, info):
    odd = task("MKT-1", title="line\r\nbreak", cost=0.1 + 0.2)
    odd[HEADERS[TASKS].index("Reworked")] = True
    odd[HEADERS[TASKS].index("Estimate h")] = float("nan")
    sync(fake, info, tables(odd, task("MKT-2", title="x" * 60_000)))
    assert len(fake.values(TASKS)[2][2]) == 50_000  # Google's per-cell limit, cut before the diff sees it
    assert sync(fake, info, tables(odd, task("MKT-2", title="x" * 60_000)), n=2)[TASKS] == TabChange()


def test_a_users_tab_and_budget_are_untouched_byte_for_byte(fake, info):
    fake.add_sheet("Budget", [["Campaign", "Activity", "G/L account", "Period", "Amount"],
                              ["Spring", "Ads", "6100", "2026-05", 1000]], frozen=1)
    fake.add_sheet("Finance notes", [["=SUM(Tasks!R:R)", "keep me"]])
    before = {t: fake.dump(t) for t in ("Budget", "Finance notes", "Sheet1")}
    sync(fake, info, tables(task("MKT-1"), task("MKT-2")))
    sync(fake, info, tables(task("MKT-2", cost=5.0), task("MKT-3")), n=2)
    sync(fake, info, tables(task("MKT-2", cost=5.0), task("MKT-3")), n=3)
    assert {t: fake.dump(t) for t in before} == before
    touched = {vr["range"].split("!")[0].strip("'") for b in fake.payloads("valuesBatchUpdate") for vr in b["data"]}
    assert touched <= {*OWNED_TABS, SYNC_LOG}


def test_a_foreign_tab_named_tasks_is_refused_before_any_write(fake, info):
    fake.add_sheet(TASKS, [["Task", "Who"], ["Call printer", "Ana"]])
    before = fake.dump(TASKS)
    sink = make_sink(fake, info)
    with pytest.raises(SinkError, match="'Tasks'.*header syncer did not write") as err:
        sink.plan(tables(task("MKT-1")))
    assert err.value.exit_code == 1
    assert fake.count("batchUpdate", "valuesBatchUpdate") == 0
    assert fake.dump(TASKS) == before


def test_a_foreign_sync_log_is_refused(fake, info):
    fake.add_sheet(SYNC_LOG, [["When", "What"]])
    with pytest.raises(SinkError, match="Sync log"):
        make_sink(fake, info).plan(tables())


def test_an_empty_tab_named_tasks_is_adopted_and_formatted(fake, info):
    fake.add_sheet(TASKS, rows=5, cols=3)
    sync(fake, info, tables(task("MKT-1")))
    sheet = fake.sheet(TASKS)
    assert fake.values(TASKS) == sheet_rows(tables(task("MKT-1"))[TASKS])
    assert sheet.frozen == 1 and sheet.cols == WIDTH and any("bold" in f["fields"] for f in sheet.formats)


def test_429_with_retry_after_is_waited_out_then_written(fake, info):
    sync(fake, info, tables(task("MKT-1")))
    fake.fail("valuesBatchUpdate", 429, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    sync(fake, info, tables(task("MKT-1", cost=3.0)), n=2, sleeps=sleeps)
    assert sleeps == [7.0]
    assert fake.kinds()["valuesBatchUpdate"] == 2
    assert fake.values(TASKS)[1][HEADERS[TASKS].index("Labour cost")] == 3


def test_a_persistent_503_gives_up_after_the_bounded_retries_with_the_sheet_unchanged(fake, info):
    sync(fake, info, tables(task("MKT-1"), task("MKT-2")))
    before = {s.title: fake.dump(s.title) for s in fake.sheets}
    fake.fail("valuesBatchUpdate", 503, times=None)
    fake.calls.clear()
    sleeps: list[float] = []
    sink = make_sink(fake, info, sleeps)
    plan = sink.plan(tables(task("MKT-1", cost=1.0), task("MKT-3")))
    with pytest.raises(SinkError, match="still failing after 6 attempts") as err:
        sink.apply(plan, log_row(2))
    assert err.value.exit_code == 1
    assert fake.kinds()["valuesBatchUpdate"] == 6 and len(sleeps) == 5 and max(sleeps) <= 60
    assert {s.title: fake.dump(s.title) for s in fake.sheets} == before


def test_budget_is_read_in_the_same_batch_get_and_a_bad_row_is_reported(fake, info):
    fake.add_sheet("Budget", [["Campaign", "Activity", "G/L account", "Period", "Amount"],
                              ["Spring", "Ads", "6100", "2026-05", 1000],
                              ["Spring", "Ads", "6100", "someday", 500],
                              ["Summer", "", "", "FY2027-Q2", "1,200.50"]])
    sync(fake, info, tables(task("MKT-1")))
    fake.calls.clear()
    sink = make_sink(fake, info)
    lines, warnings = budget_from_rows(sink.read_tab("Budget"))
    assert [(x.campaign, x.period, x.amount) for x in lines] == [("Spring", "2026-05", 1000), ("Summer", "FY2027-Q2",
                                                                                                1200.5)]
    assert len(warnings) == 1 and "row 3" in warnings[0] and "someday" in warnings[0]
    sink.apply(sink.plan(tables(task("MKT-1"))), log_row(2))
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}
    assert "'Budget'" in fake.payloads("batchGet")[0]["ranges"]
    assert sink.read_tab("No such tab") is None


def test_dry_run_plans_from_the_read_and_writes_nothing(fake, info):
    sync(fake, info, tables(task("MKT-1")))
    fake.calls.clear()
    plan = make_sink(fake, info).plan(tables(task("MKT-1"), task("MKT-2")))
    assert plan.tabs[TASKS] == TabChange(added=1) and plan.rows_written == 1
    assert fake.kinds() == {"metadata": 1, "batchGet": 1}


def test_the_cell_budget_is_checked_before_writing(fake, info):
    fake.add_sheet("Archive", rows=9_999_000, cols=1)
    with pytest.raises(SinkError, match="10,000,000"):
        make_sink(fake, info).plan(tables(task("MKT-1")))
    assert fake.count("batchUpdate", "valuesBatchUpdate") == 0


def test_near_the_cell_budget_grids_grow_without_headroom_and_warn(fake, info):
    fake.add_sheet("Archive", rows=9_960_000, cols=1)
    sink = make_sink(fake, info)
    plan = sink.plan(tables(task("MKT-1")))
    assert any("of its 10,000,000 cells" in w for w in plan.warnings)
    sink.apply(plan, log_row())
    assert fake.sheet(TASKS).rows == 2
    assert fake.sheet(INTAKE).rows == 2  # header only, yet a row under it: Google refuses to freeze every row


def test_the_sync_log_keeps_the_newest_rows_in_one_request_when_nothing_else_changed(fake, info):
    tabs = tables(task("MKT-1"))
    sync(fake, info, tabs)
    old = [[f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}", "full"] for i in range(SYNC_LOG_KEEP)]
    log = fake.sheet(SYNC_LOG)
    log.cells = {}
    for r, row in enumerate([HEADERS[SYNC_LOG], *old]):
        for c, v in enumerate(row):
            log.cells[(r, c)] = v
    changes = sync(fake, info, tabs, n=9)
    assert all(c == TabChange() for c in changes.values())
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "batchUpdate": 1}
    values = fake.values(SYNC_LOG)
    assert len(values) == SYNC_LOG_KEEP + 1 and values[1] == old[1] and values[-1] == sheet_rows([log_row(9)])[0]
    assert fake.sheet(SYNC_LOG).rows == SYNC_LOG_KEEP + 1
    sync(fake, info, tables(task("MKT-1", cost=2.0)), n=10)  # at the cap with a data change: log row with the data
    assert fake.values(SYNC_LOG)[-1] == sheet_rows([log_row(10)])[0] and len(fake.values(SYNC_LOG)) == 1001


def test_owned_tabs_not_given_are_left_alone(fake, info):
    sync(fake, info, tables(task("MKT-1")))
    before = fake.dump(BUDGET_ROLLUP)
    fake.calls.clear()
    sink = make_sink(fake, info)
    sink.apply(sink.plan({TASKS: tables(task("MKT-2"))[TASKS]}), log_row(2))
    assert fake.dump(BUDGET_ROLLUP) == before
    with pytest.raises(ValueError, match="only syncer's tabs"):
        sink.plan({"Budget": [["Campaign"]]})


def test_budget_periods_that_sheets_turned_into_dates_are_read_as_months(fake, info):
    typed = [["Campaign", "Activity", "G/L account", "Period", "Amount"],
             ["Spring", "Ads", "6100", "2026-05", 1000],  # Sheets stores this as the date 2026-05-01
             ["Spring", "Ads", "6100", "2026-06-15", 46143],  # an amount that happens to look like a serial
             ["Summer", "", "", "FY2027-Q2", "1,200.50"]]
    fake.add_sheet("Budget", as_typed(typed))
    assert fake._read(fake.sheet("Budget"), 1, 3, 2, 4, "FORMATTED_STRING") == [["5/1/2026"]]  # what it was read as
    rows = make_sink(fake, info).read_tab("Budget")
    assert [r[3] for r in rows[1:3]] == [46143, 46188]  # date serials: days since 1899-12-30
    lines, warnings = budget_from_rows(rows)
    assert warnings == []
    assert [(x.period, x.amount) for x in lines] == [("2026-05", 1000), ("2026-06", 46143), ("FY2027-Q2", 1200.5)]


def test_a_date_typed_into_an_owned_tab_reads_as_a_serial_and_is_rewritten_as_iso_text(fake, info):
    tabs = tables(task("MKT-1"), task("MKT-2"))
    sync(fake, info, tabs)
    created = HEADERS[TASKS].index("Created")
    fake.sheet(TASKS).cells[(2, created)] = datetime(2026, 2, 3, 9)  # a user retyped it: now a date cell
    assert sync(fake, info, tabs, n=2)[TASKS] == TabChange(changed=1)
    assert written_ranges(fake)[0] == f"'{TASKS}'!A3:{LAST}3"
    assert fake.sheet(TASKS).cells[(2, created)] == "2026-02-03T09:00:00+01:00"
    assert sync(fake, info, tabs, n=3)[TASKS] == TabChange()  # ISO text reads back as the same text


@pytest.mark.parametrize("title", ["tasks", "SYNC LOG"])
def test_a_tab_named_like_syncers_but_for_case_is_refused_before_any_write(fake, info, title):
    fake.add_sheet(title, [["Task", "Who"]])
    with pytest.raises(SinkError, match=f"tab '{title}' of the Google Sheet has the name of syncer's tab .*rename"):
        make_sink(fake, info).plan(tables(task("MKT-1")))
    assert fake.count("batchUpdate", "valuesBatchUpdate") == 0


def test_read_tab_finds_the_tab_whatever_the_case_of_its_title(fake, info):
    fake.add_sheet("budget", [["Campaign", "Period", "Amount"], ["Spring", "FY2027", 10]])
    sink = make_sink(fake, info)
    assert sink.read_tab("Budget") == [["Campaign", "Period", "Amount"], ["Spring", "FY2027", 10]]
    assert "'budget'" in fake.payloads("batchGet")[0]["ranges"]


def test_a_structural_update_whose_answer_was_lost_is_not_repeated_and_the_next_run_completes(fake, info):
    rows = [task(f"MKT-{i}") for i in range(1, 8)]
    sync(fake, info, tables(*rows))
    fake.fail("batchUpdate", 502, after=True)  # Google deleted the row, but the answer never came back
    fake.calls.clear()
    sink = make_sink(fake, info)
    with pytest.raises(SinkError, match="may have been carried out all the same, so it was not repeated"):
        sink.apply(sink.plan(tables(*rows[:2], *rows[3:])), log_row(2))
    assert fake.count("batchUpdate") == 1
    assert len(fake.values(TASKS)) == 7  # one row deleted, not two
    sync(fake, info, tables(*rows[:2], *rows[3:]), n=3)
    assert fake.values(TASKS) == sheet_rows(tables(*rows[:2], *rows[3:])[TASKS])


def test_a_structural_update_refused_with_429_is_retried(fake, info):
    fake.fail("batchUpdate", 429, headers={"Retry-After": "1"})
    sync(fake, info, tables(task("MKT-1")), sleeps=[])
    assert fake.kinds()["batchUpdate"] == 2 and fake.values(TASKS) == sheet_rows(tables(task("MKT-1"))[TASKS])


def test_new_sheet_ids_stay_int32(fake, info, monkeypatch):
    monkeypatch.setattr("syncer.sinks.gsheet.sink.zlib", SimpleNamespace(crc32=lambda b: 0x7FFFFFFF))
    fake.sheet("Sheet1").sheet_id = 0x7FFFFFFF
    sync(fake, info, tables(task("MKT-1")))
    assert sorted(s.sheet_id for s in fake.sheets) == [*range(len(OWNED_TABS) + 1), 0x7FFFFFFF]


def test_the_fake_refuses_what_the_api_refuses(fake, info):
    http = make_sink(fake, info).http
    fake.add_sheet("Notes")
    with pytest.raises(ApiError, match="already exists"):
        fake.add_sheet("NOTES")
    for props, message in [({"title": "notes"}, "already exists"), ({"title": "X", "sheetId": 2**31}, "TYPE_INT32"),
                           ({"title": "X", "gridProperties": {"rowCount": 1, "frozenRowCount": 1}}, "freeze all")]:
        with pytest.raises(APIError, match=message):
            http.batch_update(fake.id, {"requests": [{"addSheet": {"properties": props}}]})
    with pytest.raises(APIError, match="maximum of 50000 characters"):
        http.values_batch_update(fake.id, {"valueInputOption": "RAW",
                                           "data": [{"range": "'Notes'!A1", "values": [["x" * 50_001]]}]})
    meta = http.fetch_sheet_metadata(fake.id, {"fields": "sheets.properties(title)"})
    assert meta == {"sheets": [{"properties": {"title": "Sheet1"}}, {"properties": {"title": "Notes"}}]}
    assert [s.title for s in fake.sheets] == ["Sheet1", "Notes"] and fake.sheet("Notes").cells == {}


def test_the_fake_appends_and_clears_raw_like_the_api(fake, info):
    http = make_sink(fake, info).http
    fake.add_sheet("Scratch", [["a", "b"]], rows=2, cols=2)
    http.values_append(fake.id, "'Scratch'!A1", {"valueInputOption": "RAW"}, {"values": [["=1+1", 2, True]]})
    assert fake.values("Scratch") == [["a", "b"], ["=1+1", 2, True]] and fake.sheet("Scratch").rows == 2
    http.values_batch_clear(fake.id, body={"ranges": ["'Scratch'!A2:C2"]})
    assert fake.values("Scratch") == [["a", "b"]]
    http.values_append(fake.id, "'Scratch'!A1", {"valueInputOption": "USER_ENTERED"}, {"values": [["x"]]})
    assert fake.violations == ["values:append with valueInputOption ['USER_ENTERED']"]
    fake.violations.clear()
