"""The xlsx sink: syncer's tabs of a local workbook rewritten atomically, every other tab kept as it was."""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet

from syncer.checks import Inspection, Level
from syncer.domain.frames import Frames
from syncer.errors import ConfigError, SinkError
from syncer.sinks import Plan, TabChange
from syncer.sinks.diff import NormRow, count_changes, normalise_cell, normalise_table
from syncer.sinks.headers import MINE, header_findings, owned_titles
from syncer.sinks.marks import Digest, SinkMarks, TabMark, digests_of, pack, row_digests, stored, table_digest, unpack
from syncer.sinks.xlsx_charts import DECORATED, decorate, decoration_shape, redecorated_xml
from syncer.sinks.xlsx_layout import append_log, replace_tab
from syncer.sinks.xlsx_parts import (
    WORKBOOK,
    Layout,
    Styles,
    atomic_write,
    layout_of,
    register_styles,
    rewrite,
    sheet_parts,
    sheet_xml,
    table_xml,
    trusts,
    with_filter_ranges,
)
from syncer.sinks.xlsx_rows import RowChange, row_change, splice_rows
from syncer.tables import (
    HEADERS,
    KEY_COLUMNS,
    SYNC_LOG,
    SYNC_LOG_KEEP,
    Cell,
    HeaderStatus,
    Table,
    header_status,
    migration_note,
)

if TYPE_CHECKING:
    from syncer.config import Config, XlsxSinkConfig

MAX_CELL_CHARS = 32767  # Excel's limit; openpyxl truncates silently, so the diff must see the truncated text
# Tabs openpyxl writes in full, after which EXTRAS[title](sheet, rows) adds what plain cells cannot hold (charts,
# conditional formats); a change to such a tab takes the openpyxl pass (see XlsxSink). Other tabs are streamed.
EXTRAS: dict[str, Callable[[Worksheet, Table], None]] = {t: decorate for t in DECORATED}


def storable(value: object) -> Cell:
    """A cell value as the workbook will hold it: normalised, text without XML-illegal characters, within limits."""
    cell = normalise_cell(value)
    if isinstance(cell, str):
        if not cell.isprintable():  # every XML-illegal character is a control character, so not printable: a
            cell = ILLEGAL_CHARACTERS_RE.sub("", cell)  # printable text (most cells) skips the scan
        cell = cell[:MAX_CELL_CHARS] or None
    return cell


@dataclass(slots=True)
class _State:
    workbook: Workbook | None  # loaded for the openpyxl pass (None: a new file, or the fast path)
    tables: dict[str, Table]  # owned tab -> rows as the workbook will hold them (`storable`), of the tabs to write
    changes: dict[str, RowChange]  # the tabs to write whose part is rewritten row by row, if it can be
    digests: dict[str, str]  # every given owned tab -> table_digest
    rows: dict[str, list[Digest]]  # the tabs to write -> their row digests
    stamp: tuple[int, int] | None  # the file's (mtime_ns, size) when planned
    marks: SinkMarks | None  # what syncer last wrote, when the file is provably as it left it
    layout: Layout | None  # where syncer's tabs are and its styles: parts are rewritten (else openpyxl lays out)
    shapes: dict[str, str]  # decorated tab -> decoration_shape of the given rows


class XlsxSink:
    """A local .xlsx workbook: owned tabs replaced when they change, the Sync log appended to, other tabs untouched.

    When the file is as syncer last saved it (same mtime and size as recorded in the state), a run rewrites only
    the parts of the tabs that changed and of the Sync log, and copies every other part byte for byte (the fast
    path, `xlsx_parts`). Otherwise (a new file, one saved by Excel since, a new owned tab) openpyxl lays the
    workbook out (every tab; syncer's with their headers only) and the owned tabs' rows are streamed in after.

    Limitation of that openpyxl pass: openpyxl saves formulas without their cached values, so a formula in another
    tab (e.g. `Budget`) has no value for `read_tab` until Excel or LibreOffice opens and saves the file; parts
    openpyxl cannot read (shapes, some extensions) are dropped; it warns, and `plan` passes those warnings on.
    """

    requests = 0  # a file: no API requests

    def __init__(self, path: Path, tz: tzinfo | None = None):
        self.path = Path(path)
        if self.path.suffix.lower() != ".xlsx":
            raise ConfigError(f"sink.path: {self.path} must end in .xlsx")
        self.tz = tz  # rows arrive already rendered in the configured zone; a workbook stores none
        self.ident = f"xlsx:{self.path.absolute()}"
        self._marks: SinkMarks | None = None

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

    def recall(self, marks: SinkMarks | None, recheck: bool = False) -> None:
        """What the state remembers of the file (`recheck` changes nothing: a file's mtime and size tell any edit)."""
        self._marks = marks

    def plan(self, tables: Mapping[str, Table], frames: Frames | None = None) -> Plan:
        """Diff each given owned tab against what the file holds; writes nothing. With marks (`recall`) of the file
        as it is (its mtime and size), an unchanged tab is skipped and a changed one diffed against its marks,
        without reading the workbook; otherwise the workbook is loaded once.

        Raises SinkError for an owned tab (or Sync log) that exists with a header syncer did not write.
        `frames` are not written: a sheet holds the tabs only.
        """
        titles = owned_titles(tables, "xlsx")
        stamp, notes = self._stamp(), []
        digests = {title: table_digest(tables[title]) for title in titles}
        trusted = self._marks if trusts(self._marks, stamp, titles) else None
        todo = [t for t in titles if trusted is None or not trusted.unchanged(t, digests[t])]
        layout = Layout.of(trusted.stamp) if trusted is not None else layout_of(self.path, titles) if stamp else None
        laid = trusted.stamp.get("shapes") or {} if trusted is not None else {}
        drawn = {t: decoration_shape(t, _stored(tables[t])) for t in titles if t in EXTRAS}  # of the cells as stored
        if any(t in drawn and laid.get(t) != drawn[t] for t in todo):
            trusted, layout, todo = None, None, titles  # its decoration moves: openpyxl lays it out again
        # a tab written now gets its new shape; one left alone keeps the shape it was laid with
        shapes = {t: shape if t in todo else laid.get(t, "") for t, shape in drawn.items()}
        wb = self._load(notes, read_only=layout is not None) if stamp and trusted is None else None
        changes, prepared, rows_of, by_row = {}, {}, {}, {}
        for title in titles:
            if title not in todo:
                changes[title] = TabChange()
                continue
            if trusted is not None:
                old = unpack(trusted.tabs[title].rows)
            else:
                old = row_digests(self._owned_rows(wb, title, notes) or [], KEY_COLUMNS[title])
            made: dict[int, list[Cell]] = {}  # the rows made storable for the digests, kept for the write
            new = digests_of(tables[title], storable, KEY_COLUMNS[title], old, made)
            changes[title], rows_of[title] = count_changes(stored(old), stored(new)), new
            if layout is not None and trusted is not None and title not in EXTRAS:  # only changed rows are made
                by_row[title] = row_change(tables[title], old, new, made, storable)
            else:
                prepared[title] = _stored(tables[title], made)
        if trusted is None:
            logs = self._owned_rows(wb, SYNC_LOG, None) or [()]
            if layout is not None:
                layout.log = [list(r) for r in logs[1:]]
                wb.close()
                wb = None
        state = _State(wb, prepared, by_row, digests, rows_of, stamp, trusted, layout, shapes)
        return Plan(tabs=changes, state=state, warnings=notes)

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Write the planned tabs and the Sync log row, replacing the file atomically; `plan.marks` then holds
        what the state should remember of it. Returns 0 requests."""
        state: _State = plan.state
        if self._stamp() != state.stamp:
            raise SinkError(f"{self.path} changed since syncer read it; run the sync again")
        log = [storable(v) for v in log_row]
        if state.layout is not None:
            parts, styles, logs = self._write_parts(state.layout, state, log)
        else:
            parts, styles, logs = self._lay_out(state, log)
        written = {t: TabMark(state.digests[t], pack(d)) for t, d in state.rows.items()}
        st, ids = self.path.stat(), [styles.header, styles.money, styles.ratio]
        stamp = {"mtime_ns": st.st_mtime_ns, "size": st.st_size, "parts": parts, "styles": ids, "log": logs,
                 "shapes": state.shapes}
        plan.marks = SinkMarks(stamp, {**(state.marks.tabs if state.marks else {}), **written})
        return 0

    def _write_parts(self, layout: Layout, state: _State, log: list[Cell]) -> tuple[dict[str, str], Styles, list]:
        """The given tabs' parts and the Sync log's rewritten, every other part copied as it is."""
        logs, tables = [*layout.log, log][-SYNC_LOG_KEEP:], dict(state.tables)
        fresh: dict[str, Iterable[bytes]] = {}
        with zipfile.ZipFile(self.path) as package:  # a decorated tab's cells go under its drawing and colours
            for t, change in state.changes.items():  # only the changed rows written, where the part allows
                spliced = splice_rows(package.read(layout.parts[t]), change, layout.styles, storable)
                if spliced is None:
                    tables[t] = _stored(change.table, change.cells)
                else:
                    fresh[layout.parts[t]] = [spliced]
            for t, rows in tables.items():
                spliced = redecorated_xml(t, package.read(layout.parts[t]), rows, layout.styles) \
                    if t in EXTRAS else None
                fresh[layout.parts[t]] = [spliced] if spliced is not None else table_xml(rows, layout.styles)
            log_tab = [list(HEADERS[SYNC_LOG]), *logs]
            shapes = {**{t: c.table for t, c in state.changes.items()}, **tables, SYNC_LOG: log_tab}
            fresh[WORKBOOK] = [with_filter_ranges(package.read(WORKBOOK), shapes)]
        fresh[layout.parts[SYNC_LOG]] = sheet_xml(log_tab, [], layout.styles.header)
        atomic_write(self.path, lambda fh: rewrite(self.path, fh, fresh))
        return layout.parts, layout.styles, logs

    def _lay_out(self, state: _State, log: list[Cell]) -> tuple[dict[str, str], Styles, list]:
        """The openpyxl pass: every tab laid out (syncer's with their header only, unless EXTRAS writes them),
        the Sync log appended, then the owned tabs' rows streamed into their parts."""
        wb, blank = state.workbook, None
        if wb is None:
            wb = Workbook()
            blank = wb.active
        for title, rows in state.tables.items():
            replace_tab(wb, title, rows if title in EXTRAS else rows[:1])
            if title in EXTRAS:
                EXTRAS[title](wb[title], rows)
        append_log(wb, log)
        if blank is not None:
            wb.remove(blank)
        styles = register_styles(wb)
        logs = [list(r) for r in normalise_table(wb[SYNC_LOG].iter_rows(values_only=True))[1:]]
        laid = io.BytesIO()
        try:
            wb.save(laid)
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        with zipfile.ZipFile(laid) as package:
            parts, book = sheet_parts(package), package.read(WORKBOOK)
        fill: dict[str, Iterable[bytes]] = {parts[t]: table_xml(rows, styles) for t, rows in state.tables.items()
                                            if t not in EXTRAS}
        fill[WORKBOOK] = [with_filter_ranges(book, state.tables)]
        atomic_write(self.path, lambda fh: rewrite(laid, fh, fill))
        return parts, styles, logs

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


def _stored(rows: Table, made: Mapping[int, list[Cell]] | None = None) -> Table:
    """The rows as the workbook will hold them; `made`: rows (by position) already made storable."""
    made = made or {}
    return [made[i] if i in made else [storable(v) for v in row] for i, row in enumerate(rows)]
