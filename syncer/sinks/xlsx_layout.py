"""The openpyxl pass of the xlsx sink: an owned tab laid out afresh (its cells, bold frozen header, autofilter,
widths) and the Sync log appended to, in a loaded workbook."""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from syncer.sinks.xlsx_parts import MONEY_FORMAT, RATIO_FORMAT, column_widths
from syncer.tables import HEADERS, MONEY_COLUMNS, RATIO_COLUMNS, SYNC_LOG, SYNC_LOG_KEEP, Row, Table


def replace_tab(wb: Workbook, title: str, rows: Table) -> None:
    """Replace an owned tab by a fresh sheet in the same place (same visibility), so its content is deterministic."""
    if title in wb.sheetnames:
        old = wb[title]
        index, state = wb.index(old), old.sheet_state
        wb.remove(old)
        ws = wb.create_sheet(title, index)
        ws.sheet_state = state
    else:
        ws = wb.create_sheet(title)
    formats = [MONEY_FORMAT if h in MONEY_COLUMNS else RATIO_FORMAT if h in RATIO_COLUMNS else None for h in rows[0]]
    _write_rows(ws, rows, 1, formats)
    _style_header(ws, rows)


def append_log(wb: Workbook, row: Row) -> None:
    """Append one Sync log row (creating the tab), then drop the oldest rows beyond SYNC_LOG_KEEP."""
    header = HEADERS[SYNC_LOG]
    if SYNC_LOG in wb.sheetnames:
        ws = wb[SYNC_LOG]
    else:
        ws = wb.create_sheet(SYNC_LOG)
        _write_rows(ws, [header], 1)
        _style_header(ws, [header, row])
    used = (r for r, values in enumerate(ws.iter_rows(values_only=True), 1) if any(v is not None for v in values))
    last = max(used, default=1)
    excess = last - SYNC_LOG_KEEP  # data rows after the append: (last - 1) + 1
    if excess > 0:
        ws.delete_rows(2, excess)
        last -= excess
    _write_rows(ws, [row], last + 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{last + 1}"


def _write_rows(ws: Worksheet, rows: Table, first: int, formats: Sequence[str | None] = ()) -> None:
    for r, row in enumerate(rows, first):
        for c, value in enumerate(row, 1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # RAW: openpyxl would store "=..." as a formula and "#N/A" as an error
            elif r > 1 and c <= len(formats) and formats[c - 1]:
                cell.number_format = formats[c - 1]


def _style_header(ws: Worksheet, rows: Table) -> None:
    """Bold frozen header with an autofilter; column widths from the longest value shown."""
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    width = len(rows[0])
    ws.auto_filter.ref = f"A1:{get_column_letter(width)}{max(len(rows), 1)}"
    for c, w in enumerate(column_widths(rows), 1):
        ws.column_dimensions[get_column_letter(c)].width = w
