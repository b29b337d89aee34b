"""The workbook's Dashboard charts and the readable tabs' colours, with openpyxl (SPEC §6, §13): the same five
charts as in Google Sheets, each drawn from its small table on the Dashboard tab, and red / amber conditional
formatting for `over`, `delayed`, `at risk` and Overloaded."""

from __future__ import annotations

import hashlib

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from syncer.charts import ANCHOR_COLUMN, CHART_HEIGHT_PX, CHART_ROWS, CHART_WIDTH_PX, ChartRange, chart_ranges
from syncer.sinks.xlsx_parts import MONEY_FORMAT as MONEY
from syncer.sinks.xlsx_parts import RATIO_FORMAT as RATIO
from syncer.sinks.xlsx_parts import Styles, column_widths, splice_xml
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, CAPACITY, DASHBOARD, Table

RED = (PatternFill("solid", fgColor="F4C7C3"), Font(color="9C0006"))
AMBER = (PatternFill("solid", fgColor="FCE8B2"), Font(color="7F6000"))
# tab -> column -> (value, colour): the words that need a look, coloured where they appear
FLAGGED_WORDS = {
    CAMPAIGNS: {"Schedule": (("delayed", RED), ("at risk", AMBER)), "Budget flag": (("over", RED), ("at risk", AMBER))},
    BUDGET_ROLLUP: {"Flag": (("over", RED), ("at risk", AMBER))},
}
CM_PER_PX = 2.54 / 96
CHART_COLUMNS = 10  # default-width columns between the two charts of a row (a chart is 600 px wide)
SHARES = ("Budget used", "Intake complete", "Utilization")
LABEL_WIDTH = 40  # the Dashboard's first column: the headline labels
# Part of every decoration_shape: a change to what `decorate` draws must bump it, so that files drawn the old way
# are laid out again instead of keeping the old drawing under new cells.
DECORATION_VERSION = 1


# The tabs openpyxl writes whole (`xlsx.EXTRAS`): the Dashboard for its charts, the others for their colours.
DECORATED = (DASHBOARD, CAMPAIGNS, BUDGET_ROLLUP, CAPACITY)


def decorate(ws: Worksheet, rows: Table) -> None:
    """What plain cells cannot hold: the colour rules of a readable tab, the Dashboard's charts."""
    add_formatting(ws, ws.title, rows)
    add_charts(ws, rows)


def add_formatting(ws: Worksheet, title: str, rows: Table) -> None:
    """Conditional formats: red for `over` / `delayed`, amber for `at risk`, red for Overloaded = TRUE."""
    header = [str(h) for h in rows[0]]
    last = max(len(rows), 2)
    for column, words in FLAGGED_WORDS.get(title, {}).items():
        if column in header:
            letter = get_column_letter(header.index(column) + 1)
            for word, (fill, font) in words:
                ws.conditional_formatting.add(f"{letter}2:{letter}{last}", CellIsRule(
                    operator="equal", formula=[f'"{word}"'], fill=fill, font=font))
    if title == CAPACITY and "Overloaded" in header:
        letter = get_column_letter(header.index("Overloaded") + 1)
        ws.conditional_formatting.add(f"{letter}2:{letter}{last}", FormulaRule(
            formula=[f"{letter}2=TRUE"], fill=RED[0], font=RED[1]))


def decoration_shape(title: str, rows: Table) -> str:
    """What a decorated tab's drawing and colour rules depend on, besides its row count: the header (which columns
    are coloured) and, on the Dashboard, where each chart's table sits. While it stays the same, new cells can go
    under the decoration already in the file (`xlsx_parts.splice_xml`)."""
    shape: list[object] = [DECORATION_VERSION, title, [str(h) for h in rows[0]] if rows else []]
    if title == DASHBOARD:
        shape.append([(r.chart.key, r.header_row, r.last_row, r.cols) for r in chart_ranges(rows)])
    return hashlib.blake2b(repr(shape).encode(), digest_size=12).hexdigest()


def headline_format(row: list) -> str | None:
    """The number format of a Dashboard headline value (column B): a share or money, by what the label says."""
    if len(row) > 1 and isinstance(row[1], float):
        return RATIO if str(row[0]).startswith(SHARES) else MONEY
    return None


def _chart(ws: Worksheet, r: ChartRange) -> BarChart | LineChart:
    first, last = r.header_row + 1, r.last_row + 1  # openpyxl rows are 1-based
    data = Reference(ws, min_col=2, max_col=r.cols, min_row=first, max_row=last)
    categories = Reference(ws, min_col=1, min_row=first + 1, max_row=last)
    if r.chart.kind == "combo":  # columns for all but the last series, a line for the last
        chart: BarChart | LineChart = BarChart()
        chart.add_data(Reference(ws, min_col=2, max_col=r.cols - 1, min_row=first, max_row=last),
                       titles_from_data=True)
        line = LineChart()
        line.add_data(Reference(ws, min_col=r.cols, min_row=first, max_row=last), titles_from_data=True)
        line.set_categories(categories)
        chart.set_categories(categories)
        chart += line
    else:
        chart = BarChart() if r.chart.kind == "column" else LineChart()
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(categories)
    for series in chart.series:
        series.smooth = False
    chart.title = r.chart.title
    chart.width, chart.height = CHART_WIDTH_PX * CM_PER_PX, CHART_HEIGHT_PX * CM_PER_PX
    chart.legend.position = "b"
    return chart


def add_charts(ws: Worksheet, rows: Table) -> None:
    """The Dashboard's five charts, two to a row right of the tables (the layout of `syncer.charts`)."""
    if ws.title != DASHBOARD:
        return
    for r in chart_ranges(rows):
        row, col = divmod(r.index, 2)
        anchor = f"{get_column_letter(ANCHOR_COLUMN + 1 + CHART_COLUMNS * col)}{1 + CHART_ROWS * row}"
        ws.add_chart(_chart(ws, r), anchor)
    ws.column_dimensions["A"].width = LABEL_WIDTH
    for i, row in enumerate(rows[1:], 2):
        if (fmt := headline_format(row)) is not None:
            ws.cell(i, 2).number_format = fmt


def redecorated_xml(title: str, old: bytes, rows: Table, styles: Styles) -> bytes | None:
    """The decorated tab's part `old` with `rows` spliced in under its drawing and colour rules (the tab's
    `decoration_shape` unchanged), formatted as `decorate` formats it; None if `old` cannot take them."""
    widths = column_widths(rows)
    cells: dict[tuple[int, int], int] = {}
    if title == DASHBOARD:
        widths[0] = LABEL_WIDTH
        for i, row in enumerate(rows[1:], 2):
            if (fmt := headline_format(row)) is not None:
                cells[(i, 1)] = styles.ratio if fmt == RATIO else styles.money
    return splice_xml(old, rows, styles, cells, widths)
