"""Rewriting a tab's sheet part row by row gives, byte for byte, the part written whole for the new table: rows
changed, added and removed, the widest row gone (a column narrows), text that needs escaping, numbers and flags."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.sinks.marks import digests_of
from syncer.sinks.xlsx import storable
from syncer.sinks.xlsx_parts import Styles, row_xml, table_xml
from syncer.sinks.xlsx_rows import row_change, splice_rows

STYLES = Styles(header=1, money=2, ratio=3)
HEADER = ["Key", "Title", "Labour cost", "Late", "Used %", "Count"]
CELL = st.one_of(st.none(), st.text(alphabet="ab <&>\"'é\r", max_size=14), st.floats(-1e6, 1e6, allow_nan=False),
                 st.integers(-10**6, 10**6), st.booleans(), st.just(3.0))
ROW = st.lists(CELL, min_size=0, max_size=6)


def whole(table: list[list]) -> bytes:
    return b"".join(table_xml([[storable(v) for v in row] for row in table], STYLES))


def spliced(before: list[list], after: list[list]) -> bytes | None:
    old = digests_of(before, storable, (0,))
    made: dict = {}
    new = digests_of(after, storable, (0,), old, made)
    return splice_rows(whole(before), row_change(after, old, new, made, storable), STYLES, storable)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, min_size=0, max_size=12), st.data())
def test_a_part_rewritten_row_by_row_is_the_part_written_whole(rows, data):
    before = [HEADER, *rows]
    after = [HEADER, *[list(r) for r in rows]]
    for _ in range(data.draw(st.integers(0, 4))):  # change, add or remove rows
        what = data.draw(st.sampled_from(["change", "add", "remove"]))
        if what == "add" or len(after) == 1:
            after.insert(data.draw(st.integers(1, len(after))), data.draw(ROW))
        elif what == "change":
            after[data.draw(st.integers(1, len(after) - 1))] = data.draw(ROW)
        else:
            del after[data.draw(st.integers(1, len(after) - 1))]
    assert spliced(before, after) == whole(after)


def test_the_widest_row_removed_narrows_its_column_and_the_others_are_copied():
    before = [HEADER, ["MKT-1", "a title much longer than any other", 1.5, True], ["MKT-2", "short", 2.0, False]]
    after = [HEADER, ["MKT-2", "short", 2.0, False]]
    out = spliced(before, after)
    assert out == whole(after) and b'width="8"' in out and b"much longer" not in out


def test_a_part_of_another_writer_or_a_new_header_is_written_whole():
    before, after = [HEADER, ["MKT-1", "x"]], [HEADER, ["MKT-1", "y"]]
    old = digests_of(before, storable, (0,))
    new = digests_of(after, storable, (0,), old, {})
    change = row_change(after, old, new, {}, storable)
    part = whole(before)
    assert splice_rows(part.replace(b"<sheetFormatPr", b"<sheetFormatPr x=\"1\""), change, STYLES, storable) is None
    renamed = [["Key", "Name"], ["MKT-1", "x"]]
    assert splice_rows(part, row_change(renamed, old, digests_of(renamed, storable, (0,)), {}, storable), STYLES,
                       storable) is None


class _Shown(str):
    """Text that formats as something else (as a str-mixin Enum member does)."""

    def __format__(self, spec: str) -> str:
        return "formatted"


@given(st.text())
def test_a_text_cell_is_escaped_and_keeps_its_outer_spaces(text):
    """Any text, as the XML of an inline string: &, < and > escaped, outer whitespace marked to be kept."""
    space = ' xml:space="preserve"' if text != text.strip() else ""
    assert row_xml(2, [text], ["A"], [None]) == (
        f'<row r="2"><c r="A2" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c></row>')


def test_text_of_a_str_subclass_is_written_as_its_value():
    assert row_xml(1, [_Shown("plain")], ["A"], [0]) == (
        '<row r="1"><c r="A1" t="inlineStr" s="0"><is><t>plain</t></is></c></row>')
