"""An xlsx package edited part by part: syncer's own tabs streamed as sheet XML, every other part copied byte for
byte (still compressed), so another tab's formulas, cached values, charts and formatting stay exactly as the last
program to save the file left them, and a 100k-row tab is written in about a second.

openpyxl, which the sink uses to lay a workbook out, can only load and save a whole workbook: saving drops the
cached values of other tabs' formulas, and its write-only mode (16 s for 100k rows x 28 columns, measured) cannot
keep other tabs at all. The cell XML written here is the plain SpreadsheetML of ECMA-376 Part 1, §18.3.1: inline
strings (no shared-string table to rebuild), numbers, booleans, and the styles openpyxl registered for them.
"""

from __future__ import annotations

import copy
import glob
import html
import io
import os
import posixpath
import re
import shutil
import struct
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.styles.stylesheet import Stylesheet
from openpyxl.utils import get_column_letter
from openpyxl.xml.functions import fromstring

from syncer.errors import SinkError
from syncer.sinks.marks import SinkMarks
from syncer.tables import MONEY_COLUMNS, RATIO_COLUMNS, SYNC_LOG, Cell, Table

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
WORKBOOK = "xl/workbook.xml"
MIN_WIDTH, MAX_WIDTH = 8, 60
MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.0%"
_CHUNK = 2000  # rows per write to the zip stream


@dataclass(frozen=True, slots=True)
class Styles:
    """Cell format (xf) indices of the workbook's styles part for syncer's cells."""

    header: int
    money: int
    ratio: int


@dataclass(slots=True)
class Layout:
    """Where syncer's tabs are (tab -> worksheet part), its cell styles, and the Sync log's rows before this run."""

    parts: dict[str, str]
    styles: Styles
    log: list

    @classmethod
    def of(cls, stamp: dict) -> Layout:
        return cls(dict(stamp["parts"]), Styles(*stamp["styles"]), list(stamp["log"]))


def layout_of(path: Path, titles: list[str]) -> Layout | None:
    """Where syncer's tabs are in the file as it is, and its cell styles, if all are there (a workbook saved by
    Excel since keeps them); None if not (then openpyxl lays the workbook out)."""
    try:
        with zipfile.ZipFile(path) as package:
            parts, styles = sheet_parts(package), find_styles(package, MONEY_FORMAT, RATIO_FORMAT)
            present = set(package.namelist())
    except (OSError, zipfile.BadZipFile):
        return None  # the sink's load reports it
    if styles is None or not all(t in parts and parts[t] in present for t in [*titles, SYNC_LOG]):
        return None
    return Layout(parts, styles, [])


def trusts(marks: SinkMarks | None, stamp: tuple[int, int] | None, titles: list[str]) -> bool:
    """Whether `marks` describe the file as it is: saved by syncer since nothing else touched it, every given tab
    (and the Sync log) in a part syncer knows, with the styles syncer registered."""
    if marks is None or stamp is None:
        return False
    s = marks.stamp
    parts = s.get("parts")
    return ((s.get("mtime_ns"), s.get("size")) == stamp and isinstance(parts, dict) and isinstance(s.get("log"), list)
            and len(s.get("styles") or ()) == 3 and all(t in parts and t in marks.tabs for t in titles)
            and SYNC_LOG in parts)


def register_styles(wb: Workbook) -> Styles:
    """Make sure the styles part holds syncer's cell formats, and return their indices (openpyxl saves every
    format it was given, used or not, in the order of `cell.style_id`)."""
    ws = wb.create_sheet("syncer styles")
    header, money, ratio = ws.cell(1, 1), ws.cell(1, 2), ws.cell(1, 3)
    header.font = Font(bold=True)
    money.number_format, ratio.number_format = MONEY_FORMAT, RATIO_FORMAT
    styles = Styles(header.style_id, money.style_id, ratio.style_id)
    wb.remove(ws)
    return styles


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Replace the file by what `write` writes, in one rename; on any failure the old file stays as it was.

    A symlinked path is written through the link (the file it points at is replaced, the link stays). Temp files
    a killed run left beside the file are removed first; the new one is flushed to disk and keeps the file's mode.
    The package is put together in memory first: a ZipFile left open on a failed write (a full disk) would retry at
    exit and print a traceback.
    """
    target = Path(os.path.realpath(path))
    prefix = f".{target.name}."
    tmp = target.with_name(f"{prefix}{uuid.uuid4().hex[:8]}.tmp")
    data = io.BytesIO()
    try:
        write(data)
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


def sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
    """Tab title -> its worksheet part (`xl/worksheets/sheet3.xml`), from the workbook part and its relationships."""
    try:
        book = ElementTree.fromstring(package.read(WORKBOOK))
        rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{{{PKG_REL}}}Relationship")}
    out = {}
    for sheet in book.iter(f"{{{MAIN}}}sheet"):
        target = targets.get(sheet.get(f"{{{REL}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        out[sheet.get("name") or ""] = part
    return out


def rewrite(source: BinaryIO | Path, out: BinaryIO, parts: Mapping[str, Iterable[bytes]]) -> None:
    """The package `source` with the given parts' content replaced (each streamed and compressed), every other
    part copied as it is stored."""
    # Level 1: several times faster than the default, and XML still shrinks about tenfold.
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename in parts:
                with dst.open(info.filename, "w", force_zip64=True) as fh:  # deflated as the ZipFile says
                    for chunk in parts[info.filename]:
                        fh.write(chunk)
            else:
                _copy_stored(src, dst, info)


def _copy_stored(src: zipfile.ZipFile, dst: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    # zipfile has no call to copy an entry without inflating and deflating it again: read the entry's stored
    # bytes after its local header and write them after a fresh one, registered as ZipFile._open_to_write does.
    assert src.fp is not None and dst.fp is not None
    src.fp.seek(info.header_offset)
    name_len, extra_len = struct.unpack("<HH", src.fp.read(30)[26:30])
    src.fp.seek(info.header_offset + 30 + name_len + extra_len)
    data = src.fp.read(info.compress_size)
    entry = copy.copy(info)
    entry.flag_bits &= ~0x08  # sizes in the local header, no data descriptor after the data
    entry.extra = b""
    entry.header_offset = dst.fp.tell()
    dst._didModify = True  # noqa: SLF001 - see above
    dst.fp.write(entry.FileHeader(zip64=entry.file_size > zipfile.ZIP64_LIMIT))
    dst.fp.write(data)
    dst.filelist.append(entry)
    dst.NameToInfo[entry.filename] = entry
    dst.start_dir = dst.fp.tell()


_FILTER_NAME = re.compile(r'(<definedName\b(?=[^>]*\bname="_xlnm\._FilterDatabase")(?=[^>]*\blocalSheetId="(\d+)")'
                          r'[^>]*>)[^<]*(</definedName>)')
_SHEET_NAME = re.compile(r'<sheet\b[^>]*?\bname="([^"]*)"')


def with_filter_ranges(book: bytes, tables: Mapping[str, Table]) -> bytes:
    """The workbook part with the hidden `_xlnm._FilterDatabase` name of each given tab (Excel's record of the
    range its autofilter sorts and filters) covering that tab's table as now written, as its `autoFilter` does.
    openpyxl records the cells it wrote itself, the header only when the rows are streamed in after it."""
    text = book.decode("utf-8")
    titles = [html.unescape(name) for name in _SHEET_NAME.findall(text)]

    def cover(m: re.Match) -> str:
        i = int(m[2])
        rows = tables.get(titles[i]) if i < len(titles) else None
        if not rows:
            return m[0]
        quoted = escape(titles[i].replace("'", "''"))
        return f"{m[1]}'{quoted}'!$A$1:${get_column_letter(len(rows[0]))}${max(len(rows), 1)}{m[3]}"

    return _FILTER_NAME.sub(cover, text).encode("utf-8")


def find_styles(package: zipfile.ZipFile, money: str, ratio: str) -> Styles | None:
    """The first cell formats in the package's styles part that are bold (general numbers), `money` and `ratio`
    (not bold): the ones syncer's cells use, whoever saved the file last; None if one is missing."""
    try:
        sheet = Stylesheet.from_tree(fromstring(package.read("xl/styles.xml")))
    except (KeyError, ValueError, TypeError, ElementTree.ParseError):
        return None

    def code(num_fmt: int) -> str | None:
        return BUILTIN_FORMATS.get(num_fmt) if num_fmt < BUILTIN_FORMATS_MAX_SIZE else \
            sheet.number_formats[num_fmt - BUILTIN_FORMATS_MAX_SIZE]

    found: dict[tuple[bool, str | None], int] = {}
    for i, style in enumerate(sheet.cell_styles):
        font = sheet.fonts[style.fontId] if style.fontId < len(sheet.fonts) else None
        found.setdefault((bool(font and font.b), code(style.numFmtId)), i)
    wanted = [(True, "General"), (False, money), (False, ratio)]
    return Styles(*(found[w] for w in wanted)) if all(w in found for w in wanted) else None


def table_xml(rows: Table, styles: Styles) -> Iterator[bytes]:
    """`sheet_xml` of one of syncer's tables: money and ratio columns with their formats."""
    return sheet_xml(rows, column_formats(rows, styles), styles.header)


def column_formats(rows: Table, styles: Styles) -> list[int | None]:
    """The cell format of each column of a syncer table: money, ratio or none, by its header."""
    return [styles.money if h in MONEY_COLUMNS else styles.ratio if h in RATIO_COLUMNS else None for h in rows[0]]


def sheet_xml(rows: Table, formats: list[int | None], header_style: int) -> Iterator[bytes]:
    """A worksheet part for `rows` (row 0 the bold header, frozen, with an autofilter over the table): strings
    inline, numbers with the column's format (`formats`: an xf index per column, or None)."""
    yield sheet_head(len(rows[0]), max(len(rows), 1), column_widths(rows))
    yield from rows_xml(rows, formats, header_style)
    yield sheet_tail(len(rows[0]), max(len(rows), 1))


def sheet_head(width: int, height: int, widths: Sequence[float]) -> bytes:
    """What `sheet_xml` writes before the rows of a table `width` columns wide and `height` rows high."""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
            f'<dimension ref="A1:{get_column_letter(width)}{height}"/><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{cols_xml(widths)}<sheetData>').encode()


def sheet_tail(width: int, height: int) -> bytes:
    """What `sheet_xml` writes after the rows."""
    return (f'</sheetData><autoFilter ref="A1:{get_column_letter(width)}{height}"/>'
            '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>').encode()


def cols_xml(widths: Sequence[float]) -> str:
    return "<cols>" + "".join(f'<col min="{c}" max="{c}" width="{w}" customWidth="1"/>'
                              for c, w in enumerate(widths, 1)) + "</cols>"


def rows_xml(rows: Table, formats: list[int | None], header_style: int,
             cells: Mapping[tuple[int, int], int] | None = None) -> Iterator[bytes]:
    """The `<row>` elements of `rows`: the header in `header_style`, numbers in their column's format, or in
    `cells[(row, column)]` (1-based row, 0-based column) where given."""
    letters = [get_column_letter(c + 1) for c in range(max(map(len, rows)))]  # the Dashboard is ragged
    header = [header_style] * len(letters)
    formats = [*formats, *[None] * (len(letters) - len(formats))]
    for start in range(0, len(rows), _CHUNK):
        out = []
        for r in range(start + 1, min(start + _CHUNK, len(rows)) + 1):
            styles = header if r == 1 else formats
            if cells and r > 1 and any((r, c) in cells for c in range(len(letters))):
                styles = [cells.get((r, c), f) for c, f in enumerate(formats)]
            out.append(row_xml(r, rows[r - 1], letters, styles))
        yield "".join(out).encode()


_SHEET_DATA = re.compile(r"<sheetData\s*/>|<sheetData>.*</sheetData>", re.S)
# A colour rule's range: `K2:K40`, or `K2` as openpyxl saves a one-row range.
_COLOURED_RANGE = re.compile(r'(<conditionalFormatting\b[^>]*\bsqref=")([A-Z]+)2(?::\2\d+)?"')


def splice_xml(old: bytes, rows: Table, styles: Styles, cells: Mapping[tuple[int, int], int],
               widths: Sequence[float]) -> bytes | None:
    """The worksheet part `old` (one syncer wrote, as it left it) with `rows` in place of its cells: its used
    range, column widths, autofilter and the row ends of its colour rules follow the new rows, and everything else
    (the drawing of its charts, the colour rules themselves) stays. None if `old` has no cells element to replace.
    """
    text = old.decode("utf-8")
    found = _SHEET_DATA.search(text)
    if found is None:
        return None
    head, tail = text[:found.start()], text[found.end():]
    height = max(len(rows), 1)
    used, ref = f"A1:{get_column_letter(max(map(len, rows)))}{height}", f"A1:{get_column_letter(len(rows[0]))}{height}"
    head = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{used}"', head, count=1)
    head = re.sub(r"<cols>.*?</cols>", cols_xml(widths), head, count=1, flags=re.S)
    tail = re.sub(r'<autoFilter ref="[^"]*"', f'<autoFilter ref="{ref}"', tail, count=1)
    tail = _COLOURED_RANGE.sub(lambda m: f'{m[1]}{m[2]}2:{m[2]}{max(len(rows), 2)}"', tail)
    body = b"".join(rows_xml(rows, column_formats(rows, styles), styles.header, cells))
    return head.encode() + b"<sheetData>" + body + b"</sheetData>" + tail.encode()


def row_xml(r: int, row: list[Cell], letters: list[str], styles: list[int | None]) -> str:
    """One `<row>` (1-based `r`): text inline, numbers in their column's style (`styles`, by column)."""
    cells = []
    n = str(r)
    for c, value in enumerate(row):
        if value is None:
            continue
        if isinstance(value, str):  # RAW: text stays text, even "=SUM(...)" or "#N/A"
            if value.__class__ is not str:
                value = str.__str__(value)  # a subclass as its text, not as it would format itself
            space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
            style = f' s="{styles[c]}"' if r == 1 else ""
            text = escape(value) if "&" in value or "<" in value or ">" in value else value
            cells.append(f'<c r="{letters[c]}{n}" t="inlineStr"{style}><is><t{space}>{text}</t></is></c>')
        elif isinstance(value, bool):
            cells.append(f'<c r="{letters[c]}{n}" t="b"><v>{int(value)}</v></c>')
        else:
            style = f' s="{styles[c]}"' if c < len(styles) and styles[c] is not None else ""
            cells.append(f'<c r="{letters[c]}{n}"{style}><v>{value!r}</v></c>')
    return f'<row r="{n}">{"".join(cells)}</row>'


def column_widths(rows: Table) -> list[int]:
    """Each column's width from the longest value shown (money with thousands separators and 2 decimals)."""
    longest = [0] * len(rows[0])
    for row in rows:
        for c, value in enumerate(row[: len(longest)]):
            if value is not None:
                n = shown_length(value)
                if n > longest[c]:
                    longest[c] = n
    return [width_of(n) for n in longest]


def shown_length(value: Cell) -> int:
    """How many characters a cell's value takes as shown: money with thousands separators and 2 decimals."""
    return len(f"{value:,.2f}") if isinstance(value, float) else len(str(value))


def width_of(longest: int) -> int:
    """A column's width for its longest value (`shown_length`), within bounds."""
    return min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)
