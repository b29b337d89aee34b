"""Tests for the xlsx sink: owned tabs written raw and atomically, everyone else's tabs left alone."""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.styles import Font
from tables_builders import tables, task

from syncer.errors import ConfigError, SinkError
from syncer.sinks import TabChange
from syncer.sinks import xlsx as xlsx_module
from syncer.sinks.xlsx import XlsxSink, storable
from syncer.tables import HEADERS, OWNED_TABS, SYNC_LOG, TASKS

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def log_row(n: int = 1) -> list:
    return [f"2026-02-0{n}T10:00:00+01:00", "full", 1.5, 3, 3, 0, 7, 0, None, "0.1.0"]


def sync(sink: XlsxSink, tabs: dict, n: int = 1) -> dict[str, TabChange]:
    plan = sink.plan(tabs)
    assert sink.apply(plan, log_row(n)) == 0
    return plan.tabs


def snapshot(path: Path, title: str) -> list[tuple]:
    """Every cell of a tab: value, stored type, bold, number format."""
    ws = load_workbook(path, rich_text=True)[title]
    return [
        (c.coordinate, c.value, c.data_type, bool(c.font.bold), c.number_format) for row in ws.iter_rows() for c in row
    ]


def sheet_xml(path: Path, title: str) -> ElementTree.Element:
    """The parsed worksheet part behind a tab title."""
    with zipfile.ZipFile(path) as z:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rid = next(s.get(f"{REL}id") for s in book.iter(f"{MAIN}sheet") if s.get("name") == title)
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels.iter(f"{PKG_REL}Relationship") if r.get("Id") == rid)
        return ElementTree.fromstring(z.read("xl/" + target.removeprefix("/xl/")))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "out" / "nested" / "ops.xlsx"


def finance_workbook(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Budget"
    ws.append(["Campaign", "Activity", "G/L account", "Period", "Amount"])
    ws.append(["Spring", "Ads", "6100", "2026-05", 1000])
    ws.append(["Spring", "Events", "6200", "FY2027-Q1", 2500.5])
    ws.append(["Summer", "Ads", "6100", "FY2027", 12000])
    ws["E5"] = "=SUM(E2:E4)"
    ws["A1"].font = Font(bold=True)
    ws["E5"].font = Font(bold=True)
    ws["E2"].number_format = "#,##0"
    notes = wb.create_sheet("Notes")
    notes["A1"] = "remember"
    notes["B2"] = 42
    notes["C3"] = "=text, not a formula"
    notes["C3"].data_type = "s"
    notes["D4"] = CellRichText(["partly ", TextBlock(InlineFont(b=True), "bold")])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def test_first_write_creates_owned_tabs_with_headers(path: Path):
    sink = XlsxSink(path)
    changes = sync(sink, tables(task("MKT-1"), task("MKT-2")))
    assert changes[TASKS] == TabChange(added=2)
    assert changes["Capacity"] == TabChange(added=1)
    wb = load_workbook(path)
    assert wb.sheetnames == [*OWNED_TABS, SYNC_LOG]
    for title in (*OWNED_TABS, SYNC_LOG):
        ws = wb[title]
        assert [c.value for c in ws[1]] == HEADERS[title]
        assert all(c.font.bold for c in ws[1])
        assert ws.freeze_panes == "A2"
    tasks = wb[TASKS]
    assert tasks.auto_filter.ref == "A1:AB3"
    cost = tasks.cell(row=2, column=HEADERS[TASKS].index("Labour cost") + 1)
    assert (cost.value, cost.number_format) == (1200.5, "#,##0.00")
    assert tasks.cell(row=2, column=HEADERS[TASKS].index("Late") + 1).value is False
    assert tasks.cell(row=2, column=HEADERS[TASKS].index("URL") + 1).value is None
    assert wb["Capacity"]["G2"].number_format == "0.0%"
    assert 8 <= tasks.column_dimensions["L"].width <= 60


def test_rerun_with_identical_tables_changes_nothing(path: Path):
    sink = XlsxSink(path)
    tabs = tables(task("MKT-1"), task("MKT-2", '=HYPERLINK("http://x","click")'))
    sync(sink, tabs)
    before = snapshot(path, TASKS)
    plan = sink.plan(tabs)
    assert all(change == TabChange() for change in plan.tabs.values())
    assert plan.rows_written == 0
    sink.apply(plan, log_row(2))
    assert snapshot(path, TASKS) == before


def test_changed_added_and_removed_rows_are_counted(path: Path):
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1"), task("MKT-2"), task("MKT-3")))
    one, two, three = task("MKT-1"), task("MKT-2"), task("MKT-3")
    assert sink.plan(tables(one, task("MKT-2", "New title"), three)).tabs[TASKS] == TabChange(changed=1)
    assert sink.plan(tables(one, task("MKT-2", cost=99.0), three)).tabs[TASKS] == TabChange(changed=1)
    assert sink.plan(tables(one, three)).tabs[TASKS] == TabChange(removed=1)
    assert sink.plan(tables(one, two, three, task("MKT-4"))).tabs[TASKS] == TabChange(added=1)
    assert sink.plan(tables(one, two, three)).tabs["Capacity"] == TabChange()


@pytest.mark.parametrize("title", ['=HYPERLINK("http://x","click")', "=cmd|' /C calc'!A0", "#N/A", "=1+1"])
def test_formula_like_titles_stay_text(path: Path, title: str):
    sync(XlsxSink(path), tables(task("MKT-1", title)))
    cell = load_workbook(path)[TASKS]["C2"]
    assert (cell.value, cell.data_type) == (title, "s")
    xml_cell = next(c for c in sheet_xml(path, TASKS).iter(f"{MAIN}c") if c.get("r") == "C2")
    assert xml_cell.get("t") in ("s", "inlineStr")
    assert xml_cell.find(f"{MAIN}f") is None
    assert "".join(xml_cell.itertext()) == title


@pytest.mark.parametrize("title", ["  padded both  ", "\ttab first", "last\u3000", "a & b <c> > d", "&amp; as typed",
                                   "a < b", "x > y", "<b>", "line\nbreak", " "])
def test_text_keeps_its_outer_spaces_and_markup_characters(path: Path, title: str):
    """Outer whitespace of any kind is kept (xml:space), and &, < and > are escaped, read back as written."""
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1", title)))
    assert load_workbook(path)[TASKS]["C2"].value == title
    text = next(c for c in sheet_xml(path, TASKS).iter(f"{MAIN}c") if c.get("r") == "C2").find(f"{MAIN}is/{MAIN}t")
    kept = text.get("{http://www.w3.org/XML/1998/namespace}space")  # Excel trims text without it
    assert kept == ("preserve" if title != title.strip() else None)
    assert sink.plan(tables(task("MKT-1", title))).tabs[TASKS] == TabChange()


def test_other_tabs_keep_values_formulas_and_styles(path: Path):
    finance_workbook(path)
    before = {t: snapshot(path, t) for t in ("Budget", "Notes")}
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1")))
    sync(sink, tables(task("MKT-1", "renamed")), 2)
    after = {t: snapshot(path, t) for t in ("Budget", "Notes")}
    assert after == before
    assert ("E5", "=SUM(E2:E4)", "f", True, "General") in after["Budget"]
    assert ("C3", "=text, not a formula", "s", False, "General") in after["Notes"]
    assert load_workbook(path, rich_text=True)["Notes"]["D4"].value[1].font.b is True
    assert load_workbook(path).sheetnames == ["Budget", "Notes", *OWNED_TABS, SYNC_LOG]


def test_foreign_tasks_tab_is_refused_and_file_unchanged(path: Path):
    wb = Workbook()
    wb.active.title = TASKS
    wb.active.append(["Name", "Due"])
    path.parent.mkdir(parents=True)
    wb.save(path)
    original = path.read_bytes()
    with pytest.raises(SinkError, match=r"tab 'Tasks' in .*ops\.xlsx has a header syncer did not write"):
        XlsxSink(path).plan(tables(task("MKT-1")))
    assert path.read_bytes() == original


def test_foreign_sync_log_is_refused(path: Path):
    wb = Workbook()
    wb.active.title = SYNC_LOG
    wb.active.append(["When", "What"])
    path.parent.mkdir(parents=True)
    wb.save(path)
    with pytest.raises(SinkError, match="Sync log"):
        XlsxSink(path).plan(tables())


def test_empty_tab_with_our_name_is_adopted(path: Path):
    wb = Workbook()
    wb.active.title = "Notes"
    wb.create_sheet(TASKS)
    path.parent.mkdir(parents=True)
    wb.save(path)
    assert sync(XlsxSink(path), tables(task("MKT-1")))[TASKS] == TabChange(added=1)
    assert load_workbook(path).sheetnames[:2] == ["Notes", TASKS]


def test_sync_log_appends_and_keeps_newest(path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(xlsx_module, "SYNC_LOG_KEEP", 3)  # the part path
    monkeypatch.setattr("syncer.sinks.xlsx_layout.SYNC_LOG_KEEP", 3)  # the openpyxl pass
    sink = XlsxSink(path)
    for n in range(1, 6):
        sync(sink, tables(task("MKT-1")), n)
        rows = list(load_workbook(path)[SYNC_LOG].iter_rows(values_only=True))
        assert len(rows) == 1 + min(n, 3)
    assert rows[0] == tuple(HEADERS[SYNC_LOG])
    assert [r[0][:10] for r in rows[1:]] == ["2026-02-03", "2026-02-04", "2026-02-05"]
    assert rows[-1] == tuple(log_row(5))


def test_read_tab_returns_budget_rows(path: Path):
    sink = XlsxSink(path)
    assert sink.read_tab("Budget") is None
    finance_workbook(path)
    load = load_workbook(path)
    del load["Budget"]["E5"]
    load.save(path)
    assert sink.read_tab("Budget") == [
        ["Campaign", "Activity", "G/L account", "Period", "Amount"],
        ["Spring", "Ads", "6100", "2026-05", 1000],
        ["Spring", "Events", "6200", "FY2027-Q1", 2500.5],
        ["Summer", "Ads", "6100", "FY2027", 12000],
    ]
    assert sink.read_tab("Missing") is None


def _with_cached_value(path: Path, value: str, text: bool = False) -> None:
    """Give E5's formula a cached value, as Excel or LibreOffice would on save (`text`: a text result)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    name = "xl/worksheets/sheet1.xml"
    xml = parts[name].decode()
    cell = re.search(r'<c r="E5"[^>]*><f>SUM\(E2:E4\)</f><v ?/>', xml)
    assert cell
    kind = ' t="str"' if text else ""
    parts[name] = xml.replace(cell.group(0), f'<c r="E5"{kind}><f>SUM(E2:E4)</f><v>{value}</v>').encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_read_tab_uses_cached_formula_values_and_refuses_missing_ones(path: Path):
    finance_workbook(path)
    sink = XlsxSink(path)
    with pytest.raises(SinkError, match=r"formula cells E5 have no saved value"):
        sink.read_tab("Budget")
    _with_cached_value(path, "15500.5")
    assert sink.read_tab("Budget")[4] == [None, None, None, None, 15500.5]
    # the documented limitation: openpyxl saves formulas without their cached values
    sync(sink, tables(task("MKT-1")))
    with pytest.raises(SinkError, match="open and save it in Excel or LibreOffice"):
        sink.read_tab("Budget")


def test_read_tab_accepts_a_formula_whose_result_is_empty_text(path: Path):
    finance_workbook(path)
    _with_cached_value(path, "", text=True)
    assert XlsxSink(path).read_tab("Budget")[-1] == ["Summer", "Ads", "6100", "FY2027", 12000]


def test_crash_while_saving_leaves_the_original(path: Path, monkeypatch: pytest.MonkeyPatch):
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1")))
    original = path.read_bytes()

    def crash(source, fh, parts):
        fh.write(b"PK half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("syncer.sinks.xlsx.rewrite", crash)  # every write of the package goes through it
    plan = sink.plan(tables(task("MKT-1", "changed")))
    with pytest.raises(SinkError, match="cannot write .*ops.xlsx: No space left on device"):
        sink.apply(plan, log_row(2))
    assert path.read_bytes() == original
    assert os.listdir(path.parent) == ["ops.xlsx"]


def test_file_changed_between_plan_and_apply_is_not_overwritten(path: Path):
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1")))
    plan = sink.plan(tables(task("MKT-1", "changed")))
    finance_workbook(path)
    edited = path.read_bytes()
    with pytest.raises(SinkError, match="changed since syncer read it"):
        sink.apply(plan, log_row(2))
    assert path.read_bytes() == edited


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"])
def test_corrupt_workbook_is_a_sink_error_naming_the_path(path: Path, content: bytes):
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    sink = XlsxSink(path)
    with pytest.raises(SinkError, match=r"ops\.xlsx is not a readable xlsx workbook"):
        sink.plan(tables())
    with pytest.raises(SinkError, match=r"ops\.xlsx is not a readable xlsx workbook"):
        sink.read_tab("Budget")
    assert path.read_bytes() == content


def test_control_characters_are_dropped_and_stable(path: Path):
    sink = XlsxSink(path)
    tabs = tables(task("MKT-1", "bad\x00\x07title\r\nline"))
    sync(sink, tabs)
    assert load_workbook(path)[TASKS]["C2"].value == "badtitle\nline"
    assert sink.plan(tabs).tabs[TASKS] == TabChange()


def test_only_text_that_is_not_printable_can_hold_a_character_xml_refuses():
    """`storable` scans for XML-illegal characters only in text that is not printable: every one of them must be
    a control character (not printable), whichever openpyxl's pattern is."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    illegal = ILLEGAL_CHARACTERS_RE.findall(every)
    assert illegal and not any(ch.isprintable() for ch in illegal)
    assert storable("a\x0bb\x1f") == "ab" and storable("plain text") == "plain text"


def test_hidden_owned_tab_and_file_mode_survive(path: Path):
    sink = XlsxSink(path)
    sync(sink, tables(task("MKT-1")))
    wb = load_workbook(path)
    wb["Intake"].sheet_state = "hidden"
    wb.save(path)
    path.chmod(0o640)
    sync(sink, tables(task("MKT-2")), 2)
    assert load_workbook(path)["Intake"].sheet_state == "hidden"
    assert path.stat().st_mode & 0o777 == 0o640


def test_plan_writes_nothing_and_rejects_tabs_it_does_not_own(path: Path):
    sink = XlsxSink(path)
    sink.plan(tables(task("MKT-1")))
    assert not path.parent.exists()
    with pytest.raises(ValueError, match="Budget"):
        sink.plan({"Budget": [["Campaign"]]})


def test_path_must_be_xlsx(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"must end in \.xlsx"):
        XlsxSink(tmp_path / "ops.xlsm")


def test_openpyxl_warnings_become_plan_warnings(path: Path, monkeypatch: pytest.MonkeyPatch):
    sync(XlsxSink(path), tables())
    real = xlsx_module.load_workbook

    def noisy(*args, **kwargs):
        warnings.warn("Data Validation extension is not supported and will be removed", UserWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(xlsx_module, "load_workbook", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak to stderr
        plan = XlsxSink(path).plan(tables())
        assert XlsxSink(path).read_tab(TASKS) is not None
    assert plan.warnings == [f"{path}: Data Validation extension is not supported and will be removed"]


def test_from_config_uses_the_configured_path_and_zone(path: Path):
    cfg = SimpleNamespace(tz=ZoneInfo("Europe/Berlin"))
    sink = XlsxSink.from_config(SimpleNamespace(kind="xlsx", path=path), cfg)
    assert (sink.path, sink.tz) == (path, ZoneInfo("Europe/Berlin"))
