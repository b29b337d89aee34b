"""Pure, sink-agnostic diffs between a tab's current rows and the rows a run would write."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal

from syncer.sinks import TabChange
from syncer.tables import Cell

NormRow = tuple[Cell, ...]
Rows = Iterable[Sequence[object]]
_EXACT = 10**15  # integers below this keep every digit through 15 significant digits


def normalise_cell(value: object) -> Cell:
    """The comparable form of a cell value, such that what a sink reads back equals what was written.

    - None and "" are None: neither xlsx nor Google Sheets keeps an empty string apart from an empty cell.
    - bool stays bool (tested before int, since bool is an int subclass).
    - int, float and Decimal are rounded to 15 significant digits (openpyxl writes `%.16g`, Sheets keeps ~15) and
      become int when integral (3.0 reads back as 3); NaN and infinities are None (no sheet can store them).
    - str has its line endings folded to "\\n" (XML parsing turns "\\r\\n" and "\\r" into "\\n").
    - date, datetime and time become ISO text; a midnight datetime is a date (spreadsheets store dates that way).
    - anything else (e.g. openpyxl rich text) is its `str()`.
    """
    kind = type(value)
    if kind is str:  # the most common cell first
        return (value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value) or None
    if value is None or kind is bool:
        return value
    if kind is int and -_EXACT < value < _EXACT:  # type(True) is bool, not int
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        x = float(value)
        if not math.isfinite(x):
            return None
        x = float(f"{x:.15g}")
        return int(x) if x.is_integer() else x
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() and value.tzinfo is None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return text.replace("\r\n", "\n").replace("\r", "\n") or None


def trim_table(rows: Rows) -> list[NormRow]:
    """Rows whose cells are normalised already (by a sink's `storable`) as `normalise_table` gives them: trailing
    blanks and trailing empty rows dropped, no cell normalised twice."""
    out = []
    for row in rows:
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        out.append(tuple(cells))
    while out and not out[-1]:
        out.pop()
    return out


def normalise_row(row: Sequence[object]) -> NormRow:
    """A row's cells normalised, trailing blanks dropped (sheets do not keep them)."""
    cells = [normalise_cell(v) for v in row]
    while cells and cells[-1] is None:
        cells.pop()
    return tuple(cells)


def normalise_table(table: Rows | None) -> list[NormRow]:
    """Every row normalised, trailing empty rows dropped; None (no tab) is an empty table."""
    rows = [normalise_row(r) for r in table or ()]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _key(row: NormRow, key_cols: tuple[int, ...]) -> NormRow:
    return tuple(row[i] if i < len(row) else None for i in key_cols)


def diff_table(old: Rows | None, new: Rows, key_cols: tuple[int, ...]) -> TabChange:
    """Rows added, changed and removed going from `old` to `new` (row 0 of each is the header and not counted).

    Rows are matched by their key columns; a key in both whose values differ is "changed". Keys that repeat
    (e.g. `Total` rows) are matched identical rows first, then pairwise as changed, the rest added or removed, so
    `added - removed == len(new) - len(old)` always holds and row order never counts as a change.
    """
    return _diff(normalise_table(old), normalise_table(new), key_cols)


def count_changes(old: Sequence[tuple], new: Sequence[tuple]) -> TabChange:
    """`diff_table` of tables given as one comparable item per row whose first element stands for its key
    columns, such as `marks.row_digests` (row 0, the header, not counted)."""
    return _diff(list(old), list(new), (0,))


def _diff(old: list[NormRow], new: list[NormRow], key_cols: tuple[int, ...]) -> TabChange:
    """`diff_table` of tables already normalised (by `normalise_table`).

    Rows in both (as a multiset: a row twice in one and once in the other is once in both) cancel out; of the
    rest, a key with rows gone and rows come pairs them as changed, the others are added or removed. Only the
    rows that differ are grouped by key, so an unchanged tab of 100k rows costs two Counters."""
    olds, news = Counter(old[1:]), Counter(new[1:])
    gone, came = olds - news, news - olds
    gone_keys, came_keys = Counter(), Counter()
    for row, n in gone.items():
        gone_keys[_key(row, key_cols)] += n
    for row, n in came.items():
        came_keys[_key(row, key_cols)] += n
    paired = sum(min(n, came_keys[k]) for k, n in gone_keys.items() if k in came_keys)
    return TabChange(added=came.total() - paired, changed=paired, removed=gone.total() - paired)


def changed_rows(old: Rows | None, new: Rows) -> list[int]:
    """Positions (0 = header) where row i of `new` differs from row i of `old`, in order.

    Positions at or past `len(new)` are old rows to clear. Writing `new[i]` (or blanks past its end, padded to the
    old row's width) at each position turns the old tab into the new one: what a sheet sink writes and no more.
    """
    return _changed(normalise_table(old), normalise_table(new))


def _changed(o: list[NormRow], n: list[NormRow]) -> list[int]:
    """`changed_rows` of tables already normalised (by `normalise_table`)."""
    return [i for i in range(max(len(o), len(n))) if (o[i] if i < len(o) else ()) != (n[i] if i < len(n) else ())]


def header_differs(old: Rows | None, new: Rows) -> bool:
    """Whether the header rows (row 0) differ after normalisation; a missing tab has no header."""
    o, n = normalise_table(old), normalise_table(new)
    return (o[0] if o else ()) != (n[0] if n else ())


def row_runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    """Positions as sorted half-open runs `(start, stop)`, one range write each: [1, 2, 3, 7] → (1, 4), (7, 8)."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(positions)):
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


Move = tuple[str, int, int]  # ("delete", start, stop) or ("insert", start, count), in table positions (0 = header)


def row_moves(old: Rows | None, new: Rows, key_cols: tuple[int, ...], limit: int = 50) -> list[Move]:
    """Row deletions and insertions that line the old rows up with the new ones by key, bottom-up.

    A sheet sink applies them as structural edits before writing values, so a task added or removed in the middle
    of a tab shifts the rows below it instead of rewriting them (and notes on a row stay with its row). Each move's
    positions are valid when it runs, since every earlier move was below it. Blocks reaching the end of the old
    table need no move: those rows are simply written or cleared. Gives [] when the moves would not save more row
    writes than there are moves, or number more than `limit` (a reordered table is cheaper to rewrite in place).
    """
    return _moves(normalise_table(old), normalise_table(new), key_cols, limit)


def _moves(o: list[NormRow], n: list[NormRow], key_cols: tuple[int, ...], limit: int = 50) -> list[Move]:
    """`row_moves` of tables already normalised (by `normalise_table`)."""
    old_keys = [_key(r, key_cols) for r in o[1:]]
    new_keys = [_key(r, key_cols) for r in n[1:]]
    if not old_keys or not new_keys or old_keys == new_keys:
        return []
    moves: list[Move] = []
    for i1, i2, j1, j2 in reversed(_gaps(old_keys, new_keys)):
        net = (j2 - j1) - (i2 - i1)
        if i2 == len(old_keys) or not net:
            continue
        moves.append(("delete", 1 + i1 + (j2 - j1), 1 + i2) if net < 0 else ("insert", 1 + i2, net))
    if not moves or len(moves) > limit:
        return []
    saved = len(_changed(o, n)) - len(_changed(_apply(o, moves), n))
    return moves if saved > len(moves) else []


def _gaps(old_keys: list[NormRow], new_keys: list[NormRow]) -> list[tuple[int, int, int, int]]:
    """Blocks `(i1, i2, j1, j2)` of old rows [i1, i2) standing where new rows [j1, j2) go, between the rows kept.

    The kept rows are a longest common subsequence of the keys (repeated keys told apart by occurrence), found as
    a longest increasing run of new positions in O(n log n); the last block always ends at both tables' ends.
    """
    from bisect import bisect_left

    def numbered(keys: list[NormRow]) -> list[tuple[NormRow, int]]:
        seen: Counter = Counter()
        out = []
        for k in keys:
            out.append((k, seen[k]))
            seen[k] += 1
        return out

    where = {k: j for j, k in enumerate(numbered(new_keys))}
    pairs = [(i, where[k]) for i, k in enumerate(numbered(old_keys)) if k in where]
    tails: list[int] = []  # tails[m]: smallest last new position of an increasing run of length m + 1
    ends: list[int] = []  # the index in `pairs` of that run's last pair
    back = [-1] * len(pairs)
    for p, (_, j) in enumerate(pairs):
        m = bisect_left(tails, j)
        back[p] = ends[m - 1] if m else -1
        tails[m:m + 1], ends[m:m + 1] = [j], [p]
    kept, p = [], ends[-1] if ends else -1
    while p >= 0:
        kept.append(pairs[p])
        p = back[p]
    gaps, pi, pj = [], -1, -1
    for i, j in [*reversed(kept), (len(old_keys), len(new_keys))]:
        if i - pi > 1 or j - pj > 1 or (i, j) == (len(old_keys), len(new_keys)):
            gaps.append((pi + 1, i, pj + 1, j))
        pi, pj = i, j
    return gaps


def apply_moves(table: Rows | None, moves: Iterable[Move]) -> list[NormRow]:
    """The normalised table after `moves` (inserted rows are empty), to diff position by position against the new."""
    return _apply(normalise_table(table), moves)


def _apply(table: list[NormRow], moves: Iterable[Move]) -> list[NormRow]:
    """`apply_moves` of a table already normalised (by `normalise_table`); the table itself is left as it was."""
    rows = list(table)
    for kind, a, b in moves:
        if kind == "delete":
            del rows[a:b]
        else:
            rows[a:a] = [()] * b
    return rows
