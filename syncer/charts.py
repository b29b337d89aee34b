"""The Dashboard's charts (SPEC §13): which small table of the Dashboard tab each one draws, and where those tables
sit in the tab. Shared by the domain (which writes the tables) and the sinks (which draw the native charts)."""

from __future__ import annotations

from dataclasses import dataclass

from syncer.tables import Table


@dataclass(frozen=True, slots=True)
class ChartDef:
    """One chart: a stable key (its chart id derives from it), the title of its table and chart, and its kind:
    `column`, `line`, or `combo` (columns, the last series a line)."""

    key: str
    title: str
    kind: str


CHARTS = (
    ChartDef("budget", "Budget, spent and open commitments by campaign", "column"),
    ChartDef("spend", "Cumulative spend and budget by month, this fiscal year", "line"),
    ChartDef("flow", "Throughput and WIP per week", "combo"),
    ChartDef("cycle", "Cycle time per week (days)", "line"),
    ChartDef("utilization", "Utilization per team per week", "line"),
)
BY_TITLE = {c.title: c for c in CHARTS}
# The charts sit right of the tables, two to a row: the anchor column and each chart's place in that grid.
ANCHOR_COLUMN = 5  # F
CHART_WIDTH_PX, CHART_HEIGHT_PX, CHART_ROWS = 600, 340, 18


@dataclass(frozen=True, slots=True)
class ChartRange:
    """Where a chart's table is in the Dashboard tab (0-based rows, inclusive; the header row holds the series
    names, column 0 the categories)."""

    chart: ChartDef
    header_row: int
    last_row: int
    cols: int

    @property
    def index(self) -> int:
        return CHARTS.index(self.chart)


def chart_ranges(table: Table) -> list[ChartRange]:
    """The chart tables found in Dashboard rows: a title row (one cell, a chart's title), the header row, then data
    rows up to the first empty row. In CHARTS order."""
    found: list[ChartRange] = []
    for i, row in enumerate(table):
        chart = BY_TITLE.get(str(row[0])) if len(row) >= 1 and all(v is None for v in row[1:]) else None
        if chart is None or i + 1 >= len(table):
            continue
        last = i + 1
        while last + 1 < len(table) and any(v is not None for v in table[last + 1]):
            last += 1
        cols = len([v for v in table[i + 1] if v is not None])
        if cols >= 2:  # categories and at least one series (no team has logged yet: no utilization chart yet)
            found.append(ChartRange(chart, i + 1, last, cols))
    return sorted(found, key=lambda r: r.index)
