"""The Dashboard's native charts and the readable tabs' colours as Sheets API requests, planned from what the
run's one metadata read saw: a chart is added once under a stable id, its spec updated only when the ranges it
draws change, and no request ever names a chart or rule syncer did not make.
https://developers.google.com/sheets/api/guides/charts and .../conditional-formatting"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from syncer.charts import ANCHOR_COLUMN, CHART_HEIGHT_PX, CHART_ROWS, CHART_WIDTH_PX, ChartRange, chart_ranges
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, CAPACITY, DASHBOARD, HEADERS, Table

DASHBOARD_COLUMNS = 26  # A..Z: the Dashboard's tables on the left, its charts anchored from column F
KINDS = {"column": "COLUMN", "line": "LINE", "combo": "COMBO"}
RED = ({"red": 0.957, "green": 0.78, "blue": 0.765}, {"red": 0.612, "green": 0.0, "blue": 0.024})
AMBER = ({"red": 0.988, "green": 0.91, "blue": 0.698}, {"red": 0.498, "green": 0.376, "blue": 0.0})
WORDS = {  # tab -> column -> (text, colours)
    CAMPAIGNS: {"Schedule": (("delayed", RED), ("at risk", AMBER)), "Budget flag": (("over", RED), ("at risk", AMBER))},
    BUDGET_ROLLUP: {"Flag": (("over", RED), ("at risk", AMBER))},
}


def chart_id(key: str, taken: set[int]) -> int:
    """A stable id for the chart `key` (an int32, as the API wants), moved past ids other charts already use."""
    cid = zlib.crc32(f"syncer chart {key}".encode()) & 0x7FFFFFFF
    while cid in taken:
        cid = (cid + 1) & 0x7FFFFFFF
    return cid


def _source(r: ChartRange, sheet_id: int, col: int) -> dict[str, Any]:
    grid = {"sheetId": sheet_id, "startRowIndex": r.header_row, "endRowIndex": r.last_row + 1,
            "startColumnIndex": col, "endColumnIndex": col + 1}
    return {"sourceRange": {"sources": [grid]}}


def chart_spec(r: ChartRange, sheet_id: int) -> dict[str, Any]:
    """A basic chart of the table at `r`: column 0 the categories, each further column a series named by its header
    (for `combo`, columns but the last series a line)."""
    last = r.cols - 1
    series = [{"series": _source(r, sheet_id, c), "targetAxis": "LEFT_AXIS",
               **({"type": "LINE" if c == last else "COLUMN"} if r.chart.kind == "combo" else {})}
              for c in range(1, r.cols)]
    return {"title": r.chart.title, "basicChart": {
        "chartType": KINDS[r.chart.kind], "legendPosition": "BOTTOM_LEGEND", "headerCount": 1,
        "domains": [{"domain": _source(r, sheet_id, 0)}], "series": series}}


def position(index: int, sheet_id: int) -> dict[str, Any]:
    """Two charts to a row, right of the tables."""
    row, col = divmod(index, 2)
    anchor = {"sheetId": sheet_id, "rowIndex": CHART_ROWS * row, "columnIndex": ANCHOR_COLUMN}
    return {"overlayPosition": {"anchorCell": anchor, "offsetXPixels": col * (CHART_WIDTH_PX + 20),
                                "widthPixels": CHART_WIDTH_PX, "heightPixels": CHART_HEIGHT_PX}}


def spec_ranges(spec: Mapping[str, Any]) -> list[tuple]:
    """Every grid range a chart spec draws, in order: what decides whether the spec must be updated."""
    basic = spec.get("basicChart") or {}
    parts = [d.get("domain") for d in basic.get("domains") or []] + [s.get("series") for s in basic.get("series") or []]
    return [tuple(sorted(g.items())) for p in parts for g in ((p or {}).get("sourceRange") or {}).get("sources", [])]


def chart_requests(rows: Table, sheet_id: int, mine: Mapping[int, Mapping[str, Any]], taken: set[int]) -> list[dict]:
    """addChart for each chart the Dashboard lacks, updateChartSpec for each whose ranges moved. `mine`: the charts
    on the Dashboard tab by id; `taken`: chart ids used on other tabs (never touched)."""
    out: list[dict] = []
    for r in chart_ranges(rows):
        cid = chart_id(r.chart.key, taken)
        want = chart_spec(r, sheet_id)
        have = mine.get(cid)
        if have is None:
            out.append({"addChart": {"chart": {"chartId": cid, "spec": want, "position": position(r.index, sheet_id)}}})
        elif spec_ranges(have.get("spec") or {}) != spec_ranges(want):
            out.append({"updateChartSpec": {"chartId": cid, "spec": want}})
    return out


def _rule(sheet_id: int, col: int, condition: dict, colours: tuple[dict, dict]) -> dict[str, Any]:
    grid = {"sheetId": sheet_id, "startRowIndex": 1, "startColumnIndex": col, "endColumnIndex": col + 1}
    fmt = {"backgroundColor": colours[0], "textFormat": {"foregroundColor": colours[1]}}
    return {"ranges": [grid], "booleanRule": {"condition": condition, "format": fmt}}


def format_rules(title: str, header: Sequence[Any], sheet_id: int) -> list[dict[str, Any]]:
    """The conditional format rules of a tab: red `over` / `delayed`, amber `at risk`, red Overloaded."""
    names = [str(h) for h in header]
    rules = [_rule(sheet_id, names.index(column), {"type": "TEXT_EQ", "values": [{"userEnteredValue": word}]}, colours)
             for column, words in WORDS.get(title, {}).items() if column in names for word, colours in words]
    if title == CAPACITY and "Overloaded" in names:
        col = names.index("Overloaded")
        letter = chr(ord("A") + col)
        formula = {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": f"={letter}2=TRUE"}]}
        rules.append(_rule(sheet_id, col, formula, RED))
    return rules


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    key = (lambda r: (r.get("ranges"), (r.get("booleanRule") or {}).get("condition")))  # noqa: E731
    return key(a) == key(b)


def format_requests(title: str, header: Sequence[Any], sheet_id: int, existing: Sequence[Mapping]) -> list[dict]:
    """addConditionalFormatRule for each of the tab's rules it does not have yet (so none is ever doubled)."""
    return [{"addConditionalFormatRule": {"rule": rule, "index": 0}}
            for rule in format_rules(title, header, sheet_id) if not any(_same(rule, e) for e in existing)]


def decorations(tabs: Mapping[str, Any], new_ids: Mapping[str, int], tables: Mapping[str, Table],
                titles: Sequence[str]) -> list[dict]:
    """The Dashboard's charts and the readable tabs' colour rules that the sheet lacks or has stale, planned from
    the metadata read (`tabs`: title -> its sheet id, charts and rules), whether or not the tab's values changed."""
    ids = {**new_ids, **{t: tabs[t].sheet_id for t in titles if t in tabs}}
    out: list[dict] = []
    for title in titles:
        tab = tabs.get(title)
        out += format_requests(title, HEADERS[title], ids[title], tab.rules if tab else [])
        if title == DASHBOARD:
            taken = {cid for other, t in tabs.items() if other != DASHBOARD for cid in t.charts}
            out += chart_requests(tables[title], ids[title], tab.charts if tab else {}, taken)
    return out
