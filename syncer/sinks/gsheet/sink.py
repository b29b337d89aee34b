"""The gsheet sink: syncer's tabs of a shared Google Sheet, read in two requests and written in at most two."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gspread
import requests
from google.auth.exceptions import GoogleAuthError
from gspread.exceptions import APIError

from syncer.checks import Inspection, Level
from syncer.domain.frames import Frames
from syncer.errors import ConfigError, SinkError, SyncerError
from syncer.retry import RetryPolicy, Verdict, classify, status_of
from syncer.sinks import Plan, TabChange, diff
from syncer.sinks.diff import NormRow, count_changes
from syncer.sinks.gsheet.auth import error_summary, load_service_account, service_account_client, sheets_error
from syncer.sinks.gsheet.charts import DASHBOARD_COLUMNS, decorations
from syncer.sinks.gsheet.stamp import METADATA_FIELDS, known_tabs, stamp_of, stamp_request
from syncer.sinks.gsheet.writes import (
    MAX_PAYLOAD,
    Storable,
    TabGrid,
    ValueRun,
    pad_row,
    quote,
    row_move_request,
    storable,
    structural_requests,
    update_cells_request,
    value_chunks,
    value_runs,
)
from syncer.sinks.headers import MINE, header_findings, owned_titles
from syncer.sinks.marks import SinkMarks, TabMark, digests_of, pack, row_digests, stored, table_digest, unpack
from syncer.tables import (
    DASHBOARD,
    HEADERS,
    KEY_COLUMNS,
    OWNED_TABS,
    SYNC_LOG,
    SYNC_LOG_KEEP,
    Cell,
    HeaderStatus,
    Table,
    header_status,
    migration_note,
)

__all__ = ["GsheetSink", "load_service_account"]  # load_service_account lives in gsheet_auth, re-exported here

# Limits: https://developers.google.com/sheets/api/limits and https://support.google.com/drive/answer/37603
DOCTOR_FIELDS = "properties.title,sheets.properties(title,sheetType)"  # what doctor reads, nothing more
MAX_CELLS = 10_000_000  # per spreadsheet, all tabs together, counted as grid rows x columns
CELLS_WARN = 0.8
# Date cells as serial numbers, not text in the sheet's locale (`5/1/2026`); syncer's own tabs hold no date cells
READ_OPTIONS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}


@dataclass(slots=True)
class _Tab:
    sheet_id: int
    rows: int
    cols: int
    grid: bool  # False for a chart sheet, which holds no cells
    charts: dict[int, dict] = field(default_factory=dict)  # chart id -> the chart as the metadata read gave it
    rules: list[dict] = field(default_factory=list)  # conditional format rules

    @classmethod
    def of(cls, sheet: Mapping[str, Any]) -> _Tab:
        props = sheet["properties"]
        grid = props.get("gridProperties") or {}
        return cls(int(props["sheetId"]), int(grid.get("rowCount", 0)), int(grid.get("columnCount", 0)),
                   props.get("sheetType", "GRID") == "GRID",
                   {int(c["chartId"]): c for c in sheet.get("charts") or [] if "chartId" in c},
                   list(sheet.get("conditionalFormats") or []))


@dataclass(slots=True)
class _Snapshot:
    tabs: dict[str, _Tab]
    stamp: str | None = None  # syncer's developer metadata value (see `stamp`), and its id
    stamp_id: int | None = None
    values: dict[str, list[NormRow]] = field(default_factory=dict)
    log_read: bool = False
    log_header: NormRow = ()
    log_used: int = 0  # rows of the Sync log's column A up to its last value (header included)
    log_last: Cell = None  # the last of them: the Run at of the last run that wrote the sheet


@dataclass(slots=True)
class _Pending:
    """What `plan` worked out for `apply`: structural requests and value runs, and where the log row goes."""

    structural: list[dict]
    runs: list[ValueRun]
    log_sheet_id: int
    log_row: int
    log_width: int
    marks: SinkMarks  # what the state remembers once this is written


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
        self.ident = f"gsheet:{spreadsheet_id}"
        self._marks: SinkMarks | None = None
        self._recheck = False
        self.email = email
        self.policy = policy or RetryPolicy()
        self.requests = 0  # HTTP requests sent (retries included) since the last apply
        self._snap: _Snapshot | None = None

    @classmethod
    def from_config(cls, sink_cfg: Any, cfg: Any = None, *, policy: RetryPolicy | None = None) -> GsheetSink:
        """Build the sink from `sink:` (spreadsheet_id, credentials as JSON text or a path); no request yet."""
        client, email = service_account_client(sink_cfg.credentials.get_secret_value())
        return cls(client, sink_cfg.spreadsheet_id, email=email, policy=policy)

    def read_metadata(self, fields: str = METADATA_FIELDS) -> dict[str, Any]:
        """The spreadsheet's metadata without grid data, limited to the `fields` mask: one request under the retry
        policy, failing with the errors a run gives (naming the service account)."""
        return self._call("metadata read", self.http.fetch_sheet_metadata, self.id,
                          {"includeGridData": "false", "fields": fields})

    def inspect(self) -> Inspection:
        """`syncer doctor`: access to the sheet (the errors a run gives, naming the account) and syncer's tabs."""
        out = Inspection()
        out.add(Level.OK, "credentials", f"service account {self.email}")
        try:
            meta = self.read_metadata(DOCTOR_FIELDS)
        except SyncerError as e:
            out.add(Level.FAIL, "sheet", str(e), config=isinstance(e, ConfigError))
            out.reachable = False
            return out
        tabs = [s.get("properties", {}).get("title", "") for s in meta.get("sheets", [])]
        out.add(Level.OK, "sheet", f"{self.email} can open {meta.get('properties', {}).get('title', self.id)!r} "
                                   "(write access shows at the first run)")
        out.notes.append(f"tabs ({len(tabs)}): {', '.join(tabs)}")
        try:
            header_findings(out, {t: (self.read_tab(t) or [None])[0] for t in MINE if t in tabs})
        except SyncerError as e:
            out.add(Level.FAIL, "tabs", str(e), config=isinstance(e, ConfigError))
        return out

    def read_tab(self, title: str) -> Table | None:
        """Values of any tab (formulas as computed, dates as serial numbers), served from the run's one read, its
        title matched regardless of case as Sheets does; None when there is no such tab."""
        snap = self._snapshot(title)
        rows = snap.values.get(_named(snap.tabs, title))
        return None if rows is None else [list(row) for row in rows]

    def recall(self, marks: SinkMarks | None, recheck: bool = False) -> None:
        """What the state remembers of the sheet; with `recheck` (a run due for a full read) syncer's tabs are read
        back anyway."""
        self._marks, self._recheck = marks, recheck

    def plan(self, tables: Mapping[str, Table], frames: Frames | None = None) -> Plan:
        """Diff the given owned tabs against the sheet; writes nothing. When the sheet carries the stamp the marks
        (`recall`) remember (see `stamp`), a tab whose table is unchanged is skipped, and a changed one is diffed
        against its marks, both unread; otherwise (and on a recheck) the owned tabs are read once.

        Raises SinkError for an owned tab (or Sync log) that exists with a header syncer did not write, and when
        the sheet would pass Google's 10 million cells.
        `frames` are not written: a sheet holds the tabs only.
        """
        titles = owned_titles(tables, "gsheet")
        snap = self._metadata()
        tables_digest = {title: table_digest(tables[title]) for title in titles}
        sizes = _sizes(snap)
        known = known_tabs(self._marks, snap.stamp, sizes, self._recheck)
        self._snapshot(owned=[t for t in titles if t not in known])  # most often read already, with read_tab's
        if known and self._marks and self._marks.stamp.get("log") != snap.log_last:
            known = {}  # values were written since that the state does not know of (a run that failed half-way)
            self._snapshot(owned=titles)
        todo = [t for t in titles if t not in known or known[t].table != tables_digest[t]]
        used_ids = {t.sheet_id for t in snap.tabs.values()}
        changes, grids, runs, written, warnings = {t: TabChange() for t in titles}, [], [], {}, []
        for title in todo:
            changes[title], grid, tab_runs, digests = self._plan_tab(snap, title, tables[title], known.get(title),
                                                                     used_ids, warnings)
            runs += tab_runs
            grids.append(grid)
            written[title] = TabMark(tables_digest[title], pack(digests))
        log = self._plan_log(snap, used_ids, grids, runs)
        mine = {g.title for g in grids}
        other_cells = sum(t.rows * t.cols for title, t in snap.tabs.items() if title not in mine)
        structural, cells, after = structural_requests(grids, other_cells, room=True)
        if cells > MAX_CELLS:
            structural, cells, after = structural_requests(grids, other_cells, room=False)
        if cells > MAX_CELLS:
            raise SinkError(f"the Google Sheet would hold {cells:,} cells, over Google's limit of {MAX_CELLS:,} "
                            "for all tabs together; delete unused tabs, rows or columns, or use another sheet")
        if cells > CELLS_WARN * MAX_CELLS:
            warnings.append(f"the Google Sheet holds {cells:,} of its {MAX_CELLS:,} cells; make room before it fills")
        structural += decorations(snap.tabs, {g.title: g.sheet_id for g in grids}, tables, titles)
        stamp = snap.stamp
        if stamp is None or structural:
            # A structural change comes with a new stamp, in the same all-or-nothing batch; a run that writes values
            # writes its Sync log row first (see `apply`): either way a run that fails half-way, or another state
            # file's run, leaves the sheet with a stamp or a last log row that the state does not remember.
            stamp = uuid.uuid4().hex
            structural.append(stamp_request(snap.stamp_id, stamp))
        left = {t: list(after.get(t, sizes.get(t, (0, 0)))) for t in titles}
        kept = SinkMarks({"stamp": stamp, "grid": left}, {**known, **written})
        return Plan(tabs=changes, state=_Pending(structural, runs, *log, kept), warnings=warnings)

    def _plan_tab(self, snap: _Snapshot, title: str, table: Table, mark: TabMark | None, used_ids: set[int],
                  warnings: list[str]) -> tuple[TabChange, TabGrid, list[ValueRun], list]:
        """One tab's change, grid (with its row moves) and value runs, against its `mark` or the rows read."""
        migrated = False
        if mark is not None:
            marked = unpack(mark.rows)
        else:
            read = self._owned_rows(snap, title) or []
            migrated = bool(read) and header_status(title, read[0]) is HeaderStatus.EARLIER
            if migrated:
                warnings.append(migration_note(title, read[0]))
            marked = row_digests(read, KEY_COLUMNS[title])
        rows = Storable(table)
        digests = digests_of(table, storable, KEY_COLUMNS[title], marked, rows.made)  # each cell once
        old, new = stored(marked), stored(digests)
        # columns moved, or the Dashboard (its charts sit on it): rewrite in place
        moves = [] if migrated or title == DASHBOARD else diff._moves(old, new, (0,))
        current = diff._apply(old, moves) if moves else old
        width = max(len(r) for r in table) if title != DASHBOARD else max(DASHBOARD_COLUMNS, *map(len, table))
        grid = self._grid(snap, title, used_ids, old or None, len(rows), width, max(100, len(rows) // 10))
        grid.migrated = migrated
        grid.first = grid.new and title == DASHBOARD and not any(t in snap.tabs for t in MINE)
        grid.moves = [row_move_request(grid.sheet_id, m) for m in moves]
        for kind, a, b in moves:
            grid.rows += b if kind == "insert" else a - b
        runs = value_runs(title, [d[2] if d else 0 for d in current], rows, diff._changed(current, new))
        return count_changes(old, new), grid, runs, digests

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Send the planned writes with the Sync log row; returns the HTTP requests this run sent (reads too)."""
        p: _Pending = plan.state
        structural = list(p.structural)
        log = [storable(v) for v in log_row]
        runs = list(p.runs)
        if runs or not structural:  # the log row first: a write that stops half-way has written it (see `plan`)
            runs.insert(0, (SYNC_LOG, p.log_row, [pad_row(log, p.log_width)]))
        else:  # only structural changes: the log row rides in that request rather than costing another
            structural.append(update_cells_request(p.log_sheet_id, p.log_row, log))
        if structural:
            self._call("structure update", self.http.batch_update, self.id, {"requests": structural}, once=True)
        for chunk in value_chunks(runs, MAX_PAYLOAD):
            body = {"valueInputOption": "RAW", "data": chunk}
            self._call("values write", self.http.values_batch_update, self.id, body)
        used, self.requests, self._snap = self.requests, 0, None
        plan.marks = SinkMarks({**p.marks.stamp, "log": log[0]}, p.marks.tabs)
        return used

    def _metadata(self) -> _Snapshot:
        """The run's metadata read (tabs, grid sizes, syncer's stamp), once."""
        if self._snap is None:
            meta = self.read_metadata(METADATA_FIELDS)
            sheets = [sheet for sheet in meta.get("sheets", []) if "properties" in sheet]
            self._snap = _Snapshot({s["properties"]["title"]: _Tab.of(s) for s in sheets}, *stamp_of(meta))
        return self._snap

    def _snapshot(self, extra: str | None = None, owned: Sequence[str] = ()) -> _Snapshot:
        """The run's reads: metadata, then one values:batchGet of the tabs asked for and the Sync log's header
        and column A (the first time, with syncer's tabs unless the marks hold), one more for a tab asked later."""
        snap = self._metadata()
        if not snap.log_read:  # syncer's tabs whose marks do not hold are read with the first read
            known = known_tabs(self._marks, snap.stamp, _sizes(snap), self._recheck)
            owned = [*owned, *(t for t in OWNED_TABS if t not in known)]
        titles = [t for t in (*owned, extra and _named(snap.tabs, extra))
                  if t in snap.tabs and snap.tabs[t].grid and t not in snap.values]
        log = not snap.log_read and SYNC_LOG in snap.tabs and snap.tabs[SYNC_LOG].grid
        if titles or log:
            self._read(snap, list(dict.fromkeys(titles)), log)
        snap.log_read = True
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
            snap.log_last = diff.normalise_cell(got[-1][-1][0]) if got[-1] and got[-1][-1] else None

    def _owned_rows(self, snap: _Snapshot, title: str) -> list[NormRow] | None:
        if title not in snap.tabs:
            return None
        rows = snap.values.get(title)
        if not snap.tabs[title].grid or (rows and header_status(title, rows[0]) is HeaderStatus.FOREIGN):
            raise SinkError(f"tab {title!r} of the Google Sheet has a header syncer did not write, so syncer will not "
                            "overwrite it; rename that tab (syncer then creates its own) or use another sheet")
        return rows or None  # an empty tab of that name holds nothing to lose: adopt it

    def _grid(self, snap: _Snapshot, title: str, used_ids: set[int], old: list | None, need: int, width: int,
              room: int) -> TabGrid:
        need = max(need, 2)  # a row under the frozen header: Google refuses to freeze every row of a grid
        tab = snap.tabs.get(title)
        if tab is not None:
            return TabGrid(title, tab.sheet_id, tab.rows, tab.cols, need, width, room, adopt=old is None)
        clash = _named(snap.tabs, title)
        if clash != title:
            raise SinkError(f"tab {clash!r} of the Google Sheet has the name of syncer's tab {title!r} but for letter "
                            "case, and Google Sheets does not tell tab names apart by case, so syncer cannot add its "
                            "own; rename that tab")
        sheet_id = zlib.crc32(title.encode()) & 0x7FFFFFFF  # stable ids, so requests can name the new tab
        while sheet_id in used_ids:
            sheet_id = (sheet_id + 1) & 0x7FFFFFFF  # a sheet id is an int32
        used_ids.add(sheet_id)
        return TabGrid(title, sheet_id, 0, 0, need, width, room, new=True)

    def _plan_log(self, snap: _Snapshot, used_ids: set[int], grids: list[TabGrid],
                  runs: list[ValueRun]) -> tuple[int, int, int]:
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
            grid.moves = [row_move_request(grid.sheet_id, ("delete", 1, 1 + excess))]
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
                if once and classify(exc) is Verdict.RETRY and status_of(exc) != 429 \
                        and not isinstance(exc, requests.ConnectTimeout):  # a SinkError is never retried
                    raise SinkError(f"Google Sheets {what} failed ({error_summary(exc)}) and may have been carried "
                                    "out all the same, so it was not repeated; nothing more was written, and the next "
                                    "run reads the sheet afresh and completes it") from None
                raise

        try:
            return self.policy.call(attempt)
        except (APIError, GoogleAuthError, requests.RequestException) as exc:
            raise sheets_error(what, exc, email=self.email, spreadsheet_id=self.id,
                               attempts=self.policy.attempts) from None


def _sizes(snap: _Snapshot) -> dict[str, tuple[int, int]]:
    return {t: (tab.rows, tab.cols) for t, tab in snap.tabs.items() if tab.grid}


def _named(tabs: Mapping[str, object], title: str) -> str:
    """The tab's title as the sheet spells it: Sheets titles are unique regardless of case (`tasks` is `Tasks`)."""
    return title if title in tabs else next((t for t in tabs if t.lower() == title.lower()), title)
