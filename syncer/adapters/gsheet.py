"""The gsheet sink: syncer's tabs of a shared Google Sheet, read in two requests and written in at most two."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError
from gspread.exceptions import APIError
from gspread.utils import rowcol_to_a1

from syncer.adapters import Cell, Plan, Row, Table, diff
from syncer.adapters.diff import NormRow
from syncer.errors import ConfigError, SinkError
from syncer.retry import RetryPolicy, classify, status_of
from syncer.tables import HEADERS, KEY_COLUMNS, MONEY_COLUMNS, OWNED_TABS, RATIO_COLUMNS, SYNC_LOG, SYNC_LOG_KEEP

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]  # this sheet's API only, not the user's whole Drive
# Limits: https://developers.google.com/sheets/api/limits and https://support.google.com/drive/answer/37603
MAX_CELLS = 10_000_000  # per spreadsheet, all tabs together, counted as grid rows x columns
MAX_CELL_CHARS = 50_000
MAX_PAYLOAD = 1_900_000  # bytes of JSON per request; Google recommends staying under 2 MB
CELLS_WARN = 0.8
TIMEOUT = (10, 120)  # connect, read (s): a hung connection must end in a retry, not hang the cron job
# Date cells as serial numbers, not text in the sheet's locale (`5/1/2026`); syncer's own tabs hold no date cells
READ_OPTIONS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}
METADATA_FIELDS = "sheets.properties(sheetId,title,sheetType,gridProperties)"
MAX_MESSAGE = 300  # characters of Google's error text quoted in an error
# Number formats by column; ISO dates and timestamps are text (SPEC §6): shown as written, sorted as text
FORMATS = {**{c: {"type": "TEXT"} for c in ("Created", "Started", "Completed", "Due", "Since", "Run at")},
           **{c: {"type": "PERCENT", "pattern": "0.0%"} for c in RATIO_COLUMNS},
           **{c: {"type": "NUMBER", "pattern": "#,##0.00"} for c in MONEY_COLUMNS}}


def storable(value: object) -> Cell:
    """A cell value as the sheet will hold it: normalised, and text cut to Google's 50,000 characters per cell."""
    cell = diff.normalise_cell(value)
    return cell[:MAX_CELL_CHARS] if isinstance(cell, str) else cell


def quote(title: str) -> str:
    """A tab title for A1 notation: `'Budget rollup'`, with `'` doubled."""
    return "'" + title.replace("'", "''") + "'"


def load_service_account(credentials: str) -> dict[str, Any]:
    """A service-account key from `sink.credentials` (the JSON itself or a path); never echoes the value."""
    text = credentials.strip()
    where = "sink.credentials"
    if not text.startswith("{"):
        try:
            path = Path(text).expanduser()
            text = path.read_text(encoding="utf-8") if text and path.is_file() else ""
        except (OSError, UnicodeDecodeError):
            text = ""
        if not text:
            raise ConfigError(f"{where}: neither a service-account JSON key nor the path of a readable key file")
        where = f"{where} (the key file)"
    try:
        info = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f'{where}: not a service-account key (expected "type": "service_account"); create a '
                          "JSON key under Google Cloud console > IAM > Service accounts > Keys")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{where}: the key has no {', '.join(missing)}; download a new JSON key")
    return info


@dataclass(slots=True)
class _Tab:
    sheet_id: int
    rows: int
    cols: int
    grid: bool  # False for a chart sheet, which holds no cells

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> _Tab:
        grid = props.get("gridProperties") or {}
        return cls(int(props["sheetId"]), int(grid.get("rowCount", 0)), int(grid.get("columnCount", 0)),
                   props.get("sheetType", "GRID") == "GRID")


@dataclass(slots=True)
class _Snapshot:
    tabs: dict[str, _Tab]
    values: dict[str, list[NormRow]] = field(default_factory=dict)
    log_header: NormRow = ()
    log_used: int = 0  # rows of the Sync log's column A up to its last value (header included)


@dataclass(slots=True)
class _Grid:
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
    moves: list[dict] = field(default_factory=list)


@dataclass(slots=True)
class _Pending:
    """What `plan` worked out for `apply`: structural requests and value runs, and where the log row goes."""

    structural: list[dict]
    runs: list[tuple[str, int, list[Row]]]  # (title, first row index, rows padded to their width)
    log_sheet_id: int
    log_row: int
    log_width: int


class GsheetSink:
    """A Google Sheet shared with a service account: owned tabs diffed and patched, the Sync log appended to.

    One run costs a metadata read and one values:batchGet (owned tabs, the Sync log's column A and header, and
    the tab `read_tab` asked for), then at most one spreadsheets:batchUpdate (new tabs, row moves, grid sizes,
    formats) and one values:batchUpdate (RAW, changed ranges and the Sync log row), split only past ~2 MB.
    Every request goes through the project's bounded RetryPolicy; gspread's own retrying client is not used.
    """

    def __init__(self, client: gspread.Client, spreadsheet_id: str, *, email: str = "the service account",
                 policy: RetryPolicy | None = None):
        self.http = client.http_client
        self.id = spreadsheet_id
        self.email = email
        self.policy = policy or RetryPolicy()
        self.requests = 0  # HTTP requests sent (retries included) since the last apply
        self._snap: _Snapshot | None = None

    @classmethod
    def from_config(cls, sink_cfg: Any, cfg: Any = None, *, policy: RetryPolicy | None = None) -> GsheetSink:
        """Build the sink from `sink:` (spreadsheet_id, credentials as JSON text or a path); no request yet."""
        info = load_service_account(sink_cfg.credentials.get_secret_value())
        email = str(info["client_email"])
        try:
            client = gspread.service_account_from_dict(info, scopes=SCOPES)
        except (ValueError, GoogleAuthError):
            raise ConfigError(f"sink.credentials: the private key of service account {email} cannot be read; "
                              "download a new JSON key for it") from None
        client.set_timeout(TIMEOUT)
        return cls(client, sink_cfg.spreadsheet_id, email=email, policy=policy)

    def read_tab(self, title: str) -> Table | None:
        """Values of any tab (formulas as computed, dates as serial numbers), served from the run's one read, its
        title matched regardless of case as Sheets does; None when there is no such tab."""
        snap = self._snapshot(title)
        rows = snap.values.get(_named(snap.tabs, title))
        return None if rows is None else [list(row) for row in rows]

    def plan(self, tables: Mapping[str, Table]) -> Plan:
        """Diff the given owned tabs against the sheet read once; writes nothing.

        Raises SinkError for an owned tab (or Sync log) that exists with a header syncer did not write, and when
        the sheet would pass Google's 10 million cells.
        """
        foreign = sorted(set(tables) - set(OWNED_TABS))
        if foreign:
            raise ValueError(f"the gsheet sink writes only syncer's tabs, not {foreign}")
        snap = self._snapshot()
        used_ids = {t.sheet_id for t in snap.tabs.values()}
        changes, grids, runs = {}, [], []
        for title in (t for t in OWNED_TABS if t in tables):
            rows = [[storable(v) for v in row] for row in tables[title]]
            if not rows or rows[0] != HEADERS[title]:
                raise ValueError(f"table {title!r} must start with its SPEC header")
            old = self._owned_rows(snap, title)
            changes[title] = diff.diff_table(old, rows, KEY_COLUMNS[title])
            moves = diff.row_moves(old, rows, KEY_COLUMNS[title])
            current = diff.apply_moves(old, moves) if moves else old or []
            grid = self._grid(snap, title, used_ids, old, len(rows), len(rows[0]), max(100, len(rows) // 10))
            grid.moves = [_dimension(grid.sheet_id, m) for m in moves]
            for kind, a, b in moves:
                grid.rows += b if kind == "insert" else a - b
            runs += _runs(title, current, rows, diff.changed_rows(current, rows))
            grids.append(grid)
        log = self._plan_log(snap, used_ids, grids, runs)
        structural, cells = _structural(grids, snap, room=True)
        if cells > MAX_CELLS:
            structural, cells = _structural(grids, snap, room=False)
        if cells > MAX_CELLS:
            raise SinkError(f"the Google Sheet would hold {cells:,} cells, over Google's limit of {MAX_CELLS:,} "
                            "for all tabs together; delete unused tabs, rows or columns, or use another sheet")
        warnings = []
        if cells > CELLS_WARN * MAX_CELLS:
            warnings.append(f"the Google Sheet holds {cells:,} of its {MAX_CELLS:,} cells; make room before it fills")
        state = _Pending(structural, runs, *log)
        return Plan(tabs=changes, state=state, warnings=warnings)

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Send the planned writes with the Sync log row; returns the HTTP requests this run sent (reads too)."""
        p: _Pending = plan.state
        structural = list(p.structural)
        log = [storable(v) for v in log_row]
        runs = list(p.runs)
        if runs or not structural:
            runs.append((SYNC_LOG, p.log_row, [_pad(log, p.log_width)]))
        else:  # only structural changes: the log row rides in that request rather than costing another
            structural.append(_update_cells(p.log_sheet_id, p.log_row, log))
        if structural:
            self._call("structure update", self.http.batch_update, self.id, {"requests": structural}, once=True)
        for chunk in _chunks(runs, MAX_PAYLOAD):
            body = {"valueInputOption": "RAW", "data": chunk}
            self._call("values write", self.http.values_batch_update, self.id, body)
        used, self.requests, self._snap = self.requests, 0, None
        return used

    def _snapshot(self, extra: str | None = None) -> _Snapshot:
        """The run's one read: metadata, then one values:batchGet (plus one more for a tab asked for later)."""
        snap = self._snap
        if first := snap is None:
            meta = self._call("metadata read", self.http.fetch_sheet_metadata, self.id,
                              {"includeGridData": "false", "fields": METADATA_FIELDS})
            props = [sheet["properties"] for sheet in meta.get("sheets", [])]
            snap = self._snap = _Snapshot({p["title"]: _Tab.of(p) for p in props})
        titles = [t for t in (*(OWNED_TABS if first else ()), extra and _named(snap.tabs, extra))
                  if t in snap.tabs and snap.tabs[t].grid and t not in snap.values]
        log = first and SYNC_LOG in snap.tabs and snap.tabs[SYNC_LOG].grid
        if titles or log:
            self._read(snap, list(dict.fromkeys(titles)), log)
        return snap

    def _read(self, snap: _Snapshot, titles: list[str], log: bool) -> None:
        ranges = [quote(t) for t in titles]
        if log:  # the header and column A tell where the next row goes, without reading 1,000 old rows
            ranges += [f"{quote(SYNC_LOG)}!1:1", f"{quote(SYNC_LOG)}!A:A"]
        body = self._call("values read", lambda: self.http.values_batch_get(self.id, ranges, dict(READ_OPTIONS)))
        got = [vr.get("values", []) for vr in body.get("valueRanges", [])]
        if len(got) != len(ranges):
            raise SinkError(f"Google Sheets answered {len(got)} ranges for the {len(ranges)} asked")
        for title, values in zip(titles, got, strict=False):
            snap.values[title] = diff.normalise_table(values)
        if log:
            snap.log_header = diff.normalise_row(got[-2][0]) if got[-2] else ()
            snap.log_used = len(got[-1])

    def _owned_rows(self, snap: _Snapshot, title: str) -> list[NormRow] | None:
        if title not in snap.tabs:
            return None
        rows = snap.values.get(title)
        if not snap.tabs[title].grid or (rows and list(rows[0]) != HEADERS[title]):
            raise SinkError(f"tab {title!r} of the Google Sheet has a header syncer did not write, so syncer will not "
                            "overwrite it; rename that tab (syncer then creates its own) or use another sheet")
        return rows or None  # an empty tab of that name holds nothing to lose: adopt it

    def _grid(self, snap: _Snapshot, title: str, used_ids: set[int], old: list | None, need: int, width: int,
              room: int) -> _Grid:
        need = max(need, 2)  # a row under the frozen header: Google refuses to freeze every row of a grid
        tab = snap.tabs.get(title)
        if tab is not None:
            return _Grid(title, tab.sheet_id, tab.rows, tab.cols, need, width, room, adopt=old is None)
        clash = _named(snap.tabs, title)
        if clash != title:
            raise SinkError(f"tab {clash!r} of the Google Sheet has the name of syncer's tab {title!r} but for letter "
                            "case, and Google Sheets does not tell tab names apart by case, so syncer cannot add its "
                            "own; rename that tab")
        sheet_id = zlib.crc32(title.encode()) & 0x7FFFFFFF  # stable ids, so requests can name the new tab
        while sheet_id in used_ids:
            sheet_id = (sheet_id + 1) & 0x7FFFFFFF  # a sheet id is an int32
        used_ids.add(sheet_id)
        return _Grid(title, sheet_id, 0, 0, need, width, room, new=True)

    def _plan_log(self, snap: _Snapshot, used_ids: set[int], grids: list[_Grid], runs: list) -> tuple[int, int, int]:
        """Where the Sync log row goes: after the last row, dropping the oldest beyond SYNC_LOG_KEEP."""
        header = HEADERS[SYNC_LOG]
        tab = snap.tabs.get(SYNC_LOG)
        used = snap.log_header or snap.log_used
        if tab is not None and (not tab.grid or (used and list(snap.log_header) != header)):
            raise SinkError(f"tab {SYNC_LOG!r} of the Google Sheet has a header syncer did not write; rename it")
        fresh = tab is None or not snap.log_header
        row = 1 if fresh else snap.log_used
        grid = self._grid(snap, SYNC_LOG, used_ids, None if fresh else [header], row + 1, len(header), 0)
        excess = row - SYNC_LOG_KEEP
        if excess > 0:
            grid.moves = [_dimension(grid.sheet_id, ("delete", 1, 1 + excess))]
            grid.rows, row = grid.rows - excess, row - excess
            grid.need_rows = row + 1
        grid.room = max(0, SYNC_LOG_KEEP + 1 - grid.need_rows)
        if fresh:
            runs.append((SYNC_LOG, 0, [list(header)]))
        grids.append(grid)
        return grid.sheet_id, row, len(header)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, once: bool = False) -> Any:
        """One API call under the retry policy, its failure turned into ConfigError (exit 2) or SinkError (exit 1).

        `once`: a request not safe to repeat (a row insert or delete done twice shifts rows twice) is retried only
        when Google surely did not carry it out (429, or no connection); after a 5xx or a timeout it may have.
        """

        def attempt() -> Any:
            self.requests += 1
            try:
                return fn(*args)
            except (APIError, requests.RequestException) as exc:
                if once and classify(exc) == "retry" and status_of(exc) != 429 \
                        and not isinstance(exc, requests.ConnectTimeout):  # a SinkError is never retried
                    raise SinkError(f"Google Sheets {what} failed ({_said(exc)}) and may have been carried out all "
                                    "the same, so it was not repeated; nothing more was written, and the next run "
                                    "reads the sheet afresh and completes it") from None
                raise

        try:
            return self.policy.call(attempt)
        except APIError as exc:
            raise self._api_error(what, exc) from None
        except RefreshError as exc:
            reason = _cut(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
            if exc.retryable:
                raise SinkError(f"Google sign-in for {self.email} failed for now ({reason}); try again") from None
            raise ConfigError(f"sink.credentials: Google rejected the key of service account {self.email} ({reason}); "
                              "the key may be deleted or disabled: create a new JSON key for it") from None
        except (GoogleAuthError, requests.RequestException) as exc:
            raise SinkError(f"cannot reach Google Sheets for the {what} ({type(exc).__name__})") from None

    def _api_error(self, what: str, exc: APIError) -> Exception:
        status, said = status_of(exc), _said(exc)
        if status == 401:  # a token Google issued and then refused: the key or the account is gone
            return ConfigError(f"sink.credentials: Google Sheets rejected the sign-in of service account {self.email} "
                               f"({said}); its key may have been deleted or disabled: create a new JSON key for it")
        if status == 403 and "SERVICE_DISABLED" in str(exc.error):  # the reason of the error's ErrorInfo detail
            return ConfigError(f"sink: the Google Sheets API is not enabled in the Google Cloud project of service "
                               f"account {self.email} ({said}); enable it (Google Cloud console > APIs & Services > "
                               "Library > Google Sheets API), wait a few minutes and run again")
        if classify(exc) == "config" or status == 404:
            return ConfigError(
                f"sink: Google Sheets refused the {what} of spreadsheet {self.id} ({said}). Share the sheet with the "
                f"service account {self.email} as an Editor (Share button in the sheet) and check sink.spreadsheet_id"
            )
        again = f" still failing after {self.policy.attempts} attempts" if classify(exc) == "retry" else " failed"
        return SinkError(f"Google Sheets {what}{again} ({said}); nothing more was written")


def _named(tabs: Mapping[str, object], title: str) -> str:
    """The tab's title as the sheet spells it: Sheets titles are unique regardless of case (`tasks` is `Tasks`)."""
    return title if title in tabs else next((t for t in tabs if t.lower() == title.lower()), title)


def _said(exc: BaseException) -> str:
    """An error as `HTTP 503: Google's message`, cut short (an HTML page reduced to its title), or its type."""
    if not isinstance(exc, APIError):
        return type(exc).__name__
    text = str(exc.error.get("message", "")) if isinstance(exc.error, Mapping) else ""
    if text.lstrip().startswith("<"):  # a proxy's or Google's front end's HTML page, not the API's JSON
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        text = title[1] if title else re.sub(r"<(style|script)\b.*?</\1>|<[^>]*>", " ", text, flags=re.I | re.S)
    text = _cut(text)
    return f"HTTP {status_of(exc)}" + (f": {text}" if text else "")


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def _pad(row: Sequence[Cell], width: int) -> Row:
    """Cells for a RAW write: "" clears a cell, whereas null would leave the old value in place."""
    # https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange
    out: Row = ["" if v is None else v for v in row]
    return out + [""] * (width - len(out))


def _runs(title: str, current: list[NormRow], rows: Table, positions: list[int]) -> list[tuple[str, int, list[Row]]]:
    """One value run per block of changed rows; rows past the new end are cleared over their old width."""
    out = []
    for a, b in diff.row_runs(positions):
        width = max([len(rows[0])] + [len(current[i]) for i in range(a, min(b, len(current)))])
        out.append((title, a, [_pad(rows[i] if i < len(rows) else (), width) for i in range(a, b)]))
    return out


def _chunks(runs: list[tuple[str, int, list[Row]]], limit: int) -> list[list[dict]]:
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


def _dimension(sheet_id: int, move: tuple[str, int, int]) -> dict:
    kind, a, b = move
    rows = {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": a, "endIndex": b if kind == "delete" else a + b}
    if kind == "delete":
        return {"deleteDimension": {"range": rows}}
    # a row inserted right under the header takes its format from the row below, not the bold header
    return {"insertDimension": {"range": rows, "inheritFromBefore": a > 1}}


def _structural(grids: list[_Grid], snap: _Snapshot, room: bool) -> tuple[list[dict], int]:
    """The one spreadsheets:batchUpdate (applied all or nothing) and the sheet's cell count after it."""
    # requests run in order and atomically: https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/batchUpdate
    mine = {g.title for g in grids}
    cells = sum(t.rows * t.cols for title, t in snap.tabs.items() if title not in mine)
    requests: list[dict] = []
    for g in grids:
        rows, cols = g.rows, max(g.cols, g.need_cols)
        if rows < g.need_rows:
            rows = g.need_rows + (g.room if room else 0)
        cells += rows * cols
        if g.new:
            grid = {"rowCount": rows, "columnCount": cols, "frozenRowCount": 1}
            props = {"sheetId": g.sheet_id, "title": g.title, "gridProperties": grid}
            requests.append({"addSheet": {"properties": props}})
        requests += g.moves
        if not g.new and (rows, cols) != (g.rows, g.cols):
            requests.append(_grid_properties(g.sheet_id, rowCount=rows, columnCount=cols))
        if g.adopt:
            requests.append(_grid_properties(g.sheet_id, frozenRowCount=1))
        if g.new or g.adopt:
            requests.append(_repeat(g.sheet_id, {"startRowIndex": 0, "endRowIndex": 1}, "textFormat", {"bold": True}))
        if g.new or g.adopt or rows > g.rows:  # rows added to a grid come without the columns' number formats
            requests += [_repeat(g.sheet_id, {"startRowIndex": 1, "startColumnIndex": c, "endColumnIndex": c + 1},
                                 "numberFormat", FORMATS[name])
                         for c, name in enumerate(HEADERS[g.title]) if name in FORMATS]
    return requests, cells


def _grid_properties(sheet_id: int, **grid: int) -> dict:
    fields = ",".join(f"gridProperties.{k}" for k in grid)
    return {"updateSheetProperties": {"properties": {"sheetId": sheet_id, "gridProperties": grid}, "fields": fields}}


def _repeat(sheet_id: int, grid_range: dict, key: str, value: dict) -> dict:
    target = {"sheetId": sheet_id, **grid_range}
    fields = f"userEnteredFormat.{key}" + (".bold" if key == "textFormat" else "")
    return {"repeatCell": {"range": target, "cell": {"userEnteredFormat": {key: value}}, "fields": fields}}


def _update_cells(sheet_id: int, row: int, cells: Sequence[Cell]) -> dict:
    """One row as RAW cell data: stringValue is stored as text, never parsed as a formula (unlike formulaValue)."""
    # https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/other#ExtendedValue
    kinds = ((bool, "boolValue"), (int | float, "numberValue"), (object, "stringValue"))
    values = [{} if v is None else {"userEnteredValue": {next(k for t, k in kinds if isinstance(v, t)): v}}
              for v in cells]
    start = {"sheetId": sheet_id, "rowIndex": row, "columnIndex": 0}
    return {"updateCells": {"rows": [{"values": values}], "fields": "userEnteredValue", "start": start}}
