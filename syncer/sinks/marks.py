"""What a sink last wrote, remembered in the state: an unchanged tab is neither read back nor written again.

A tab's mark is a digest of the table as the run handed it over (equal tables, equal digests: nothing to do) and,
per stored row, a `Digest` of its normalised cells, so a changed tab is diffed against what syncer wrote without
reading it back. The sink's own stamp (a file's mtime and size, a sheet's developer metadata) says whether the tab
can still be as syncer left it; when not, the sink reads its tabs back as before.
"""

from __future__ import annotations

import hashlib
import json
import marshal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncer.tables import Cell, Table

STAMP = ""  # the mark under this name holds the sink's stamp, not a tab
# (its key columns, the row as stored, its width, the row as handed over): enough to diff rows by position
Digest = tuple[bytes, bytes, int, bytes]
_SIZE = 8  # bytes of each digest: a collision among 100k rows has odds of about 1 in 10^9
_UNKNOWN = bytes(_SIZE)  # the row as handed over, of a row read back


def _digest(value: object) -> bytes:
    return hashlib.blake2b(repr(value).encode(), digest_size=_SIZE).digest()


def _as_handed(value: object) -> bytes:
    """The bytes of rows as handed over: marshal's format 2, which writes by value (no references between equal
    objects, unlike formats 3 and up), so equal rows give equal bytes; four times faster than repr. A value it
    cannot write (a date, say) falls back to repr."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:
        return repr(value).encode()


def _raw_digest(row: object) -> bytes:
    return hashlib.blake2b(_as_handed(row), digest_size=_SIZE).digest()


def table_digest(table: Table) -> str:
    """A digest of a table as the run hands it to a sink, before any normalising."""
    return hashlib.blake2b(_as_handed(table), digest_size=16).hexdigest()


def _of_stored(cells: tuple[Cell, ...], key_cols: tuple[int, ...], raw: bytes) -> Digest:
    key = tuple(cells[i] if i < len(cells) else None for i in key_cols)
    return _digest(key), _digest(cells), len(cells), raw


def digests_of(table: Table, storable: Callable[[object], Cell], key_cols: tuple[int, ...],
               known: Sequence[Digest] = (), made: dict[int, list[Cell]] | None = None) -> list[Digest]:
    """Each row's Digest (row 0, the header, too), its cells made `storable` (normalised) once, and kept in `made`
    by position; a row handed over exactly as one of `known` was (the last write's) takes that row's digest without
    being normalised again."""
    seen = {d[3]: d for d in known if d[3] != _UNKNOWN}
    out = []
    for i, row in enumerate(table):
        raw = _raw_digest(row)
        mark = seen.get(raw)
        if mark is None:
            cells = [storable(v) for v in row]
            if made is not None:
                made[i] = list(cells)
            while cells and cells[-1] is None:
                cells.pop()
            mark = _of_stored(tuple(cells), key_cols, raw)
        out.append(mark)
    while out and not out[-1][2]:
        out.pop()
    return out


def row_digests(rows: Sequence[tuple[Cell, ...]], key_cols: tuple[int, ...]) -> list[Digest]:
    """The Digest of each row read back (normalised already)."""
    return [_of_stored(tuple(row), key_cols, _UNKNOWN) for row in rows]


def pack(digests: Sequence[Digest]) -> bytes:
    return b"".join(k + r + min(w, 255).to_bytes(1, "big") + raw for k, r, w, raw in digests)


def unpack(blob: bytes) -> list[Digest]:
    step = 3 * _SIZE + 1
    if len(blob) % step:
        return []  # marks of an earlier layout: as if unknown (the tab then differs, and is written)
    return [(blob[i : i + _SIZE], blob[i + _SIZE : i + 2 * _SIZE], blob[i + 2 * _SIZE],
             blob[i + 2 * _SIZE + 1 : i + step]) for i in range(0, len(blob), step)]


def stored(digests: Sequence[Digest]) -> list[tuple[bytes, bytes, int]]:
    """The digests as the rows are stored (key first), to diff: how a row was handed over does not count."""
    return [d[:3] for d in digests]


@dataclass(frozen=True, slots=True)
class TabMark:
    """What syncer last wrote to one tab."""

    table: str  # table_digest of the table it was written from
    rows: bytes  # pack()ed row digests of what the tab holds


@dataclass(slots=True)
class SinkMarks:
    """A sink's marks: its stamp (and what else it keeps about itself) and one TabMark per tab it wrote."""

    stamp: dict[str, Any] = field(default_factory=dict)
    tabs: dict[str, TabMark] = field(default_factory=dict)

    @classmethod
    def load(cls, stored: Mapping[str, tuple[str, bytes]]) -> SinkMarks | None:
        """From `State.sink_marks`; None when nothing is known."""
        if STAMP not in stored:
            return None
        try:
            stamp = json.loads(stored[STAMP][0])
        except ValueError:
            return None
        tabs = {tab: TabMark(d, rows) for tab, (d, rows) in stored.items() if tab != STAMP}
        return cls(stamp if isinstance(stamp, dict) else {}, tabs)

    def dump(self) -> dict[str, tuple[str, bytes]]:
        """For `State.save_sink_marks`."""
        return {STAMP: (json.dumps(self.stamp, sort_keys=True), b""),
                **{tab: (m.table, m.rows) for tab, m in self.tabs.items()}}

    def unchanged(self, title: str, digest: str) -> bool:
        """Whether the tab was last written from a table with this digest."""
        mark = self.tabs.get(title)
        return mark is not None and mark.table == digest
