"""Benchmark of the period close: `python bench/close.py --tasks 100000` (synthetic tasks, seeded, no I/O).

Builds the live Budget rollup once (as a sync does), closes every month up to one before NOW in turn, edits one in
ten tasks' amounts and worklogs afterwards, then times `rollup_with_closes` (the work a run adds once periods are
closed) against the roll-ups it sits on, and checks that the Totals still equal the live ledger's."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/jira.py must not shadow `jira`
sys.path.insert(0, str(HERE.parent))

from syncer.domain.close import CLOSE, CloseRecord, Periods, frozen_rows, rollup_with_closes  # noqa: E402
from syncer.domain.rollups import build_domain  # noqa: E402
from syncer.model import Worklog  # noqa: E402
from syncer.tables import BUDGET_ROLLUP  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_rollups", HERE / "rollups.py")
rollups = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rollups)  # the same synthetic tasks, config and budget as bench/rollups.py


def live_rollup(tasks, cfg, budget):
    """The live Budget rollup and the wall seconds of figures + roll-ups."""
    t = time.perf_counter()
    table = build_domain(tasks, cfg, rollups.NOW, budget).tables[BUDGET_ROLLUP]
    return table, time.perf_counter() - t


def edited(tasks):
    """One task in ten with a corrected invoice and a back-dated worklog (one month before its last one)."""
    out = []
    for i, t in enumerate(tasks):
        if i % 10 == 0 and t.worklogs:
            late = Worklog(t.worklogs[0].author, t.worklogs[0].started_at - timedelta(days=30), 1.5)
            t = replace(t, invoiced_amount=(t.invoiced_amount or 0) + 12.34, worklogs=[*t.worklogs, late])
        out.append(t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--worklogs-per-task", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5, help="time rollup_with_closes N times, report min and max")
    args = ap.parse_args(argv)
    cfg, budget = rollups.make_config(), rollups.make_budget()
    periods = Periods(cfg.budget_period, cfg.fiscal_year_start_month)
    live, _ = live_rollup(rollups.make_tasks(args.tasks, args.worklogs_per_task), cfg, budget)
    months = sorted({r[3] for r in live[1:] if r[3] and r[3] < "2026-06"})
    records: list[CloseRecord] = []
    for month in months:  # closed in order, each on the rollup as shown then
        shown = rollup_with_closes(live, records, periods)
        records.append(CloseRecord(month, CLOSE, "t", "bench", None, frozen_rows(shown, month)))
    later, rollup_s = live_rollup(edited(rollups.make_tasks(args.tasks, args.worklogs_per_task)), cfg, budget)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        shown = rollup_with_closes(later, records, periods)
        times.append(time.perf_counter() - t)
    adjustments = sum(1 for r in shown[1:] if r[13])
    assert [r for r in shown if r[3] is None] == [r for r in later if r[3] is None], "Totals moved"
    print(f"{args.tasks:,} tasks: {len(later) - 1:,} live rollup rows, {len(months)} months closed "
          f"({sum(len(r.rows) for r in records):,} frozen rows), {adjustments:,} adjustment rows after the edits")
    print(f"figures + roll-ups {rollup_s:.2f} s; closes applied in {min(times) * 1000:.1f}-{max(times) * 1000:.1f} ms "
          f"({min(times) / rollup_s:.1%} of the roll-ups); Totals equal the live ledger's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
