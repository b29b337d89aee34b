"""A changed tab's sheet part rewritten row by row: the rows that did not change are copied from the part as it is.

When 100 of a Tasks tab's 100,000 rows change, writing the whole part again means making every cell storable and
writing its XML (seconds). The state's row digests say which positions changed (`marks`), and the part as syncer
last wrote it holds every other row's XML already; so only the changed rows are written, and the rest is copied.
The result is byte for byte the part `xlsx_parts.table_xml` writes for the whole table, or None when the part is
not as `sheet_xml` writes it or the header changed (the whole part is written then). A column's width is measured
again over the whole table only where it may grow narrower: a changed or removed row was as wide as the column.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from openpyxl.utils import column_index_from_string, get_column_letter

from syncer.sinks.marks import Digest
from syncer.sinks.xlsx_parts import (
    MIN_WIDTH,
    Styles,
    column_formats,
    row_xml,
    sheet_head,
    sheet_tail,
    shown_length,
    width_of,
)
from syncer.tables import Cell, Table

_ROW = re.compile(rb'<row r="')
_WIDTHS = re.compile(r'<col min="\d+" max="\d+" width="(\d+)" customWidth="1"/>')
_CELL = re.compile(r'<c r="([A-Z]+)\d+"([^>]*)>(.*?)</c>', re.S)
_TEXT = re.compile(r"<t[^>]*>(.*?)</t>", re.S)
_VALUE = re.compile(r"<v>(.*?)</v>", re.S)
_REF = re.compile(rb'(<row r="|<c r="[A-Z]+)\d+"')
_SHEET_DATA, _END = b"<sheetData>", b"</sheetData>"


@dataclass(frozen=True, slots=True)
class RowChange:
    """A changed tab: the rows as handed over; for each position whose row the part holds already (at that
    position or another: rows move when one is inserted above them), where; and for every other position, its
    cells made storable."""

    table: Table
    kept: dict[int, int]  # 0-based position -> the position of the same row in the part
    cells: dict[int, list[Cell]]  # 0-based position -> the row made storable


def row_change(table: Table, old: Sequence[Digest], new: Sequence[Digest], made: Mapping[int, list[Cell]],
               storable: Callable[[object], Cell]) -> RowChange:
    """The RowChange from the tab's last written row digests `old` to `new` (`marks.digests_of`): a row is kept
    where it stays, else found by its digest among the rows no other position kept; rows already made storable
    for the digests (`made`) are not made again."""
    kept = {i: i for i in range(min(len(old), len(new))) if old[i][:3] == new[i][:3]}
    spare: dict[tuple, deque[int]] = defaultdict(deque)
    for j in sorted(set(range(len(old))) - set(kept)):
        spare[old[j][:3]].append(j)
    for i in range(len(new)):
        if i not in kept and spare.get(new[i][:3]):
            kept[i] = spare[new[i][:3]].popleft()
    cells = {i: made[i] if i in made else [storable(v) for v in row] for i, row in enumerate(table) if i not in kept}
    return RowChange(table, kept, cells)


def splice_rows(old: bytes, change: RowChange, styles: Styles, storable: Callable[[object], Cell]) -> bytes | None:
    """The part `old` with the changed rows written and the others copied; None where `table_xml` must write it."""
    start, end = old.find(_SHEET_DATA), old.rfind(_END)
    rows = change.table
    if start < 0 or end < start or change.kept.get(0) != 0 or not rows:
        return None
    starts = [m.start() for m in _ROW.finditer(old, start, end)]
    bounds = [*starts, end]  # sheet_xml writes the rows one after another, numbered from 1
    height, width = max(len(starts), 1), len(rows[0])
    widths = [int(w) for w in _WIDTHS.findall(old[:start].decode("utf-8"))]
    if (len(widths) != width or old[: start + len(_SHEET_DATA)] != sheet_head(width, height, widths)
            or old[end:] != sheet_tail(width, height)
            or not all(old.startswith(b'<row r="%d">' % (i + 1), at) for i, at in enumerate(starts))
            or any(j >= len(starts) for j in change.kept.values())):
        return None  # not the part sheet_xml wrote for these columns
    old_rows = [old[bounds[i]:bounds[i + 1]] for i in range(len(starts))]
    widths = _new_widths(old_rows, change, widths, storable)
    formats = column_formats(rows, styles)
    letters = [get_column_letter(c + 1) for c in range(max(width, *map(len, change.cells.values()), 0))]
    formats = [*formats, *[None] * (len(letters) - len(formats))]
    body = [row_xml(i + 1, change.cells[i], letters, formats).encode() if i in change.cells
            else old_rows[i] if change.kept[i] == i else _numbered(old_rows[change.kept[i]], i + 1)
            for i in range(len(rows))]
    new_height = max(len(rows), 1)
    return b"".join([sheet_head(width, new_height, widths), *body, sheet_tail(width, new_height)])


def _new_widths(old_rows: list[bytes], change: RowChange, widths: list[int],
                storable: Callable[[object], Cell]) -> list[int]:
    """The columns' widths after the change, from their widths before it. A column may grow narrower only where
    a changed or removed row was as wide as it (above the minimum) and no changed row is as wide now: only such a
    column is measured again over the whole table."""
    grown = [MIN_WIDTH] * len(widths)  # the widest of the changed rows, by column
    for cells in change.cells.values():
        for c, value in enumerate(cells[: len(grown)]):
            if value is not None:
                grown[c] = max(grown[c], width_of(shown_length(value)))
    again = set()
    for j in sorted(set(range(len(old_rows))) - set(change.kept.values())):  # the rows gone from the part
        again.update(c for c, n in _lengths(old_rows[j].decode("utf-8"))
                     if c < len(widths) and width_of(n) == widths[c] > max(grown[c], MIN_WIDTH))
    out = [max(w, g) for w, g in zip(widths, grown, strict=True)]
    for c in again:
        cells = (storable(row[c]) if c < len(row) else None for row in change.table)
        out[c] = width_of(max((shown_length(v) for v in cells if v is not None), default=0))
    return out


def _numbered(row: bytes, r: int) -> bytes:
    """A `<row>` of the part moved to row `r`: its number and its cells' references renumbered."""
    number = b'%d"' % r
    return _REF.sub(lambda m: m[1] + number, row)


def _lengths(row: str) -> list[tuple[int, int]]:
    """(column, shown length) of each cell of one `<row>` as `row_xml` wrote it."""
    out = []
    for ref, attrs, inner in _CELL.findall(row):
        if 't="inlineStr"' in attrs:
            text = _TEXT.search(inner)
            value: Cell = html.unescape(text[1]) if text else ""
        else:
            found = _VALUE.search(inner)
            raw = found[1] if found else ""
            value = raw == "1" if 't="b"' in attrs else float(raw) if any(x in raw for x in ".eEn") else int(raw)
        out.append((column_index_from_string(ref) - 1, shown_length(value)))
    return out
