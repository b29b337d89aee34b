"""The xlsx sink: syncer's tabs of a local workbook rewritten atomically, every other tab kept as it was."""

from __future__ import annotations

import glob
import io
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from syncer.checks import Inspection, Level
from syncer.domain.frames import Frames
from syncer.errors import ConfigError, SinkError
from syncer.sinks import Plan
from syncer.sinks.diff import NormRow, diff_table, normalise_cell, normalise_table
from syncer.sinks.headers import MINE, header_findings
from syncer.tables import (
    HEADERS,
    KEY_COLUMNS,
    MONEY_COLUMNS,
    OWNED_TABS,
    RATIO_COLUMNS,
    SYNC_LOG,
    SYNC_LOG_KEEP,
    Cell,
    HeaderStatus,
    Row,
    Table,
    header_status,
    migration_note,
)

if TYPE_CHECKING:
    from syncer.config import Config, XlsxSinkConfig

MAX_CELL_CHARS = 32767  # Excel's limit; openpyxl truncates silently, so the diff must see the truncated text
MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.0%"
MIN_WIDTH, MAX_WIDTH = 8, 60


def storable(value: object) -> Cell:
    """A cell value as the workbook will hold it: normalised, text without XML-illegal characters, within limits."""
    cell = normalise_cell(value)
    if isinstance(cell, str):
        cell = ILLEGAL_CHARACTERS_RE.sub("", cell)[:MAX_CELL_CHARS] or None
    return cell


@dataclass(slots=True)
class _State:
    workbook: Workbook | None  # None: the file does not exist yet
    tables: dict[str, Table]  # owned tab -> storable rows, in SPEC §6 order
    stamp: tuple[int, int] | None  # the file's (mtime_ns, size) when planned


class XlsxSink:
    """A local .xlsx workbook: owned tabs replaced each run, the Sync log appended to, other tabs untouched.

    Limitation: openpyxl saves formulas without their cached values, so after syncer writes the file a formula
    in another tab (e.g. `Budget`) has no value for `read_tab` until Excel or LibreOffice opens and saves it.
    Parts openpyxl cannot read (shapes, some extensions) are dropped on save; it warns, and `plan` passes those
    warnings on.
    """

    requests = 0  # a file: no API requests

    def __init__(self, path: Path, tz: tzinfo | None = None):
        self.path = Path(path)
        if self.path.suffix.lower() != ".xlsx":
            raise ConfigError(f"sink.path: {self.path} must end in .xlsx")
        self.tz = tz  # rows arrive already rendered in the configured zone; a workbook stores none

    @classmethod
    def from_config(cls, sink: XlsxSinkConfig, cfg: Config, policy: object = None) -> XlsxSink:
        """The sink for a config's `sink:` section (`kind: xlsx`); a local file needs no retry policy."""
        return cls(sink.path, cfg.tz)

    def inspect(self) -> Inspection:
        """`syncer doctor`: the path is writable, the file (if any) readable with syncer's tabs."""
        out, path = Inspection(), self.path
        # The workbook is rewritten through a temporary file beside it (its folder is made if missing): the nearest
        # existing folder must be writable, and the file too if it exists.
        folder, exists = next(p for p in path.absolute().parents if p.exists()), path.exists()
        if not (os.access(folder, os.W_OK | os.X_OK) and (not exists or os.access(path, os.W_OK))):
            out.add(Level.FAIL, "path", f"{path} is not writable (check it and {folder})")
        else:
            out.add(Level.OK, "path", f"{path} is writable" if exists else f"{path} will be created ({folder} is "
                                                                            "writable)")
        if not exists:
            return out
        try:
            wb = load_workbook(path, read_only=True)
        except Exception as e:  # openpyxl reports a damaged file with many exception types
            out.add(Level.FAIL, "workbook", f"{path} is not a readable xlsx workbook ({type(e).__name__}: {e})")
            return out
        try:
            tabs = list(wb.sheetnames)
            first = {t: next(wb[t].iter_rows(max_row=1, values_only=True), None) for t in MINE if t in tabs}
        finally:
            wb.close()
        out.add(Level.OK, "workbook", f"readable, {len(tabs)} tab(s)")
        out.notes.append(f"tabs: {', '.join(tabs)}")
        header_findings(out, first)
        return out

    def read_tab(self, title: str) -> Table | None:
        """Cached values of any tab (formulas as last calculated), or None when the file or tab is missing.

        A formula cell without a cached value raises SinkError rather than reading as blank (a silent zero).
        """
        if not self._stamp():
            return None
        with self._open(read_only=True, data_only=True) as wb:
            if title not in wb.sheetnames:
                return None
            ws = wb[title]
            ws.reset_dimensions()  # some writers record a wrong used range; read every row instead
            cells = [list(row) for row in ws.iter_rows()]
        values = [[c.value for c in row] for row in cells]
        # a formula whose result is "" is stored as t="str" with an empty value: blank, but calculated
        blank_text = {(c.row, c.column) for row in cells for c in row if c.data_type == "str"}
        if any(v is None for row in values for v in row):
            self._check_cached(title, values, blank_text)
        return [list(row) for row in normalise_table(values)]

    def plan(self, tables: Mapping[str, Table], frames: Frames | None = None) -> Plan:
        """Load the workbook once and diff each given owned tab against it; writes nothing.

        Raises SinkError for an owned tab (or Sync log) that exists with a header syncer did not write.
        `frames` are not written: a sheet holds the tabs only.
        """
        foreign = sorted(set(tables) - set(OWNED_TABS))
        if foreign:
            raise ValueError(f"the xlsx sink writes only syncer's tabs, not {foreign}")
        stamp, notes = self._stamp(), []
        wb = self._load(notes) if stamp else None
        changes, prepared = {}, {}
        for title in (t for t in OWNED_TABS if t in tables):
            rows = [[storable(v) for v in row] for row in tables[title]]
            if not rows or rows[0] != HEADERS[title]:
                raise ValueError(f"table {title!r} must start with its SPEC header")
            changes[title] = diff_table(self._owned_rows(wb, title, notes), rows, KEY_COLUMNS[title])
            prepared[title] = rows
        self._owned_rows(wb, SYNC_LOG, None)
        return Plan(tabs=changes, state=_State(wb, prepared, stamp), warnings=notes)

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Write the planned tabs and the Sync log row, then replace the file atomically; returns 0 requests."""
        state: _State = plan.state
        if self._stamp() != state.stamp:
            raise SinkError(f"{self.path} changed since syncer read it; run the sync again")
        wb = state.workbook
        blank = None
        if wb is None:
            wb = Workbook()
            blank = wb.active
        for title, rows in state.tables.items():
            _replace_tab(wb, title, rows)
        _append_log(wb, [storable(v) for v in log_row])
        if blank is not None:
            wb.remove(blank)
        self._save(wb)
        return 0

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SinkError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        return st.st_mtime_ns, st.st_size

    def _load(self, notes: list[str] | None = None, **options: bool) -> Workbook:
        """Load the workbook; openpyxl's warnings (parts it will drop on save) go to `notes`, not stderr."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # rich_text keeps finance's partly formatted cells intact through the rewrite
                wb = load_workbook(self.path, rich_text=True, **options)
        except Exception as exc:  # openpyxl reports a damaged file with many exception types
            raise SinkError(f"{self.path} is not a readable xlsx workbook ({exc or type(exc).__name__})") from exc
        if notes is not None:
            notes.extend(f"{self.path}: {w.message}" for w in caught)
        return wb

    @contextmanager
    def _open(self, **options: bool) -> Iterator[Workbook]:
        wb = self._load(None, **options)
        try:
            yield wb
        finally:
            wb.close()

    def _check_cached(self, title: str, values: list[list[object]], blank_text: set[tuple[int, int]]) -> None:
        """Raise SinkError for formula cells of the tab that have no cached value."""

        def cached(r: int, c: int) -> bool:
            return (r, c) in blank_text or (
                r <= len(values) and c <= len(values[r - 1]) and values[r - 1][c - 1] is not None
            )

        with self._open(read_only=True, data_only=False) as wb:
            ws = wb[title]
            ws.reset_dimensions()
            missing = [
                c.coordinate
                for row in ws.iter_rows()
                for c in row
                if c.data_type == "f" and not cached(c.row, c.column)
            ]
        if missing:
            cells = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise SinkError(
                f"tab {title!r} in {self.path}: formula cells {cells} have no saved value (the file was last saved "
                "by a program that does not calculate, such as syncer); open and save it in Excel or LibreOffice"
            )

    def _owned_rows(self, wb: Workbook | None, title: str, notes: list[str] | None) -> list[NormRow] | None:
        """The tab's rows; a tab with an earlier syncer version's header is migrated (said in `notes`); `notes`
        None: only the current header will do."""
        if wb is None or title not in wb.sheetnames:
            return None
        rows = normalise_table(wb[title].iter_rows(values_only=True))
        if not rows:
            return None  # an empty tab of that name holds nothing to lose: adopt it
        status = header_status(title, rows[0])
        if status is HeaderStatus.EARLIER and notes is not None:
            notes.append(migration_note(title, rows[0]))
        elif status is not HeaderStatus.CURRENT:
            raise SinkError(
                f"tab {title!r} in {self.path} has a header syncer did not write; "
                "rename the tab or point the sink elsewhere"
            )
        return rows

    def _save(self, wb: Workbook) -> None:
        save_atomically(wb, self.path)


def save_atomically(wb: Workbook, path: Path) -> None:
    """Replace the file by the workbook in one rename; on any failure the old file stays as it was.

    A symlinked path is written through the link (the file it points at is replaced, the link stays). Temp files
    a killed run left beside the file are removed first. The workbook is serialised in memory: openpyxl leaves its
    ZipFile open when a write fails (a full disk), and that ZipFile retrying at exit printed a traceback.
    """
    target = Path(os.path.realpath(path))
    prefix = f".{target.name}."
    tmp = target.with_name(f"{prefix}{uuid.uuid4().hex[:8]}.tmp")
    data = io.BytesIO()
    try:
        wb.save(data)  # openpyxl spools worksheets through temp files: this can fail on a full disk too
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
            stale.unlink(missing_ok=True)
        with open(tmp, "xb") as fh:
            fh.write(data.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        reason = exc.strerror or exc
        raise SinkError(f"cannot write {path}: {reason} (is it open in another program, or the folder read-only?)"
                        ) from None
    finally:
        with suppress(OSError):  # on a read-only disk even removing a file that is not there fails
            tmp.unlink(missing_ok=True)


def _replace_tab(wb: Workbook, title: str, rows: Table) -> None:
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


def _append_log(wb: Workbook, row: Row) -> None:
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
    for c in range(width):
        longest = max((len(_shown(row[c])) for row in rows if c < len(row)), default=0)
        ws.column_dimensions[get_column_letter(c + 1)].width = min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)


def _shown(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)
