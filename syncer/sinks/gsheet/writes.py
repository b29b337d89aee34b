"""The gsheet sink's writes as Sheets API bodies: the one structural spreadsheets:batchUpdate (new tabs, row
moves, grid sizes, formats) and the RAW value ranges of values:batchUpdate, packed under the payload limit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from gspread.utils import rowcol_to_a1

from syncer.sinks import diff
from syncer.tables import HEADERS, MONEY_COLUMNS, RATIO_COLUMNS, Cell, Row, Table

MAX_PAYLOAD = 1_900_000  # bytes of JSON per request; Google recommends staying under 2 MB
# Number formats by column; ISO dates and timestamps are text (SPEC §6): shown as written, sorted as text
FORMATS = {**{c: {"type": "TEXT"} for c in ("Created", "Started", "Completed", "Due", "Since", "Run at", "At")},
           **{c: {"type": "PERCENT", "pattern": "0.0%"} for c in RATIO_COLUMNS},
           **{c: {"type": "NUMBER", "pattern": "#,##0.00"} for c in MONEY_COLUMNS}}

MAX_CELL_CHARS = 50_000
ValueRun = tuple[str, int, list[Row]]  # (title, first row index, rows padded to their width)


@dataclass(slots=True)
class TabGrid:
    """One tab syncer writes: its grid as the planned row moves leave it, and what the writes need."""

    title: str
    sheet_id: int
    rows: int
    cols: int
    need_rows: int
    need_cols: int
    room: int  # extra rows to add when growing, so a new task does not cost a resize every run
    new: bool = False
    adopt: bool = False  # an empty tab of ours: header formats still to set
    migrated: bool = False  # written by an earlier syncer version with another header: column formats afresh
    first: bool = False  # a new tab to put first (the Dashboard of a sheet syncer never wrote to)
    moves: list[dict] = field(default_factory=list)


def quote(title: str) -> str:
    """A tab title for A1 notation: `'Budget rollup'`, with `'` doubled."""
    return "'" + title.replace("'", "''") + "'"


def pad_row(row: Sequence[Cell], width: int) -> Row:
    """Cells for a RAW write: "" clears a cell, whereas null would leave the old value in place."""
    # https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange
    out: Row = ["" if v is None else v for v in row]
    return out + [""] * (width - len(out))


def value_runs(title: str, widths: list[int], rows: Table, positions: list[int]) -> list[ValueRun]:
    """One value run per block of changed rows; rows past the new end are cleared over their old width (`widths`:
    of each row the tab holds, after the planned moves)."""
    out = []
    for a, b in diff.row_runs(positions):
        width = max([len(rows[0])] + [widths[i] for i in range(a, min(b, len(widths)))]
                    + [len(rows[i]) for i in range(a, min(b, len(rows)))])  # the Dashboard's rows differ in width
        out.append((title, a, [pad_row(rows[i] if i < len(rows) else (), width) for i in range(a, b)]))
    return out


def value_chunks(runs: list[ValueRun], limit: int) -> list[list[dict]]:
    """ValueRanges packed into request bodies of at most ~limit bytes of JSON, splitting runs between rows."""
    chunks: list[list[dict]] = [[]]
    size = 100

    def add(title: str, first: int, rows: list[Row]) -> None:
        width = len(rows[0])
        a1 = f"{quote(title)}!{rowcol_to_a1(first + 1, 1)}:{rowcol_to_a1(first + len(rows), width)}"
        chunks[-1].append({"range": a1, "majorDimension": "ROWS", "values": rows})

    for title, first, rows in runs:
        start = 0
        for i, row in enumerate(rows):
            n = len(json.dumps(row)) + 2
            if size + n + 100 > limit and (chunks[-1] or i > start):
                if i > start:
                    add(title, first + start, rows[start:i])
                chunks.append([])
                size, start = 100, i
            size += n + (100 if i == start else 0)
        if len(rows) > start:
            add(title, first + start, rows[start:])
    return [c for c in chunks if c]


def row_move_request(sheet_id: int, move: tuple[str, int, int]) -> dict:
    """A planned row move (`insert` or `delete`, from `diff.row_moves`) as an insert/deleteDimension request."""
    kind, a, b = move
    rows = {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": a, "endIndex": b if kind == "delete" else a + b}
    if kind == "delete":
        return {"deleteDimension": {"range": rows}}
    # a row inserted right under the header takes its format from the row below, not the bold header
    return {"insertDimension": {"range": rows, "inheritFromBefore": a > 1}}


def structural_requests(grids: list[TabGrid], other_cells: int, room: bool) -> tuple[list[dict], int, dict]:
    """The one spreadsheets:batchUpdate (applied all or nothing), the sheet's cell count after it, given the
    cells of the tabs syncer does not write, and each grid's (rows, columns) after it."""
    # requests run in order and atomically: https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/batchUpdate
    cells = other_cells
    requests: list[dict] = []
    sizes: dict[str, tuple[int, int]] = {}
    for g in grids:
        rows, cols = g.rows, max(g.cols, g.need_cols)
        if rows < g.need_rows:
            rows = g.need_rows + (g.room if room else 0)
        cells += rows * cols
        sizes[g.title] = (rows, cols)
        if g.new:
            grid = {"rowCount": rows, "columnCount": cols, "frozenRowCount": 1}
            props = {"sheetId": g.sheet_id, "title": g.title, "gridProperties": grid}
            if g.first:
                props["index"] = 0
            requests.append({"addSheet": {"properties": props}})
        requests += g.moves
        if not g.new and (rows, cols) != (g.rows, g.cols):
            requests.append(_grid_properties(g.sheet_id, rowCount=rows, columnCount=cols))
        if g.adopt:
            requests.append(_grid_properties(g.sheet_id, frozenRowCount=1))
        if g.new or g.adopt:
            requests.append(_repeat(g.sheet_id, {"startRowIndex": 0, "endRowIndex": 1}, "textFormat", {"bold": True}))
        if g.migrated:  # the columns moved: the old number formats sit on the wrong columns
            requests.append(_repeat(g.sheet_id, {"startRowIndex": 1}, "numberFormat", None))
        if g.new or g.adopt or g.migrated or rows > g.rows:  # added rows come without the columns' number formats
            requests += [_repeat(g.sheet_id, {"startRowIndex": 1, "startColumnIndex": c, "endColumnIndex": c + 1},
                                 "numberFormat", FORMATS[name])
                         for c, name in enumerate(HEADERS[g.title]) if name in FORMATS]
    return requests, cells, sizes


def update_cells_request(sheet_id: int, row: int, cells: Sequence[Cell]) -> dict:
    """One row as RAW cell data: stringValue is stored as text, never parsed as a formula (unlike formulaValue)."""
    # https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/other#ExtendedValue
    kinds = ((bool, "boolValue"), (int | float, "numberValue"), (object, "stringValue"))
    values = [{} if v is None else {"userEnteredValue": {next(k for t, k in kinds if isinstance(v, t)): v}}
              for v in cells]
    start = {"sheetId": sheet_id, "rowIndex": row, "columnIndex": 0}
    return {"updateCells": {"rows": [{"values": values}], "fields": "userEnteredValue", "start": start}}


def _grid_properties(sheet_id: int, **grid: int) -> dict:
    fields = ",".join(f"gridProperties.{k}" for k in grid)
    return {"updateSheetProperties": {"properties": {"sheetId": sheet_id, "gridProperties": grid}, "fields": fields}}


def _repeat(sheet_id: int, grid_range: dict, key: str, value: dict | None) -> dict:
    """Set one format of a range's cells; `value` None clears it (a field in the mask but absent from the cell)."""
    target = {"sheetId": sheet_id, **grid_range}
    fields = f"userEnteredFormat.{key}" + (".bold" if key == "textFormat" else "")
    cell = {"userEnteredFormat": {} if value is None else {key: value}}
    return {"repeatCell": {"range": target, "cell": cell, "fields": fields}}


def storable(value: object) -> Cell:
    """A cell value as the sheet will hold it: normalised, and text cut to Google's 50,000 characters per cell."""
    cell = diff.normalise_cell(value)
    return cell[:MAX_CELL_CHARS] if isinstance(cell, str) else cell


class Storable(Sequence[list[Cell]]):
    """A table's rows made storable when asked for: only the rows a run writes are built."""

    def __init__(self, rows: Table):
        self.rows = rows
        self.made: dict[int, list[Cell]] = {}  # position -> its storable cells, each row built once

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> list[Cell]:  # type: ignore[override]
        if i not in self.made:
            self.made[i] = [storable(v) for v in self.rows[i]]
        return self.made[i]
