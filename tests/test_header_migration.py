"""Header migration (SPEC §6): a tab with a header an earlier syncer version wrote is rewritten once with the
current header and said in the Sync log; a header syncer never wrote is still refused. Both sinks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fake_sheets import make_sink
from openpyxl import Workbook, load_workbook
from tables_builders import tables, task

from syncer.cli import main
from syncer.errors import SinkError
from syncer.sinks import TabChange
from syncer.sinks.xlsx import XlsxSink
from syncer.tables import BUDGET_ROLLUP, EARLIER_HEADERS, HEADERS, SYNC_LOG, TASKS, header_status, migration_note

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
# An earlier release without the Labour cost column: this release added it in the middle of the Tasks tab.
DROPPED = HEADERS[TASKS].index("Labour cost")


def old_version(row: list) -> list:
    return row[:DROPPED] + row[DROPPED + 1:]


def log_row(n: int) -> list:
    return [f"2026-02-{n:02d}T10:00:00+01:00", "full", 1.5, 3, 3, 0, 7, 0, None, "0.1.0"]


@pytest.fixture
def earlier(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    header = tuple(old_version(HEADERS[TASKS]))
    monkeypatch.setitem(EARLIER_HEADERS, TASKS, (header,))
    return header


def test_header_status_and_note(earlier):
    assert header_status(TASKS, HEADERS[TASKS]).value == "current"
    assert header_status(TASKS, earlier).value == "earlier"
    assert header_status(TASKS, ["Key", "Title"]).value == "foreign"
    note = migration_note(TASKS, earlier)
    assert "'Tasks'" in note and "added Labour cost" in note and "removed" not in note


def test_xlsx_migrates_an_earlier_header_once_then_changes_nothing(tmp_path: Path, earlier):
    path = tmp_path / "ops.xlsx"
    new = tables(task("MKT-1", cost=10.0), task("MKT-2", cost=20.0))
    wb = Workbook()
    ws = wb.active
    ws.title = TASKS
    for row in new[TASKS]:
        ws.append(old_version(row))
    wb.save(path)

    sink = XlsxSink(path)
    plan = sink.plan(new)
    assert plan.warnings == [migration_note(TASKS, earlier)]
    assert plan.tabs[TASKS] == TabChange(changed=2)  # every row gains the Labour cost
    sink.apply(plan, log_row(1))
    got = [[c.value for c in row] for row in load_workbook(path)[TASKS].iter_rows()]
    assert got[0] == HEADERS[TASKS]
    assert [r[DROPPED] for r in got[1:]] == [10.0, 20.0]

    again = sink.plan(new)
    assert again.warnings == [] and again.rows_written == 0


def test_xlsx_still_refuses_a_header_syncer_never_wrote(tmp_path: Path, earlier):
    path = tmp_path / "ops.xlsx"
    wb = Workbook()
    wb.active.title = TASKS
    wb.active.append(["Key", "Title", "Owner"])
    wb.save(path)
    with pytest.raises(SinkError, match="header syncer did not write"):
        XlsxSink(path).plan(tables(task("MKT-1")))


def test_gsheet_migrates_an_earlier_header_in_one_run_then_changes_nothing(fake, earlier):
    info = fake.share(EMAIL)
    new = tables(task("MKT-1", cost=10.0), task("MKT-2", cost=20.0))
    fake.add_sheet(TASKS, [old_version(r) for r in new[TASKS]], rows=50, cols=len(earlier))

    fake.calls.clear()
    sink = make_sink(fake, info)
    plan = sink.plan(new)
    assert plan.warnings == [migration_note(TASKS, earlier)]
    sink.apply(plan, log_row(1))
    assert fake.count("metadata", "batchGet") == 2 and fake.count("batchUpdate", "valuesBatchUpdate") == 2
    values = fake.values(TASKS)
    assert values[0] == HEADERS[TASKS]
    assert [r[DROPPED] for r in values[1:]] == [10, 20]
    formats = [f for f in fake.sheet(TASKS).formats if f["fields"] == "userEnteredFormat.numberFormat"]
    assert formats[0]["cell"] == {"userEnteredFormat": {}}  # the old columns' formats cleared first
    money = [f for f in formats if f["range"].get("startColumnIndex") == DROPPED]
    assert money and money[-1]["cell"]["userEnteredFormat"]["numberFormat"]["pattern"] == "#,##0.00"

    fake.calls.clear()
    sink = make_sink(fake, info)
    again = sink.plan(new)
    assert again.warnings == [] and again.rows_written == 0
    sink.apply(again, log_row(2))
    assert "batchUpdate" not in fake.kinds()
    ranges = [vr["range"] for body in fake.payloads("valuesBatchUpdate") for vr in body["data"]]
    assert ranges == [f"'{SYNC_LOG}'!A3:J3"]


def test_gsheet_still_refuses_a_header_syncer_never_wrote(fake, earlier):
    info = fake.share(EMAIL)
    fake.add_sheet(TASKS, [["Key", "Title", "Owner"], ["MKT-1", "x", "y"]])
    with pytest.raises(SinkError, match="header syncer did not write"):
        make_sink(fake, info).plan(tables(task("MKT-1")))


def test_a_workbook_of_the_previous_release_is_migrated_by_one_run_then_changes_nothing(tmp_path: Path):
    """The demo written, then its Budget rollup put back as release 0.1 wrote it (no Adjusts column)."""
    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "config/demo.yaml").read_text())
    cfg["sink"]["path"], cfg["state"]["path"] = str(tmp_path / "demo.xlsx"), str(tmp_path / "state.db")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run = lambda: CliRunner().invoke(main, ["run", "--config", str(config)])  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        assert run().exit_code == 0
        wb = load_workbook(tmp_path / "demo.xlsx")
        ws = wb[BUDGET_ROLLUP]
        assert ws.cell(1, ws.max_column).value == "Adjusts"
        ws.delete_cols(ws.max_column)
        wb.save(tmp_path / "demo.xlsx")
        second = run()
        third = run()
    assert second.exit_code == 0 and "had an earlier syncer version's header" in second.output
    log = [[c.value for c in r] for r in load_workbook(tmp_path / "demo.xlsx")[SYNC_LOG].iter_rows()]
    assert "'Budget rollup' had an earlier syncer version's header" in (log[2][HEADERS[SYNC_LOG].index("Warnings")])
    assert [c.value for c in load_workbook(tmp_path / "demo.xlsx")[BUDGET_ROLLUP][1]] == HEADERS[BUDGET_ROLLUP]
    assert "rows written: 0" in third.output and "earlier syncer version" not in third.output
