"""Benchmark of the warehouse sink: `python bench/warehouse.py --tasks 300000` (demo generator, DuckDB file).

Builds a replay of `--tasks` tasks once (raw Jira and Asana pages from the demo generator, cached under
`.bench/`), then syncs it into a fresh DuckDB file three times: the first load, an unchanged run, and a run after
one task was renamed in the saved pages. Prints wall time and peak memory per run, the rows of every table, the
database's size, and how many cells the same tabs would take in a Google Sheet (whose limit is 10 million).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/jira.py must not shadow `jira`
sys.path.insert(0, str(HERE.parent))

import duckdb  # noqa: E402
import yaml  # noqa: E402

from demo.data import ASANA_FOLDER, BUDGET_FILE, DEMO_SEED, DEMO_WORKLOGS, JIRA_FOLDER, write_demo  # noqa: E402
from syncer.config import parse_config  # noqa: E402
from syncer.pipeline import RunResult, run_sync  # noqa: E402
from syncer.progress import NoProgress  # noqa: E402
from syncer.sinks.warehouse.rows import table_name  # noqa: E402
from syncer.tables import HEADERS  # noqa: E402

SHEETS_CELL_LIMIT = 10_000_000
ROOT = HERE.parent


def replay(tasks: int, worklogs: int) -> Path:
    """The saved pages of `tasks` demo tasks (built once, then reused)."""
    folder = ROOT / ".bench" / f"warehouse-{tasks}-{worklogs}"
    if not (folder / JIRA_FOLDER / "manifest.json").exists():
        t = time.perf_counter()
        shutil.rmtree(folder, ignore_errors=True)
        write_demo(folder, n_tasks=tasks, seed=DEMO_SEED, worklogs_per_task=worklogs)
        print(f"built the replay of {tasks:,} tasks in {time.perf_counter() - t:.1f} s -> {folder}")
    return folder


def config(pages: Path, work: Path):
    """The demo's mapping over the replay, into `work/warehouse.duckdb`."""
    raw = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    raw["sources"][0]["path"] = str(pages / JIRA_FOLDER)
    raw["sources"][1]["path"] = str(pages / ASANA_FOLDER)
    raw["budget"]["file"] = str(pages / BUDGET_FILE)
    raw["sink"] = {"kind": "warehouse", "destination": "duckdb", "credentials": str(work / "warehouse.duckdb")}
    raw["state"]["path"] = str(work / "state.db")
    return parse_config(raw, {})


class Phases(NoProgress):
    """Wall seconds per phase of a run (`fetch web`, `compute`, `plan warehouse`, `write warehouse`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._phase, self._at = "", 0.0

    def start(self, phase: str) -> None:
        self._phase, self._at = phase, time.perf_counter()

    def end(self, **_: int | None) -> None:
        self.seconds[self._phase] = time.perf_counter() - self._at

    def text(self) -> str:
        return ", ".join(f"{name} {s:.1f} s" for name, s in self.seconds.items())


def timed(cfg) -> tuple[RunResult, float, Phases]:
    phases = Phases()
    t = time.perf_counter()
    result = run_sync(cfg, progress=phases)
    return result, time.perf_counter() - t, phases


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rename_one(pages: Path) -> tuple[str, Path, str]:
    """Rename the first Jira issue of the saved search pages; returns its key, the page file and its old text."""
    for file in sorted((pages / JIRA_FOLDER).glob("*.json")):
        text = file.read_text()
        body = json.loads(text)
        if isinstance(body, dict) and body.get("issues"):
            issue = body["issues"][0]
            issue["fields"]["summary"] = f"{issue['fields']['summary']} (renamed)"
            file.write_text(json.dumps(body))
            return issue["key"], file, text
    raise SystemExit("no Jira issue in the replay")


def report(db: Path, first: RunResult) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                        "'marketing_ops' AND table_name NOT LIKE '_dlt%' ORDER BY 1").fetchall()]
        rows = {t: con.sql(f"SELECT count(*) FROM marketing_ops.{t}").fetchall()[0][0] for t in tables}
    cells = sum(len(rows_) * len(HEADERS[title]) for title, rows_ in first.tables.items() if title in HEADERS)
    print("tables:")
    for t in tables:
        print(f"  {t:<22} {rows[t]:>12,} rows")
    print(f"database file: {db.stat().st_size / 1e6:,.1f} MB")
    print(f"the same tabs in a Google Sheet: {cells:,} cells = {cells / SHEETS_CELL_LIMIT:.2f} x the 10M-cell limit "
          f"(Tasks alone {len(first.tables['Tasks']) * len(HEADERS['Tasks']):,})")
    assert rows[table_name("Tasks")] == len(first.tables["Tasks"]) - 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=300_000)
    ap.add_argument("--worklogs", type=int, default=DEMO_WORKLOGS, help="mean worklogs per started task")
    args = ap.parse_args(argv)
    pages = replay(args.tasks, args.worklogs)
    work = ROOT / ".bench" / f"warehouse-run-{args.tasks}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cfg = config(pages, work)
    first, t1, p1 = timed(cfg)
    print(f"first load:  {t1:7.1f} s wall, {first.plan.rows_written:,} rows loaded, peak RSS {peak_mb():,.0f} MB")
    print(f"             {p1.text()}")
    second, t2, p2 = timed(cfg)
    print(f"unchanged:   {t2:7.1f} s wall, {second.plan.rows_written:,} rows loaded (the Sync log row aside)")
    print(f"             {p2.text()}")
    key, file, text = rename_one(pages)
    try:
        third, t3, p3 = timed(cfg)
    finally:
        file.write_text(text)  # the cached replay as it was
    changed = {t: c.rows_written for t, c in third.plan.tabs.items() if c.rows_written}
    print(f"one renamed: {t3:7.1f} s wall, {third.plan.rows_written:,} rows loaded ({key}: {changed})")
    print(f"             {p3.text()}")
    sink = [sum(s for name, s in p.seconds.items() if name.endswith("warehouse")) for p in (p1, p2, p3)]
    print(f"the warehouse's share (plan + write): {sink[0]:.1f} s first, {sink[1]:.1f} s unchanged, {sink[2]:.1f} s "
          f"renamed; the rest of each run is the sync itself (fetch, map, figures, roll-ups)")
    report(work / "warehouse.duckdb", first)
    return 0


if __name__ == "__main__":
    sys.exit(main())
