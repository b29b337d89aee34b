"""The bundled demo synced into a workbook and a warehouse in one run, and both read back independently.

The warehouse is read with plain SQL through the database's own driver (duckdb, psycopg2), not through the sink,
and its typed values are turned back into what a tab shows (dates ISO, times ISO in the zone, money as numbers).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from syncer.cli import main
from syncer.sinks.diff import normalise_row
from syncer.tables import HEADERS, SYNC_LOG

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Europe/Berlin")
Query = Callable[[str], list[tuple]]  # SQL -> rows


def demo_config(tmp: Path, warehouse: dict) -> Path:
    """The demo config writing `tmp/demo.xlsx` and then `warehouse`, its replay pages copied under `tmp`."""
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    for src in cfg["sources"]:
        copy = tmp / "pages" / Path(src["path"]).name
        if not copy.exists():
            shutil.copytree(ROOT / src["path"], copy)
        src["path"] = str(copy)
    cfg["budget"]["file"] = str(ROOT / cfg["budget"]["file"])
    del cfg["sink"]
    cfg["sinks"] = [{"kind": "xlsx", "path": str(tmp / "demo.xlsx")}, warehouse]
    cfg["state"]["path"] = str(tmp / "state.db")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["run", "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def workbook(path: Path) -> dict[str, list[tuple]]:
    wb = load_workbook(path)
    return {ws.title: [normalise_row(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets
            if ws.title != "Dashboard"}  # a page for people, not loaded


def snake(header: str) -> str:
    """How the README says headers become columns (`G/L account` -> gl_account, `Used %` -> used_pct)."""
    out = "".join(c if c.isalnum() else " " for c in header.replace("%", "pct").replace("/", "").lower())
    return "_".join(out.split())


def shown(value: object) -> object:
    """A warehouse value as the tab shows it."""
    if isinstance(value, datetime):
        return value.astimezone(TZ).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def table_rows(query: Query, dataset: str, title: str) -> list[tuple]:
    columns = ", ".join(snake(h) for h in HEADERS[title])
    return [normalise_row([shown(v) for v in row]) for row in query(f"SELECT {columns} FROM {dataset}.{snake(title)}")]


def compare_every_tab(query: Query, dataset: str, xlsx: Path) -> list[str]:
    """Each tab of the workbook against its warehouse table (as multisets of rows); returns the tabs compared."""
    tabs = workbook(xlsx)
    for title, rows in tabs.items():
        assert rows[0] == tuple(HEADERS[title]), title
        got = Counter(table_rows(query, dataset, title))
        want = Counter(rows[1:])
        assert got == want, (title, list((got - want).items())[:3], list((want - got).items())[:3])
    return sorted(tabs)


def load_ids(query: Query, dataset: str, tables: list[str]) -> dict[str, tuple]:
    """Per table: (rows, the loads that wrote them)."""
    out = {}
    for t in tables:
        rows = query(f"SELECT _dlt_load_id, count(*) FROM {dataset}.{t} GROUP BY 1 ORDER BY 1")
        out[t] = (sum(n for _, n in rows), tuple(i for i, _ in rows))
    return out


def rename_task(pages: Path, key: str, title: str) -> None:
    """Change one Jira issue's summary in the saved search pages."""
    for file in (pages / "jira-web").glob("*.json"):
        body = json.loads(file.read_text())
        for issue in body.get("issues", []) if isinstance(body, dict) else []:
            if issue["key"] == key:
                issue["fields"]["summary"] = title
                file.write_text(json.dumps(body))
                return
    raise AssertionError(f"{key} not in the saved pages")


def demo_round_trip(tmp: Path, warehouse: dict, query: Query, dataset: str) -> None:
    """What issue 15 must show, on any destination: the tabs equal, an unchanged run loads nothing, a changed
    task changes one row (its Tasks row and its raw_tasks row)."""
    config = demo_config(tmp, warehouse)
    run(config)
    tabs = compare_every_tab(query, dataset, tmp / "demo.xlsx")
    assert SYNC_LOG in tabs and len(tabs) >= 6
    tables = [snake(t) for t in tabs if t != SYNC_LOG] + ["raw_tasks", "raw_stage_changes", "raw_worklogs"]
    before = load_ids(query, dataset, tables)
    assert before[snake("Tasks")][0] == before["raw_tasks"][0] >= 200
    assert before["raw_worklogs"][0] > before["raw_tasks"][0]  # the demo logs time on most tasks

    out = run(config)
    assert load_ids(query, dataset, tables) == before  # nothing loaded again
    assert "rows written: 0 -> " + warehouse.get("destination", "duckdb") in out
    assert len(query(f"SELECT * FROM {dataset}.sync_log")) == 2  # only the Sync log row

    # a task with no Attention row (that tab shows titles too)
    ok = query(f"SELECT key FROM {dataset}.tasks WHERE source = 'web' AND intake_ok AND key NOT IN "
               f"(SELECT key FROM {dataset}.attention WHERE source = 'web') ORDER BY key LIMIT 1")[0][0]
    rename_task(tmp / "pages", ok, "Renamed for the warehouse test")
    run(config)
    after = load_ids(query, dataset, tables)
    changed = {t: after[t] for t in tables if after[t] != before[t]}
    assert set(changed) == {"tasks", "raw_tasks"}, changed
    for t in changed:  # same row count, and exactly one row from a new load
        newest = after[t][1][-1]
        assert after[t][0] == before[t][0]
        assert query(f"SELECT count(*) FROM {dataset}.{t} WHERE _dlt_load_id = '{newest}'") == [(1,)]
    assert query(f"SELECT title FROM {dataset}.tasks WHERE key = '{ok}'") == [("Renamed for the warehouse test",)]
    compare_every_tab(query, dataset, tmp / "demo.xlsx")
